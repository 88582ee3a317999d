// runtime/auth: roles, the proof (sign, verify) and the session table,
// without an actor system. Certificates come from the harness's test CA.
#include "runtime/auth.hpp"

#include "net/errors.hpp"
#include "tests/support/process.hpp"

#include <doctest/doctest.h>

#include <caf/node_id.hpp>

using namespace troupe;
using namespace troupe::auth;

namespace {

caf::node_id some_node(uint32_t pid) {
  auto id = caf::make_node_id(pid, "0102030405060708090a0b0c0d0e0f1011121314");
  REQUIRE(id);
  return *id;
}

std::shared_ptr<const signer> load_signer(const tls_files& files) {
  auto s = signer::load(files);
  REQUIRE_MESSAGE(s, message_of(s.error()));
  return *s;
}

std::shared_ptr<const verifier> load_verifier() {
  auto v = verifier::load(test::test_ca_file());
  REQUIRE_MESSAGE(v, message_of(v.error()));
  return *v;
}

// Runs the whole exchange against `table` as `caller`.
caf::expected<principal> prove_as(session_table& table, const caf::node_id& caller,
                                  const signer& me, const std::string& gateway_id = "n1") {
  auto nonce = table.challenge(caller);
  auto sig = me.sign(proof_payload(gateway_id, nonce));
  REQUIRE(sig);
  return table.prove(caller, me.cert_pem(), *sig);
}

} // namespace

TEST_CASE("auth: roles grant permissions") {
  CHECK(role_of_unit("viewer") == role::viewer);
  CHECK(role_of_unit("admin") == role::admin);
  CHECK(role_of_unit("node") == role::node);
  CHECK_FALSE(role_of_unit("root"));
  CHECK_FALSE(role_of_unit(""));
  CHECK(grants(role::viewer, permission::viewer));
  CHECK_FALSE(grants(role::viewer, permission::admin));
  CHECK(grants(role::admin, permission::admin));
  CHECK(grants(role::node, permission::admin));
}

TEST_CASE("auth: a proof maps the certificate to its role") {
  session_table table{"n1", load_verifier()};
  auto viewer = load_signer(test::test_client_tls("viewer", "viewer"));
  auto admin = load_signer(test::test_client_tls());
  auto a = some_node(1), b = some_node(2), c = some_node(3);
  auto v = prove_as(table, a, *viewer);
  REQUIRE_MESSAGE(v, message_of(v.error()));
  CHECK(v->r == role::viewer);
  CHECK(v->name == "viewer");
  CHECK_FALSE(table.check(a, permission::viewer, "status"));
  auto err = table.check(a, permission::admin, "kill x");
  CHECK(is(err, errc::permission_denied));
  CHECK(message_of(err).find("kill x needs admin") != std::string::npos);
  REQUIRE(prove_as(table, b, *admin));
  CHECK_FALSE(table.check(b, permission::admin, "kill x"));
  CHECK(is(table.check(c, permission::viewer, "status"), errc::permission_denied));
  table.forget(b);
  CHECK(is(table.check(b, permission::admin, "kill x"), errc::permission_denied));
}

TEST_CASE("auth: bad proofs are refused and say why") {
  session_table table{"n1", load_verifier()};
  auto admin = load_signer(test::test_client_tls());
  auto caller = some_node(7);
  SUBCASE("no challenge first") {
    auto sig = admin->sign(proof_payload("n1", "00"));
    auto res = table.prove(caller, admin->cert_pem(), *sig);
    CHECK(is(res.error(), errc::permission_denied));
  }
  SUBCASE("signed for another gateway") {
    auto res = prove_as(table, caller, *admin, "n2");
    REQUIRE_FALSE(res);
    CHECK(message_of(res.error()).find("signature does not match") != std::string::npos);
  }
  SUBCASE("a nonce is good once") {
    auto nonce = table.challenge(caller);
    auto sig = admin->sign(proof_payload("n1", nonce));
    CHECK(table.prove(caller, admin->cert_pem(), *sig));
    CHECK_FALSE(table.prove(caller, admin->cert_pem(), *sig));
  }
  SUBCASE("another caller's nonce") {
    auto nonce = table.challenge(some_node(8));
    auto sig = admin->sign(proof_payload("n1", nonce));
    CHECK_FALSE(table.prove(caller, admin->cert_pem(), *sig));
  }
  SUBCASE("someone else's certificate with our key") {
    auto viewer = load_signer(test::test_client_tls("viewer", "viewer"));
    auto nonce = table.challenge(caller);
    auto sig = viewer->sign(proof_payload("n1", nonce));
    CHECK_FALSE(table.prove(caller, admin->cert_pem(), *sig));
  }
  SUBCASE("a certificate from another CA") {
    auto rogue = load_signer(test::test_rogue_tls("mallory", "admin"));
    auto res = prove_as(table, caller, *rogue);
    REQUIRE_FALSE(res);
    CHECK(message_of(res.error()).find("is not valid") != std::string::npos);
  }
  SUBCASE("garbage") {
    table.challenge(caller);
    CHECK_FALSE(table.prove(caller, "not a certificate", "x"));
  }
  CHECK(is(table.check(caller, permission::viewer, "status"), errc::permission_denied)
        == !table.find(caller).has_value());
}

TEST_CASE("auth: --insecure checks nothing") {
  session_table table{"n1", nullptr};
  CHECK_FALSE(table.enforcing());
  CHECK_FALSE(table.check(some_node(1), permission::admin, "kill x"));
}
