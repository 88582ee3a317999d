// Checking recorded client histories for linearizability.
//
// A test records every client operation on the KV store (who, what, which
// key, when it was invoked, when it returned and how it ended), then asks
// check() whether some sequential order of those operations explains every
// result while respecting real time: an operation that returned before
// another was invoked must come first.
//
//   lin::recorder rec;
//   auto op = lin::operation::get(client_id, "k");  // stamps invoke_ns
//   auto reply = kv_get("k");
//   if (reply.ok)
//     op.output = reply.found ? lin::value{reply.value} : lin::absent;
//   op.finish(reply.ok ? lin::op_status::ok : lin::op_status::unknown);
//   rec.add(std::move(op));
//   ...
//   auto result = lin::check(rec.operations());
//   CHECK_MESSAGE(result.outcome == lin::verdict::ok, result.explanation);
//
// Every key is a register checked on its own (linearizability is
// compositional), by a Wing & Gong search that memoizes (set of linearized
// operations, register value), with a step limit per key. Hitting the limit
// gives verdict::inconclusive, never a pass.
//
// Operation statuses:
// - ok: the client saw the result; it took effect between invoke and return.
// - fail: the operation definitely did not take effect (the server refused
//   it before doing anything, e.g. NOT_LEADER). The checker drops it.
// - unknown: timeout, lost connection, OUTCOME_UNKNOWN. It may or may not
//   have taken effect, at any time after its invoke: the checker treats its
//   return time as +infinity and its result as unconstrained, whatever
//   return_ns and output say.
//
// History files hold JSON lines, one operation per line, in the order they
// were recorded (any order is fine):
//   {"client":1,"op":"put","key":"k","value":"v1",
//    "invoke_ns":100,"return_ns":250,"status":"ok"}
//   {"client":2,"op":"get","key":"k","output":null,
//    "invoke_ns":120,"return_ns":300,"status":"ok"}
//   {"client":3,"op":"cas","key":"k","expected":"v1","value":"v2",
//    "succeeded":true,"invoke_ns":400,"return_ns":500,"status":"ok"}
// "value", "expected" and "output" are strings, or null for "absent" (never
// written, or deleted); a delete is a put of null. "output" (get) and
// "succeeded" (cas) are required when the status is ok and ignored
// otherwise. "return_ns" may be omitted or null for unknown operations.
// Times are nanoseconds on one steady clock shared by all clients. Blank
// lines and lines starting with '#' are skipped.
//
// Equal timestamps count as concurrent (a return at t does not precede an
// invoke at t), so coarse clocks can only hide violations, never invent
// them.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::test::lin {

/// A register value; nullopt is "absent" (never written, or deleted).
using value = std::optional<std::string>;

/// The value of a key that does not exist.
inline const value absent = std::nullopt;

enum class op_kind : uint8_t {
  put, // writes `input` (absent: a delete)
  get, // reads; `output` is what it observed
  cas, // if the register holds `expected`, writes `input`; `succeeded` says
       // whether it did
};

enum class op_status : uint8_t { ok, fail, unknown };

/// Nanoseconds on the steady clock; what the factories below stamp.
int64_t now_ns();

/// One client operation on one key.
struct operation {
  uint64_t client = 0;
  op_kind kind = op_kind::get;
  std::string key;
  value input;            // put: the value written; cas: the new value
  value expected;         // cas: the value compared against
  value output;           // get: the value observed (status ok)
  bool succeeded = false; // cas: whether it swapped (status ok)
  int64_t invoke_ns = 0;
  int64_t return_ns = 0; // ignored for status unknown
  op_status status = op_status::unknown;

  /// Operations invoked now (invoke_ns = now_ns()), status unknown until
  /// finish() is called: an operation the client never heard back from is
  /// unknown.
  static operation put(uint64_t client, std::string key, value written);
  static operation del(uint64_t client, std::string key);
  static operation get(uint64_t client, std::string key);
  static operation cas(uint64_t client, std::string key, value expected,
                       value written);

  /// Stamps return_ns = now_ns() and sets the status. Set `output` (get) or
  /// `succeeded` (cas) before or after, as the reply says.
  void finish(op_status how);
};

using history = std::vector<operation>;

/// Collects operations from several client threads. add() is thread-safe.
class recorder {
public:
  void add(operation op);

  /// A copy of everything added so far, in the order added.
  history operations() const;

private:
  mutable std::mutex mutex_;
  history ops_;
};

struct check_options {
  /// Search steps allowed per key (one step tries one operation, or undoes
  /// one). About 10 M steps a second; each memoized state costs about
  /// 100 bytes, so the default bounds a key at about a second and 1 GB.
  uint64_t max_steps_per_key = 10'000'000;
  /// Before searching a key, look for a read that no write can explain
  /// (every write of its value was overwritten by a write that completed
  /// before the read began). Sound, fast, and it catches stale reads that
  /// the search would need many steps to rule out; off only to test the
  /// search alone.
  bool quick_checks = true;
};

enum class verdict { ok, not_linearizable, inconclusive };

struct check_result {
  verdict outcome = verdict::ok;
  /// The first key (in sorted order) that is not linearizable, or if all
  /// are linearizable or inconclusive, the first inconclusive one.
  std::string key;
  /// Empty for ok. Otherwise says why, naming operations as op[i], their
  /// index in the history passed to check() (the line number minus one in
  /// a file without comments or blank lines).
  std::string explanation;
  uint64_t keys_checked = 0;
  uint64_t steps = 0; // summed over keys
};

/// Checks every key of `ops`. Invalid operations (an ok operation that
/// returned before it was invoked) make the result inconclusive.
check_result check(const history& ops, const check_options& opts = {});

const char* to_string(verdict v);

/// One line of a history file (without the newline).
std::string to_json_line(const operation& op);

/// Parses one line; nullopt with a reason in `*error` if it is not a valid
/// operation.
std::optional<operation> from_json_line(std::string_view line,
                                        std::string* error);

void write_history(std::ostream& out, const history& ops);

/// Reads a whole history; false with "line N: reason" in `*error` on the
/// first bad line.
bool read_history(std::istream& in, history* ops, std::string* error);

/// write_history / read_history on a file; false with a reason in `*error`
/// if the file cannot be opened or written.
bool write_history_file(const std::string& path, const history& ops,
                        std::string* error);
bool read_history_file(const std::string& path, history* ops,
                       std::string* error);

/// A short human-readable form, e.g. `client 2 get -> "v1"`.
std::string describe(const operation& op);

} // namespace troupe::test::lin
