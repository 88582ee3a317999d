#include "runtime/tls_util.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <memory>

namespace troupe {

namespace {

std::string name_entry(X509_NAME* name, int nid) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0)
    return {};
  auto* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0)
    return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string one_line(X509_NAME* name) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio{BIO_new(BIO_s_mem()), &BIO_free};
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE) < 0)
    return "?";
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

} // namespace

std::string ssl_error_text() {
  std::string msg;
  while (auto err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    msg += (msg.empty() ? "" : "; ") + std::string{buf};
  }
  return msg.empty() ? "no OpenSSL error reported" : msg;
}

std::string verify_against(X509_STORE* store, X509* leaf,
                           STACK_OF(X509)* chain, int purpose) {
  if (leaf == nullptr)
    return "no certificate";
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx{
    X509_STORE_CTX_new(), &X509_STORE_CTX_free};
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, chain) != 1)
    return "cannot set up verification: " + ssl_error_text();
  if (purpose != 0)
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1)
    return {};
  auto code = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return X509_verify_cert_error_string(code);
}

tls_identity identity_of(X509* cert) {
  tls_identity id;
  if (cert == nullptr)
    return id;
  auto* name = X509_get_subject_name(cert);
  id.subject = one_line(name);
  id.common_name = name_entry(name, NID_commonName);
  id.unit = name_entry(name, NID_organizationalUnitName);
  if (id.unit.empty())
    id.unit = name_entry(name, NID_organizationName);
  return id;
}

} // namespace troupe
