// The protobuf bridge: any message through CAF, and schema evolution.
#include "net/envelope.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/probe.pb.h"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <doctest/doctest.h>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

using namespace troupe;
namespace pb = google::protobuf;

namespace {

// Builds troupe.test.Item in a private pool: `fields` of
// {name=1 string, count=2 int64, color=3 string}, the newer schema adding
// color. Both versions share one full name, as two builds of troupe would.
struct item_schema {
  pb::DescriptorPool pool;
  pb::DynamicMessageFactory factory{&pool};
  const pb::Descriptor* desc = nullptr;

  explicit item_schema(bool with_color) {
    pb::FileDescriptorProto file;
    file.set_name(with_color ? "item_v2.proto" : "item_v1.proto");
    file.set_package("troupe.test");
    file.set_syntax("proto3");
    auto* msg = file.add_message_type();
    msg->set_name("Item");
    add_field(msg, "name", 1, pb::FieldDescriptorProto::TYPE_STRING);
    add_field(msg, "count", 2, pb::FieldDescriptorProto::TYPE_INT64);
    if (with_color)
      add_field(msg, "color", 3, pb::FieldDescriptorProto::TYPE_STRING);
    REQUIRE(pool.BuildFile(file) != nullptr);
    desc = pool.FindMessageTypeByName("troupe.test.Item");
  }

  static void add_field(pb::DescriptorProto* msg, const char* name, int number,
                        pb::FieldDescriptorProto::Type type) {
    auto* f = msg->add_field();
    f->set_name(name);
    f->set_number(number);
    f->set_type(type);
    f->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
  }

  std::unique_ptr<pb::Message> make() {
    return std::unique_ptr<pb::Message>{factory.GetPrototype(desc)->New()};
  }
};

struct caf_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf_fixture() {
    configure_caf(cfg, std::chrono::milliseconds{500}, std::chrono::seconds{5});
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  // Sends the envelope through CAF's wire format, as BASP would.
  envelope through_caf(const envelope& in) {
    caf::binary_serializer::container_type buf;
    caf::binary_serializer sink{*sys, buf};
    auto copy = in;
    REQUIRE(!sink(copy));
    envelope out;
    caf::binary_deserializer source{*sys, buf};
    REQUIRE(!source(out));
    return out;
  }
};

} // namespace

TEST_CASE("envelope: a generated message survives CAF serialization") {
  caf_fixture f;
  v1::Ping ping;
  // proto3 strings must be UTF-8; an embedded NUL must still survive.
  ping.set_payload(std::string("nul\0in \xc3\xa9", 9));
  auto out = f.through_caf(pack(ping));
  CHECK(out.type == "troupe.v1.Ping");
  auto back = unpack<v1::Ping>(out);
  REQUIRE(back);
  CHECK(back->payload() == ping.payload());
  CHECK(holds<v1::Ping>(out));
  CHECK_FALSE(holds<v1::Pong>(out));
}

TEST_CASE("envelope: older and newer schemas read each other") {
  caf_fixture f;
  item_schema v1_schema{false}, v2_schema{true};
  SUBCASE("newer writer, older reader: known fields read, the new one kept") {
    auto newer = v2_schema.make();
    auto* r = newer->GetReflection();
    r->SetString(newer.get(), v2_schema.desc->FindFieldByName("name"), "widget");
    r->SetInt64(newer.get(), v2_schema.desc->FindFieldByName("count"), 42);
    r->SetString(newer.get(), v2_schema.desc->FindFieldByName("color"), "red");
    auto env = f.through_caf(*pack_message(*newer));
    auto older = v1_schema.make();
    REQUIRE_FALSE(unpack_message(env, *older));
    auto* r1 = older->GetReflection();
    CHECK(r1->GetString(*older, v1_schema.desc->FindFieldByName("name")) == "widget");
    CHECK(r1->GetInt64(*older, v1_schema.desc->FindFieldByName("count")) == 42);
    // The old reader passes the message on; the unknown field survives.
    auto forwarded = f.through_caf(*pack_message(*older));
    auto again = v2_schema.make();
    REQUIRE_FALSE(unpack_message(forwarded, *again));
    CHECK(again->GetReflection()->GetString(
            *again, v2_schema.desc->FindFieldByName("color")) == "red");
  }
  SUBCASE("older writer, newer reader: the missing field has its default") {
    auto older = v1_schema.make();
    older->GetReflection()->SetString(
      older.get(), v1_schema.desc->FindFieldByName("name"), "gadget");
    auto env = f.through_caf(*pack_message(*older));
    auto newer = v2_schema.make();
    REQUIRE_FALSE(unpack_message(env, *newer));
    auto* r = newer->GetReflection();
    CHECK(r->GetString(*newer, v2_schema.desc->FindFieldByName("name")) == "gadget");
    CHECK(r->GetString(*newer, v2_schema.desc->FindFieldByName("color")).empty());
  }
}

TEST_CASE("envelope: mismatched or malformed payloads are errors, not crashes") {
  v1::Ping ping;
  ping.set_payload("x");
  auto env = pack(ping);
  auto wrong = unpack<v1::Pong>(env);
  REQUIRE_FALSE(wrong);
  CHECK(is(wrong.error(), errc::unexpected_message));
  env.bytes = "\xff\xff\xff";
  auto bad = unpack<v1::Ping>(env);
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), errc::bad_message));
}

TEST_CASE("envelope: JSON mapping resolves short and full type names") {
  auto env = envelope_from_json("Ping", R"({"payload":"hi"})");
  REQUIRE(env);
  CHECK(env->type == "troupe.v1.Ping");
  auto full = envelope_from_json("troupe.v1.Ping", R"({"payload":"hi"})");
  REQUIRE(full);
  auto json = envelope_to_json(*full);
  REQUIRE(json);
  CHECK(json->find("\"payload\":\"hi\"") != std::string::npos);
  auto unknown = envelope_from_json("Nope", "{}");
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), errc::no_such_type));
  auto malformed = envelope_from_json("Ping", "{\"payload\":");
  REQUIRE_FALSE(malformed);
  CHECK(is(malformed.error(), errc::bad_message));
  auto unknown_field = envelope_from_json("Ping", R"({"nope":1})");
  CHECK_FALSE(unknown_field);
}
