#include "net/envelope.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <memory>
#include <mutex>

// Link every generated schema so the generated pool knows them all, even the
// ones this translation unit never names.
#include "troupe/cluster.pb.h"
#include "troupe/envelope.pb.h"
#include "troupe/kv.pb.h"
#include "troupe/probe.pb.h"
#include "troupe/raft.pb.h"

namespace troupe {

namespace pb = google::protobuf;

caf::expected<envelope> pack_message(const pb::Message& msg) {
  envelope env;
  env.type = msg.GetDescriptor()->full_name();
  if (msg.ByteSizeLong() > max_envelope_bytes)
    return make_error(errc::invalid_argument,
                      env.type + " exceeds the envelope limit of "
                        + std::to_string(max_envelope_bytes) + " bytes");
  if (!msg.SerializeToString(&env.bytes))
    return make_error(errc::bad_message, "cannot serialize " + env.type);
  return env;
}

caf::error unpack_message(const envelope& env, pb::Message& out) {
  const auto& want = out.GetDescriptor()->full_name();
  if (env.type != want)
    return make_error(errc::unexpected_message,
                      "expected " + want + ", got " + env.type);
  if (env.bytes.size() > max_envelope_bytes)
    return make_error(errc::bad_message, env.type + " exceeds the size limit");
  if (!out.ParseFromString(env.bytes))
    return make_error(errc::bad_message, "malformed " + env.type + " bytes");
  return caf::none;
}

namespace {

// One message of every schema file that crosses a process. Naming it links
// the file's generated code (troupe_proto is a static library, so unnamed
// files would be left out) and registers it with the generated pool, so a
// lookup by name finds types this program never instantiated. Add new
// schema files here.
std::vector<const pb::FileDescriptor*> schema_files() {
  return {v1::Empty::descriptor()->file(), v1::Ping::descriptor()->file(),
          v1::MemberInfo::descriptor()->file(),
          v1::RaftMessage::descriptor()->file(),
          v1::KvCommand::descriptor()->file()};
}

void touch_generated_types() {
  static std::once_flag once;
  std::call_once(once, [] { (void) schema_files(); });
}

void collect(const pb::Descriptor* d, std::vector<std::string>& out) {
  out.push_back(d->full_name());
  for (int i = 0; i < d->nested_type_count(); ++i)
    if (!d->nested_type(i)->options().map_entry())
      collect(d->nested_type(i), out);
}

const pb::Descriptor* find_descriptor(const std::string& full_name) {
  touch_generated_types();
  return pb::DescriptorPool::generated_pool()->FindMessageTypeByName(full_name);
}

} // namespace

std::vector<std::string> known_message_types() {
  touch_generated_types();
  std::vector<std::string> result;
  // The generated pool cannot be enumerated directly; walk the files we link.
  for (auto* file : schema_files())
    for (int i = 0; i < file->message_type_count(); ++i)
      collect(file->message_type(i), result);
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

caf::expected<std::string> resolve_type_name(std::string_view name) {
  std::string wanted{name};
  if (find_descriptor(wanted) != nullptr)
    return wanted;
  std::vector<std::string> matches;
  for (auto& full : known_message_types()) {
    auto dot = full.rfind('.');
    auto short_name = dot == std::string::npos ? full : full.substr(dot + 1);
    if (short_name == wanted)
      matches.push_back(full);
  }
  if (matches.size() == 1)
    return matches.front();
  if (matches.empty())
    return make_error(errc::no_such_type,
                      "unknown message type '" + wanted
                        + "' (see `troupectl types` for the known types)");
  std::string list;
  for (auto& m : matches)
    list += (list.empty() ? "" : ", ") + m;
  return make_error(errc::no_such_type, "ambiguous message type '" + wanted
                                          + "': use one of " + list);
}

caf::expected<envelope> envelope_from_json(std::string_view type,
                                           std::string_view json) {
  auto full = resolve_type_name(type);
  if (!full)
    return full.error();
  auto* desc = find_descriptor(*full);
  std::unique_ptr<pb::Message> msg{
    pb::MessageFactory::generated_factory()->GetPrototype(desc)->New()};
  pb::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = pb::util::JsonStringToMessage(
    pb::StringPiece{json.data(), json.size()}, msg.get(), opts);
  if (!status.ok())
    return make_error(errc::bad_message, "invalid JSON for " + *full + ": "
                                           + std::string{status.message()});
  return pack_message(*msg);
}

caf::expected<std::string> envelope_to_json(const envelope& env) {
  auto* desc = find_descriptor(env.type);
  if (desc == nullptr)
    return make_error(errc::no_such_type, "unknown message type " + env.type);
  std::unique_ptr<pb::Message> msg{
    pb::MessageFactory::generated_factory()->GetPrototype(desc)->New()};
  if (auto err = unpack_message(env, *msg))
    return err;
  pb::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  auto status = pb::util::MessageToJsonString(*msg, &out, opts);
  if (!status.ok())
    return make_error(errc::bad_message, std::string{status.message()});
  return out;
}

} // namespace troupe
