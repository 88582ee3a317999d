#include "runtime/auth.hpp"

#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/tls_util.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>

namespace troupe::auth {

namespace {

constexpr size_t max_cert_pem = 64 * 1024;
constexpr size_t max_signature = 1024;
constexpr std::string_view payload_context = "troupe-auth-v1";

caf::error denied(std::string why) {
  return make_error(errc::permission_denied, std::move(why));
}

using bio_ptr = std::unique_ptr<BIO, int (*)(BIO*)>;
using x509_ptr = std::unique_ptr<X509, void (*)(X509*)>;
using pkey_ptr = std::shared_ptr<EVP_PKEY>;

bio_ptr memory_bio(const std::string& text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free};
}

// Ed25519 and Ed448 sign the message itself; every other key type signs
// its SHA-256 digest.
const EVP_MD* digest_for(EVP_PKEY* key) {
  auto id = EVP_PKEY_get_id(key);
  return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(bytes))
      != 1)
    throw std::runtime_error("RAND_bytes failed: " + ssl_error_text());
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

} // namespace

std::string_view name_of(role r) {
  switch (r) {
    case role::viewer: return "viewer";
    case role::admin: return "admin";
    default: return "node";
  }
}

std::optional<role> role_of_unit(std::string_view unit) {
  for (auto r : {role::viewer, role::admin, role::node})
    if (unit == name_of(r))
      return r;
  return std::nullopt;
}

bool grants(role r, permission p) {
  return p == permission::viewer || r == role::admin || r == role::node;
}

std::string proof_payload(std::string_view node_id, std::string_view nonce) {
  std::string out{payload_context};
  out += '\n';
  out += node_id;
  out += '\n';
  out += nonce;
  return out;
}

// -- signer ------------------------------------------------------------------

struct signer::key {
  pkey_ptr pkey;
};

caf::expected<std::shared_ptr<const signer>> signer::load(const tls_files& files) {
  auto pem = read_whole(files.cert);
  if (!pem)
    return make_error(errc::invalid_argument, "cannot read " + files.cert);
  auto key_text = read_whole(files.key);
  if (!key_text)
    return make_error(errc::invalid_argument, "cannot read " + files.key);
  auto bio = memory_bio(*key_text);
  pkey_ptr pkey{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                &EVP_PKEY_free};
  if (!pkey)
    return make_error(errc::invalid_argument,
                      files.key + ": not an unencrypted PEM key: " + ssl_error_text());
  return std::make_shared<const signer>(std::move(*pem),
                                        std::make_shared<key>(key{pkey}));
}

caf::expected<std::string> signer::sign(const std::string& payload) const {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx{EVP_MD_CTX_new(),
                                                         &EVP_MD_CTX_free};
  auto* pkey = key_->pkey.get();
  size_t len = 0;
  auto* data = reinterpret_cast<const unsigned char*>(payload.data());
  if (!ctx
      || EVP_DigestSignInit(ctx.get(), nullptr, digest_for(pkey), nullptr, pkey) != 1
      || EVP_DigestSign(ctx.get(), nullptr, &len, data, payload.size()) != 1)
    return make_error(errc::invalid_argument, "cannot sign: " + ssl_error_text());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     data, payload.size())
      != 1)
    return make_error(errc::invalid_argument, "cannot sign: " + ssl_error_text());
  sig.resize(len);
  return sig;
}

// -- verifier ----------------------------------------------------------------

struct verifier::store {
  std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> trusted{nullptr, &X509_STORE_free};
  std::mutex mtx; // X509_STORE lookups may cache; keep verification serial
};

caf::expected<std::shared_ptr<const verifier>> verifier::load(const std::string& ca_file) {
  auto s = std::make_shared<store>();
  s->trusted.reset(X509_STORE_new());
  if (!s->trusted || X509_STORE_load_file(s->trusted.get(), ca_file.c_str()) != 1)
    return make_error(errc::invalid_argument,
                      ca_file + ": cannot load CA certificates: " + ssl_error_text());
  return std::make_shared<const verifier>(std::move(s));
}

