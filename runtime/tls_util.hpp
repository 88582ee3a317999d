// OpenSSL helpers shared by runtime/tls.cpp (startup checks) and
// runtime/auth.cpp (the application-level identity proof). Internal: the
// rest of troupe sees no OpenSSL types.
#pragma once

#include "runtime/tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

namespace troupe {

/// Drains OpenSSL's error queue of this thread into one line ("" if empty).
std::string ssl_error_text();

/// Verifies `leaf` (with the untrusted intermediates `chain`, may be null)
/// against the trusted certificates in `store`, for TLS client or server
/// use, at the current time; `purpose` (e.g. X509_PURPOSE_SSL_CLIENT) also
/// checks the key usages, 0 does not. Returns "" if valid, else OpenSSL's
/// reason ("unable to get local issuer certificate", "certificate has
/// expired").
std::string verify_against(X509_STORE* store, X509* leaf, STACK_OF(X509)* chain,
                           int purpose = 0);

/// The subject of `cert` as one line, its CN and its OU (else its O).
tls_identity identity_of(X509* cert);

} // namespace troupe
