#include "net/errors.hpp"

#include <caf/deep_to_string.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace troupe {

const char* to_string(errc x) {
  switch (x) {
    case errc::ok: return "ok";
    case errc::no_such_actor: return "no_such_actor";
    case errc::no_such_type: return "no_such_type";
    case errc::bad_message: return "bad_message";
    case errc::mailbox_full: return "mailbox_full";
    case errc::not_hosted_here: return "not_hosted_here";
    case errc::duplicate_node_id: return "duplicate_node_id";
    case errc::unreachable: return "unreachable";
    case errc::shutting_down: return "shutting_down";
    case errc::unexpected_message: return "unexpected_message";
    case errc::invalid_argument: return "invalid_argument";
    case errc::storage_failure: return "storage_failure";
    case errc::escalated: return "escalated";
    case errc::timeout: return "timeout";
    case errc::permission_denied: return "permission_denied";
    case errc::feature_disabled: return "feature_disabled";
  }
  return "unknown_troupe_error";
}

namespace {

std::string context_text(const caf::message& ctx) {
  if (ctx.empty())
    return {};
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return caf::deep_to_string(ctx);
}

} // namespace

std::string describe(const caf::error& err) {
  if (!err)
    return "ok";
  std::string name;
  if (err.category() == error_category)
    name = to_string(static_cast<errc>(err.code()));
  else if (err.category() == caf::atom("system"))
    name = caf::to_string(static_cast<caf::sec>(err.code()));
  else if (err.category() == caf::atom("exit"))
    name = caf::to_string(static_cast<caf::exit_reason>(err.code()));
  else
    name = caf::to_string(err.category()) + ":" + std::to_string(err.code());
  auto ctx = context_text(err.context());
  return ctx.empty() ? name : name + ": " + ctx;
}

std::string message_of(const caf::error& err) {
  auto ctx = context_text(err.context());
  return ctx.empty() ? describe(err) : ctx;
}

} // namespace troupe