caf::expected<principal> verifier::verify(const std::string& cert_pem,
                                          const std::string& payload,
                                          const std::string& signature) const {
  if (cert_pem.size() > max_cert_pem || signature.size() > max_signature)
    return denied("proof too large");
  auto bio = memory_bio(cert_pem);
  x509_ptr leaf{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free};
  if (!leaf) {
    ERR_clear_error();
    return denied("the proof holds no PEM certificate");
  }
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain{
    sk_X509_new_null(), [](STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); }};
  for (int i = 0; i < 8; ++i) { // intermediates that follow the leaf
    auto* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (extra == nullptr)
      break;
    sk_X509_push(chain.get(), extra);
  }
  ERR_clear_error();
  auto id = identity_of(leaf.get());
  std::string verdict;
  {
    std::lock_guard guard{store_->mtx};
    verdict = verify_against(store_->trusted.get(), leaf.get(), chain.get(),
                             X509_PURPOSE_SSL_CLIENT);
  }
  if (!verdict.empty())
    return denied("certificate " + id.subject + " is not valid: " + verdict);
  auto* pub = X509_get0_pubkey(leaf.get());
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx{EVP_MD_CTX_new(),
                                                         &EVP_MD_CTX_free};
  if (pub == nullptr || !ctx
      || EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(pub), nullptr, pub) != 1
      || EVP_DigestVerify(ctx.get(),
                          reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(payload.data()),
                          payload.size())
           != 1) {
    ERR_clear_error();
    return denied("the signature does not match certificate " + id.subject);
  }
  auto r = role_of_unit(id.unit);
  if (!r)
    return denied("certificate " + id.subject
                  + " has no troupe role (OU must be viewer, admin or node)");
  return principal{id.common_name, id.subject, *r};
}

// -- sessions ----------------------------------------------------------------

session_table::session_table(std::string self_node_id,
                             std::shared_ptr<const verifier> checker)
  : self_(std::move(self_node_id)), checker_(std::move(checker)) {}

std::string session_table::challenge(const caf::node_id& caller) {
  auto nonce = random_hex(32);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard guard{mtx_};
  for (auto i = pending_.begin(); i != pending_.end();)
    i = i->second.expires < now ? pending_.erase(i) : std::next(i);
  auto key = to_string(caller);
  if (pending_.size() >= max_pending && pending_.count(key) == 0)
    pending_.erase(pending_.begin()); // shed the oldest-keyed, not the caller
  pending_[key] = {nonce, now + nonce_ttl};
  return nonce;
}

caf::expected<principal> session_table::prove(const caf::node_id& caller,
                                              const std::string& cert_pem,
                                              const std::string& signature) {
  if (!checker_)
    return denied("this node runs --insecure and checks no proofs");
  auto key = to_string(caller);
  std::string nonce;
  {
    std::lock_guard guard{mtx_};
    auto i = pending_.find(key);
    if (i == pending_.end() || i->second.expires < std::chrono::steady_clock::now()) {
      ++refused_;
      return denied("no pending challenge for this connection (ask for one first)");
    }
    nonce = std::move(i->second.nonce);
    pending_.erase(i);
  }
  auto who = checker_->verify(cert_pem, proof_payload(self_, nonce), signature);
  std::lock_guard guard{mtx_};
  if (!who) {
    ++refused_;
    return who.error();
  }
  if (sessions_.size() >= max_sessions && sessions_.count(key) == 0) {
    ++refused_;
    return denied("too many sessions on this node");
  }
  sessions_[key] = *who;
  return who;
}

std::optional<principal> session_table::find(const caf::node_id& caller) const {
  std::lock_guard guard{mtx_};
  auto i = sessions_.find(to_string(caller));
  if (i == sessions_.end())
    return std::nullopt;
  return i->second;
}

void session_table::forget(const caf::node_id& caller) {
  std::lock_guard guard{mtx_};
  sessions_.erase(to_string(caller));
}

caf::error session_table::check(const caf::node_id& caller, permission needed,
                                const std::string& what) const {
  if (!checker_)
    return caf::none;
  auto who = find(caller);
  if (who && grants(who->r, needed))
    return caf::none;
  std::lock_guard guard{mtx_};
  ++refused_;
  auto need = std::string{needed == permission::admin ? "admin" : "viewer"};
  if (!who)
    return denied(what + " needs a proven " + need
                  + " certificate; this connection proved none");
  return denied(what + " needs " + need + ", and " + who->subject + " is "
                + std::string{name_of(who->r)});
}

uint64_t session_table::refused() const {
  std::lock_guard guard{mtx_};
  return refused_;
}

} // namespace troupe::auth
