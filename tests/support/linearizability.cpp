// The checker is the Wing & Gong search in Lowe's formulation ("Testing
// for linearizability", 2017), with the memoization of Horn & Kroening:
// the call and return events of one key's ok operations sit in a
// time-ordered linked list, and the ops that may be linearized next are
// those whose call precedes the first remaining return. A depth-first
// search places them one at a time (unlinking their events) and backtracks
// when none fits; a cache of the (set of linearized ops, register value)
// configurations already explored keeps it from exploring one twice.
// Three dominance rules, each argued where it is applied, keep the
// branching down: reads the register can answer are placed without
// branching, unknown ops are placed only where they unblock something, and
// of unknown ops with the same effect only one is tried. Before the search,
// a sound quick check looks for reads that no write can explain.
#include "tests/support/linearizability.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace troupe::test::lin {

namespace {

constexpr int64_t infinite_ns = std::numeric_limits<int64_t>::max();
constexpr int32_t absent_id = 0;

// Register values as small integers, so that a configuration is a few
// words. Only values that some op compares against (a get's output, a
// cas's expected value) get an id of their own: no op can tell the others
// apart, so they all share `other_id`, which lets the search see more
// configurations as equal.
constexpr int32_t other_id = 1;

class value_table {
public:
  void mark_observed(const value& v) {
    if (v)
      ids_.try_emplace(*v, static_cast<int32_t>(ids_.size()) + 2);
  }

  int32_t id_of(const value& v) const {
    if (!v)
      return absent_id;
    auto pos = ids_.find(*v);
    return pos == ids_.end() ? other_id : pos->second;
  }

private:
  std::unordered_map<std::string, int32_t> ids_;
};

// One operation of one key, as the search sees it.
struct reg_op {
  size_t source = 0; // index in the caller's history
  op_kind kind = op_kind::get;
  bool unknown = false;
  int32_t input = absent_id;
  int32_t expected = absent_id;
  int32_t output = absent_id;
  bool succeeded = false;
  int64_t invoke_ns = 0;
  int64_t return_ns = 0; // infinite_ns if unknown
  uint32_t bit = 0;      // index among the ok (or among the unknown) ops
  size_t call_entry = 0;
  size_t return_entry = 0; // 0 (the list head) if unknown: there is none
};

// The register after `op`, or nullopt if `op` cannot happen in `state`. An
// unknown operation's result is unconstrained, so only its effect matters.
std::optional<int32_t> apply(const reg_op& op, int32_t state) {
  switch (op.kind) {
  case op_kind::put:
    return op.input;
  case op_kind::get:
    return state == op.output ? std::optional<int32_t>{state} : std::nullopt;
  case op_kind::cas:
    if (op.unknown || op.succeeded)
      return state == op.expected ? std::optional<int32_t>{op.input}
                                  : std::nullopt;
    return state != op.expected ? std::optional<int32_t>{state} : std::nullopt;
  }
  return std::nullopt;
}

// The set of linearized operations, kept so that it packs into few words:
// ok operations are numbered in invoke order and linearized roughly in that
// order, so the set is a run of full words, a few mixed ones, then zeros.
// Unknown operations (usually few) get their own bitset.
class op_set {
public:
  op_set(size_t ok_count, size_t unknown_count) :
    ok_bits_((ok_count + 63) / 64), unknown_bits_((unknown_count + 63) / 64),
    ok_count_(ok_count) {}

  void insert(const reg_op& op) {
    if (op.unknown) {
      unknown_bits_[op.bit / 64] |= uint64_t{1} << (op.bit % 64);
      return;
    }
    size_t w = op.bit / 64;
    ok_bits_[w] |= uint64_t{1} << (op.bit % 64);
    end_word_ = std::max(end_word_, w + 1);
    while (full_words_ < ok_bits_.size() && is_full(full_words_))
      ++full_words_;
  }

  void erase(const reg_op& op) {
    if (op.unknown) {
      unknown_bits_[op.bit / 64] &= ~(uint64_t{1} << (op.bit % 64));
      return;
    }
    size_t w = op.bit / 64;
    ok_bits_[w] &= ~(uint64_t{1} << (op.bit % 64));
    full_words_ = std::min(full_words_, w);
    while (end_word_ > full_words_ && ok_bits_[end_word_ - 1] == 0)
      --end_word_;
  }

  bool contains(const reg_op& op) const {
    auto& bits = op.unknown ? unknown_bits_ : ok_bits_;
    return (bits[op.bit / 64] >> (op.bit % 64)) & 1;
  }

  // The configuration (this set, `state`) as a cache key: a header word,
  // the ok words between the full prefix and the zero suffix, and the
  // unknown words. Equal keys mean equal configurations.
  void pack(int32_t state, std::vector<uint64_t>* out) const {
    out->clear();
    out->push_back(static_cast<uint32_t>(state)
                   | (static_cast<uint64_t>(full_words_) << 32));
    for (size_t w = full_words_; w < end_word_; ++w)
      out->push_back(ok_bits_[w]);
    out->insert(out->end(), unknown_bits_.begin(), unknown_bits_.end());
  }

private:
  bool is_full(size_t w) const {
    size_t valid = std::min<size_t>(64, ok_count_ - w * 64);
    uint64_t mask = valid == 64 ? ~uint64_t{0} : (uint64_t{1} << valid) - 1;
    return ok_bits_[w] == mask;
  }

  std::vector<uint64_t> ok_bits_;
  std::vector<uint64_t> unknown_bits_;
  size_t ok_count_ = 0;
  size_t full_words_ = 0; // ok_bits_[0, full_words_) are all ones
  size_t end_word_ = 0;   // ok_bits_[end_word_, end) are all zeros
};

// An insert-only hash set of packed configurations. The search inserts
// one per step, so the keys live in one flat arena rather than one
// allocation each: about 80 bytes per configuration.
class config_cache {
public:
  /// True if `key` was not in the set (it is now).
  bool insert(const std::vector<uint64_t>& key) {
    if ((count_ + 1) * 2 > slots_.size())
      grow();
    auto h = hash(key);
    auto mask = slots_.size() - 1;
    for (auto s = h & mask;; s = (s + 1) & mask) {
      auto& found = slots_[s];
      if (found.offset == empty) {
        found = {h, store(key)};
        ++count_;
        return true;
      }
      if (found.hash == h && equal(found.offset, key))
        return false;
    }
  }

private:
  struct slot {
    uint64_t hash = 0;
    uint64_t offset = empty; // of the key's length word in arena_
  };
  static constexpr uint64_t empty = ~uint64_t{0};

  static uint64_t hash(const std::vector<uint64_t>& key) {
    uint64_t h = 0x243f6a8885a308d3;
    for (auto w : key) {
      h = (h ^ w) * 0x9e3779b97f4a7c15;
      h ^= h >> 29;
    }
    return h;
  }

  uint64_t store(const std::vector<uint64_t>& key) {
    auto offset = arena_.size();
    arena_.push_back(key.size());
    arena_.insert(arena_.end(), key.begin(), key.end());
    return offset;
  }

  bool equal(uint64_t offset, const std::vector<uint64_t>& key) const {
    return arena_[offset] == key.size()
           && std::equal(key.begin(), key.end(), arena_.begin() + offset + 1);
  }

  void grow() {
    std::vector<slot> old(std::max<size_t>(1024, slots_.size() * 2));
    old.swap(slots_);
    auto mask = slots_.size() - 1;
    for (auto& entry : old) {
      if (entry.offset == empty)
        continue;
      auto s = entry.hash & mask;
      while (slots_[s].offset != empty)
        s = (s + 1) & mask;
      slots_[s] = entry;
    }
  }

  std::vector<slot> slots_;
  std::vector<uint64_t> arena_;
  size_t count_ = 0;
};

enum class key_verdict { ok, not_linearizable, inconclusive };

// Where the search got furthest before it had to turn back: the explanation
// of a failure.
struct dead_end {
  std::vector<size_t> prefix;    // reg_op indices, in linearization order
  std::optional<size_t> blocked; // the first pending op to return
  std::vector<size_t> pending;   // other ops invoked by then, not placed
};

// A read that the register can answer as it stands. Placing it at once
// loses nothing: it changes no state, and every op that returned before it
// was invoked is already placed, so any linearization that places it later
// stays valid with it moved to the front. The search never branches on it.
bool is_free_read(const reg_op& op, int32_t state) {
  if (op.unknown)
    return false;
  if (op.kind == op_kind::get)
    return state == op.output;
  return op.kind == op_kind::cas && !op.succeeded && state != op.expected;
}

// Unknown ops with the same effect are interchangeable once both are
// invoked (neither has a return to respect), so the search tries one.
bool same_effect(const reg_op& a, const reg_op& b) {
  return a.kind == b.kind && a.input == b.input
         && (a.kind != op_kind::cas || a.expected == b.expected);
}

// The search over one key's operations: a depth-first search in which
// every frame is one configuration and the ops that may come next in it.
//
// Ok ops' call and return events sit in a time-ordered linked list with
// linearized ops unlinked (Lowe's formulation): the ops that may come next
// are those whose call precedes the first remaining return. They are tried
// earliest return first, since the op that returns first must be placed
// soonest. Unknown ops have no return event; they may come next once
// invoked, and are tried after the ok ops: placing them lazily is usually
// right, because most never take effect or take effect long after the
// client gave up.
class register_search {
public:
  register_search(std::vector<reg_op> ops, uint64_t max_steps) :
    ops_(std::move(ops)), max_steps_(max_steps), set_(0, 0) {
    build_entries();
  }

  key_verdict run();

  uint64_t steps() const {
    return steps_;
  }
  const std::vector<reg_op>& ops() const {
    return ops_;
  }
  const dead_end& furthest() const {
    return furthest_;
  }

private:
  struct frame {
    std::optional<size_t> placed; // the op placed to get here (not root)
    int32_t state_before = absent_id;
    size_t first_candidate = 0; // candidates_[first_candidate, end_) ...
    size_t end_candidate = 0;
    size_t next_candidate = 0; // ... of which this one is tried next
  };

  void build_entries();
  void open_frame(std::optional<size_t> placed, int32_t state_before);
  void collect_candidates();
  void add_unknown_candidates(int64_t horizon_ns);
  size_t first_return() const;
  bool try_place(size_t i);
  void close_frame();
  void lift(const reg_op& op);
  void unlift(const reg_op& op);
  void note_dead_end();

  std::vector<reg_op> ops_;
  uint64_t max_steps_;
  uint64_t steps_ = 0;
  // Entries 1..2n are ok ops' call and return events; 0 is the list's head
  // and tail_ its end.
  std::vector<size_t> next_, prev_, entry_op_;
  std::vector<int64_t> entry_ns_;
  std::vector<bool> is_return_;
  size_t tail_ = 0;
  std::vector<size_t> unknown_ops_; // in invoke order
  op_set set_;
  int32_t state_ = absent_id;
  size_t remaining_ok_ = 0;
  std::vector<frame> frames_;
  std::vector<size_t> candidates_; // of all open frames, stacked
  std::vector<size_t> blocked_;    // ok ops pending but not placeable now
  std::vector<int32_t> needed_;    // states that would unblock one
  config_cache cache_;
  std::vector<uint64_t> scratch_;
  dead_end furthest_;
  bool noted_ = false;
};

void register_search::build_entries() {
  struct event {
    int64_t time_ns;
    bool is_return;
    size_t op;
  };
  std::vector<event> events;
  size_t ok_count = 0, unknown_count = 0;
  // Number the ops in invoke order (see op_set).
  std::stable_sort(ops_.begin(), ops_.end(),
                   [](auto& a, auto& b) { return a.invoke_ns < b.invoke_ns; });
  for (size_t i = 0; i < ops_.size(); ++i) {
    auto& op = ops_[i];
    op.bit = static_cast<uint32_t>(op.unknown ? unknown_count++ : ok_count++);
    if (op.unknown) {
      unknown_ops_.push_back(i);
      continue;
    }
    events.push_back({op.invoke_ns, false, i});
    events.push_back({op.return_ns, true, i});
  }
  // Calls before returns at equal times: equal stamps count as concurrent.
  std::stable_sort(events.begin(), events.end(), [](auto& a, auto& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns
                                  : a.is_return < b.is_return;
  });
  tail_ = events.size() + 1;
  next_.resize(tail_ + 1);
  prev_.resize(tail_ + 1);
  entry_op_.resize(tail_ + 1);
  entry_ns_.resize(tail_ + 1, infinite_ns);
  is_return_.resize(tail_ + 1);
  for (size_t e = 0; e <= tail_; ++e) {
    next_[e] = e + 1;
    prev_[e] = e == 0 ? 0 : e - 1;
  }
  for (size_t k = 0; k < events.size(); ++k) {
    auto e = k + 1;
    entry_op_[e] = events[k].op;
    entry_ns_[e] = events[k].time_ns;
    is_return_[e] = events[k].is_return;
    auto& op = ops_[events[k].op];
    (events[k].is_return ? op.return_entry : op.call_entry) = e;
  }
  set_ = op_set{ok_count, unknown_count};
  remaining_ok_ = ok_count;
}

key_verdict register_search::run() {
  open_frame(std::nullopt, state_);
  for (;;) {
    if (remaining_ok_ == 0)
      return key_verdict::ok; // pending unknown ops may take effect later
    if (steps_ >= max_steps_)
      return key_verdict::inconclusive;
    ++steps_;
    auto& top = frames_.back();
    if (top.next_candidate < top.end_candidate) {
      try_place(candidates_[top.next_candidate++]);
      continue;
    }
    // Every way on from here was a dead end (or led to configurations
    // already explored).
    note_dead_end();
    if (frames_.size() == 1)
      return key_verdict::not_linearizable;
    close_frame();
  }
}

void register_search::open_frame(std::optional<size_t> placed,
                                 int32_t state_before) {
  frame f;
  f.placed = placed;
  f.state_before = state_before;
  f.first_candidate = f.next_candidate = candidates_.size();
  collect_candidates();
  f.end_candidate = candidates_.size();
  frames_.push_back(f);
}

void register_search::collect_candidates() {
  auto first = candidates_.size();
  blocked_.clear();
  auto e = next_[0];
  for (; e != tail_ && !is_return_[e]; e = next_[e]) {
    auto i = entry_op_[e];
    if (is_free_read(ops_[i], state_)) {
      candidates_.resize(first);
      candidates_.push_back(i);
      return;
    }
    (apply(ops_[i], state_) ? candidates_ : blocked_).push_back(i);
  }
  std::stable_sort(candidates_.begin() + static_cast<ptrdiff_t>(first),
                   candidates_.end(), [this](size_t a, size_t b) {
                     return ops_[a].return_ns < ops_[b].return_ns;
                   });
  add_unknown_candidates(entry_ns_[e]);
}

// Placing an unknown op is tried only where it enables a pending op that
// cannot happen now. That loses no linearization: in any linearization,
// unknown ops can move later (they have no return to respect) until each
// run of them sits right before an ok op; a run before an op that could
// happen without it either changes nothing that op sees (move it after) or
// is overwritten by it (drop it: it never took effect); and in a shortest
// run, each op enables the next.
void register_search::add_unknown_candidates(int64_t horizon_ns) {
  // What a blocked op needs: the register to hold one of `needed_`, or for
  // a cas that must fail, to hold anything else (`any_change`).
  needed_.clear();
  bool any_change = false;
  auto note_need = [&](const reg_op& op) {
    if (op.kind == op_kind::get)
      needed_.push_back(op.output);
    else if (op.kind == op_kind::cas && (op.unknown || op.succeeded))
      needed_.push_back(op.expected);
    else
      any_change = true;
  };
  for (auto i : blocked_)
    note_need(ops_[i]);
  auto pending = [&](size_t u) {
    return ops_[u].invoke_ns <= horizon_ns && !set_.contains(ops_[u]);
  };
  for (auto u : unknown_ops_) {
    if (ops_[u].invoke_ns > horizon_ns)
      break;
    if (pending(u) && ops_[u].kind == op_kind::cas && !apply(ops_[u], state_)
        && ops_[u].input != ops_[u].expected)
      note_need(ops_[u]);
  }
  auto first_unknown = candidates_.size();
  for (auto u : unknown_ops_) {
    auto& op = ops_[u];
    if (op.invoke_ns > horizon_ns)
      break;
    if (!pending(u))
      continue;
    auto after = apply(op, state_);
    if (!after || *after == state_)
      continue;
    if (!any_change
        && std::find(needed_.begin(), needed_.end(), *after) == needed_.end())
      continue;
    auto twin = std::find_if(
        candidates_.begin() + static_cast<ptrdiff_t>(first_unknown),
        candidates_.end(), [&](size_t c) { return same_effect(ops_[c], op); });
    if (twin == candidates_.end())
      candidates_.push_back(u);
  }
}

bool register_search::try_place(size_t i) {
  auto& op = ops_[i];
  auto state_before = state_;
  auto after = apply(op, state_before);
  if (!after)
    return false; // not a candidate: cannot happen
  set_.insert(op);
  set_.pack(*after, &scratch_);
  if (!cache_.insert(scratch_)) {
    set_.erase(op);
    return false;
  }
  state_ = *after;
  lift(op);
  if (!op.unknown)
    --remaining_ok_;
  open_frame(i, state_before);
  return true;
}

void register_search::close_frame() {
  auto f = frames_.back();
  frames_.pop_back();
  candidates_.resize(f.first_candidate);
  auto& op = ops_[*f.placed];
  set_.erase(op);
  state_ = f.state_before;
  unlift(op);
  if (!op.unknown)
    ++remaining_ok_;
}

// Dancing links: unlinked entries keep their own next_/prev_, so relinking
// in the reverse order restores the list exactly.
void register_search::lift(const reg_op& op) {
  if (op.unknown)
    return;
  auto unlink = [this](size_t e) {
    next_[prev_[e]] = next_[e];
    prev_[next_[e]] = prev_[e];
  };
  unlink(op.call_entry);
  unlink(op.return_entry);
}

void register_search::unlift(const reg_op& op) {
  if (op.unknown)
    return;
  auto relink = [this](size_t e) {
    next_[prev_[e]] = e;
    prev_[next_[e]] = e;
  };
  relink(op.return_entry);
  relink(op.call_entry);
}

size_t register_search::first_return() const {
  auto e = next_[0];
  while (e != tail_ && !is_return_[e])
    e = next_[e];
  return e;
}

void register_search::note_dead_end() {
  auto depth = frames_.size() - 1;
  if (noted_ && depth <= furthest_.prefix.size())
    return;
  noted_ = true;
  constexpr size_t max_pending = 8;
  furthest_.prefix.clear();
  for (size_t k = 1; k < frames_.size(); ++k)
    furthest_.prefix.push_back(*frames_[k].placed);
  auto blocking = first_return();
  furthest_.blocked.reset();
  if (blocking != tail_)
    furthest_.blocked = entry_op_[blocking];
  furthest_.pending.clear();
  for (auto e = next_[0]; e != blocking; e = next_[e])
    if (entry_op_[e] != furthest_.blocked
        && furthest_.pending.size() < max_pending)
      furthest_.pending.push_back(entry_op_[e]);
  for (auto u : unknown_ops_)
    if (ops_[u].invoke_ns <= entry_ns_[blocking] && !set_.contains(ops_[u])
        && furthest_.pending.size() < max_pending)
      furthest_.pending.push_back(u);
}

// --- explanations -----------------------------------------------------

// A value as explanations show it: quoted, shortened, or absent.
std::string shown(const value& v) {
  if (!v)
    return "absent";
  constexpr size_t max_chars = 40;
  auto text = v->size() > max_chars ? v->substr(0, max_chars) + "..." : *v;
  return nlohmann::json(text).dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace);
}

std::string relative_ms(int64_t t_ns, int64_t origin_ns) {
  if (t_ns == infinite_ns)
    return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.6fms",
                static_cast<double>(t_ns - origin_ns) / 1e6);
  return buf;
}

class explainer {
public:
  explainer(const history& ops, const register_search& search) :
    history_(ops), search_(search) {
    origin_ns_ = infinite_ns;
    for (auto& op : search.ops())
      origin_ns_ = std::min(origin_ns_, op.invoke_ns);
  }

  std::string line(size_t reg_index) const {
    auto& op = search_.ops()[reg_index];
    return "op[" + std::to_string(op.source) + "] "
           + describe(history_[op.source]) + "  ["
           + relative_ms(op.invoke_ns, origin_ns_) + ", "
           + relative_ms(op.return_ns, origin_ns_) + "]";
  }

  std::string failure(const std::string& key) const;

  // The register after the furthest prefix, in real values (the search's
  // ids conflate values that no op observes).
  value state_after_prefix() const {
    value state = absent;
    for (auto i : search_.furthest().prefix) {
      auto& op = history_[search_.ops()[i].source];
      if (op.kind == op_kind::put
          || (op.kind == op_kind::cas
              && (op.status == op_status::unknown || op.succeeded)))
        state = op.input;
    }
    return state;
  }

private:
  const history& history_;
  const register_search& search_;
  int64_t origin_ns_;
};

std::string explainer::failure(const std::string& key) const {
  constexpr size_t max_prefix_lines = 8;
  auto& end = search_.furthest();
  std::ostringstream out;
  out << "key " << shown(key) << " is not linearizable: ";
  if (end.blocked)
    out << "no linearization can place\n  " << line(*end.blocked) << "\n";
  else
    out << "no order of its operations explains them all\n";
  out << "after the longest linearizable prefix found (" << end.prefix.size()
      << " of " << search_.ops().size()
      << " operations), which leaves the register holding "
      << shown(state_after_prefix()) << ":\n";
  size_t skip = end.prefix.size() > max_prefix_lines
                    ? end.prefix.size() - max_prefix_lines
                    : 0;
  if (skip > 0)
    out << "  ... " << skip << " earlier operations\n";
  for (size_t k = skip; k < end.prefix.size(); ++k)
    out << "  " << line(end.prefix[k]) << "\n";
  if (!end.pending.empty()) {
    out << "operations still pending then (placing them next fails too):\n";
    for (auto i : end.pending)
      out << "  " << line(i) << "\n";
  }
  out << "times are relative to the key's first invoke; op[i] is the i-th "
         "operation of the history";
  return out.str();
}

// --- the per-key driver -----------------------------------------------

std::optional<reg_op> to_reg_op(const history& ops, size_t i,
                                const value_table& values) {
  auto& op = ops[i];
  if (op.status == op_status::fail)
    return std::nullopt; // did not take effect
  if (op.status == op_status::unknown && op.kind == op_kind::get)
    return std::nullopt; // no effect, result unconstrained
  reg_op r;
  r.source = i;
  r.kind = op.kind;
  r.unknown = op.status == op_status::unknown;
  r.input = values.id_of(op.input);
  r.expected = values.id_of(op.expected);
  r.output = values.id_of(op.output);
  r.succeeded = op.succeeded;
  r.invoke_ns = op.invoke_ns;
  r.return_ns = r.unknown ? infinite_ns : op.return_ns;
  return r;
}

// The ops of one key (`indices` into `ops`) that the search must place.
std::vector<reg_op> to_reg_ops(const history& ops,
                               const std::vector<size_t>& indices) {
  value_table values;
  for (auto i : indices) {
    auto& op = ops[i];
    if (op.status == op_status::fail)
      continue;
    if (op.kind == op_kind::cas)
      values.mark_observed(op.expected);
    else if (op.kind == op_kind::get && op.status == op_status::ok)
      values.mark_observed(op.output);
  }
  std::vector<reg_op> result;
  for (auto i : indices)
    if (auto r = to_reg_op(ops, i, values))
      result.push_back(*r);
  return result;
}

// --- a quick check before the search ---------------------------------

// A write that a read might have seen.
struct write_event {
  int64_t invoke_ns = 0;
  int64_t return_ns = 0; // infinite_ns if unknown
  size_t index = 0;      // in the history; npos: the initial absent value
};

// Among the ok writes, the one that returns first after a given time,
// excluding one value: enough to tell whether a write was surely
// overwritten before a read began.
class overwrites {
public:
  void add(const operation& op, size_t index) {
    writes_.push_back({op.invoke_ns, op.return_ns, index});
  }

  void seal(const history& ops) {
    std::sort(writes_.begin(), writes_.end(),
              [](auto& a, auto& b) { return a.invoke_ns < b.invoke_ns; });
    // best_[k]: the first to return among writes_[k..]; second_[k]: the
    // first to return among those writing another value than best_[k].
    best_.assign(writes_.size() + 1, std::nullopt);
    second_.assign(writes_.size() + 1, std::nullopt);
    auto earlier = [&](auto& a, size_t w) {
      return !a || writes_[w].return_ns < writes_[*a].return_ns;
    };
    for (auto k = writes_.size(); k-- > 0;) {
      best_[k] = best_[k + 1];
      second_[k] = second_[k + 1];
      auto& v = ops[writes_[k].index].input;
      if (earlier(best_[k], k)) {
        // If the old best wrote v too, second_ already differs from v.
        if (best_[k] && ops[writes_[*best_[k]].index].input != v)
          second_[k] = best_[k];
        best_[k] = k;
      } else if (ops[writes_[*best_[k]].index].input != v
                 && earlier(second_[k], k)) {
        second_[k] = k;
      }
    }
    ops_ = &ops;
  }

  // An ok write of a value other than `v`, invoked after `after_ns` and
  // returned before `before_ns`, if there is one.
  std::optional<size_t> between(int64_t after_ns, int64_t before_ns,
                                const value& v) const {
    auto k = static_cast<size_t>(
        std::upper_bound(writes_.begin(), writes_.end(), after_ns,
                         [](int64_t t, auto& w) { return t < w.invoke_ns; })
        - writes_.begin());
    for (auto& pick : {best_[k], second_[k]}) {
      if (!pick)
        return std::nullopt;
      auto& w = writes_[*pick];
      if ((*ops_)[w.index].input != v)
        return w.return_ns < before_ns ? std::optional{w.index} : std::nullopt;
    }
    return std::nullopt;
  }

private:
  std::vector<write_event> writes_;
  std::vector<std::optional<size_t>> best_, second_;
  const history* ops_ = nullptr;
};

bool writes(const operation& op) {
  return op.kind == op_kind::put
         || (op.kind == op_kind::cas
             && (op.status == op_status::unknown || op.succeeded));
}

// Why read `g` is impossible, given the writes of the value it saw.
std::string impossible_read(const history& ops, size_t g,
                            const std::vector<write_event>& sources,
                            const overwrites& later) {
  std::string why = "key " + shown(ops[g].key)
                    + " is not linearizable: no write explains the read\n  op["
                    + std::to_string(g) + "] " + describe(ops[g]) + "\nbecause";
  if (sources.empty())
    return why + " no operation writes that value";
  for (auto& w : sources) {
    auto name = w.index == std::string::npos
                    ? std::string{"the initial value"}
                    : "op[" + std::to_string(w.index) + "] ("
                          + describe(ops[w.index]) + ")";
    if (w.invoke_ns > ops[g].return_ns) {
      why += "\n  " + name + " starts after the read returned";
      continue;
    }
    auto by = later.between(w.return_ns, ops[g].invoke_ns, ops[g].output);
    why += "\n  " + name + " was overwritten by op[" + std::to_string(*by)
           + "] (" + describe(ops[*by])
           + "), which began after it and completed before the read began";
  }
  return why;
}

// A sound shortcut for the commonest violation, a stale read: a read of v
// is impossible if every write of v either began after the read returned,
// or was followed by a completed write of another value that itself
// completed before the read began. Linear-ish where the search can take
// long to exhaust every order. Returns the explanation, or empty.
std::string find_impossible_read(const history& ops,
                                 const std::vector<size_t>& indices) {
  std::map<value, std::vector<write_event>> sources;
  sources[absent].push_back({std::numeric_limits<int64_t>::min(),
                             std::numeric_limits<int64_t>::min(),
                             std::string::npos});
  overwrites later;
  for (auto i : indices) {
    auto& op = ops[i];
    if (op.status == op_status::fail || !writes(op))
      continue;
    bool ok = op.status == op_status::ok;
    sources[op.input].push_back(
        {op.invoke_ns, ok ? op.return_ns : infinite_ns, i});
    if (ok)
      later.add(op, i);
  }
  later.seal(ops);
  for (auto g : indices) {
    auto& op = ops[g];
    if (op.kind != op_kind::get || op.status != op_status::ok)
      continue;
    auto found = sources.find(op.output);
    if (found == sources.end())
      return impossible_read(ops, g, {}, later);
    auto possible = [&](const write_event& w) {
      return w.invoke_ns <= op.return_ns
             && !later.between(w.return_ns, op.invoke_ns, op.output);
    };
    if (std::none_of(found->second.begin(), found->second.end(), possible))
      return impossible_read(ops, g, found->second, later);
  }
  return {};
}

std::string check_invalid(const history& ops) {
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].status == op_status::ok && ops[i].return_ns < ops[i].invoke_ns)
      return "op[" + std::to_string(i) + "] (" + describe(ops[i])
             + ") returns before it is invoked";
  return {};
}

} // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

operation operation::put(uint64_t client, std::string key, value written) {
  operation op;
  op.client = client;
  op.kind = op_kind::put;
  op.key = std::move(key);
  op.input = std::move(written);
  op.invoke_ns = now_ns();
  return op;
}

operation operation::del(uint64_t client, std::string key) {
  return put(client, std::move(key), absent);
}

operation operation::get(uint64_t client, std::string key) {
  operation op;
  op.client = client;
  op.kind = op_kind::get;
  op.key = std::move(key);
  op.invoke_ns = now_ns();
  return op;
}

operation operation::cas(uint64_t client, std::string key, value expected,
                         value written) {
  auto op = put(client, std::move(key), std::move(written));
  op.kind = op_kind::cas;
  op.expected = std::move(expected);
  return op;
}

void operation::finish(op_status how) {
  return_ns = now_ns();
  status = how;
}

void recorder::add(operation op) {
  std::lock_guard<std::mutex> guard{mutex_};
  ops_.push_back(std::move(op));
}

history recorder::operations() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return ops_;
}

const char* to_string(verdict v) {
  switch (v) {
  case verdict::ok:
    return "linearizable";
  case verdict::not_linearizable:
    return "not linearizable";
  case verdict::inconclusive:
    return "inconclusive";
  }
  return "?";
}

check_result check(const history& ops, const check_options& opts) {
  check_result result;
  if (auto invalid = check_invalid(ops); !invalid.empty()) {
    result.outcome = verdict::inconclusive;
    result.explanation = "invalid history: " + invalid;
    return result;
  }
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < ops.size(); ++i)
    by_key[ops[i].key].push_back(i);
  std::optional<check_result> inconclusive;
  for (auto& [key, indices] : by_key) {
    ++result.keys_checked;
    if (opts.quick_checks) {
      if (auto why = find_impossible_read(ops, indices); !why.empty()) {
        result.outcome = verdict::not_linearizable;
        result.key = key;
        result.explanation = why;
        return result;
      }
    }
    register_search search{to_reg_ops(ops, indices), opts.max_steps_per_key};
    auto outcome = search.run();
    result.steps += search.steps();
    if (outcome == key_verdict::not_linearizable) {
      result.outcome = verdict::not_linearizable;
      result.key = key;
      result.explanation = explainer{ops, search}.failure(key);
      return result;
    }
    if (outcome == key_verdict::inconclusive && !inconclusive) {
      inconclusive = check_result{};
      inconclusive->key = key;
      inconclusive->explanation
          = "key " + shown(key) + ": gave up after "
            + std::to_string(search.steps())
            + " search steps (max_steps_per_key) without an answer";
    }
  }
  if (inconclusive) {
    result.outcome = verdict::inconclusive;
    result.key = inconclusive->key;
    result.explanation = inconclusive->explanation;
  }
  return result;
}

std::string describe(const operation& op) {
  std::string text = "client " + std::to_string(op.client) + " ";
  bool ok = op.status == op_status::ok;
  switch (op.kind) {
  case op_kind::put:
    text += op.input ? "put " + shown(op.input) : std::string{"delete"};
    break;
  case op_kind::get:
    text += "get -> " + (ok ? shown(op.output) : std::string{"?"});
    break;
  case op_kind::cas:
    text += "cas " + shown(op.expected) + " -> " + shown(op.input) + ": "
            + (!ok            ? "?"
               : op.succeeded ? "swapped"
                              : "not swapped");
    break;
  }
  if (op.status == op_status::unknown)
    text += " (unknown)";
  else if (op.status == op_status::fail)
    text += " (failed)";
  return text;
}

// --- JSON lines -------------------------------------------------------

namespace {

using json = nlohmann::json;

const char* kind_name(op_kind kind) {
  switch (kind) {
  case op_kind::put:
    return "put";
  case op_kind::get:
    return "get";
  case op_kind::cas:
    return "cas";
  }
  return "?";
}

const char* status_name(op_status status) {
  switch (status) {
  case op_status::ok:
    return "ok";
  case op_status::fail:
    return "fail";
  case op_status::unknown:
    return "unknown";
  }
  return "?";
}

nlohmann::ordered_json value_json(const value& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// Field readers: false with a reason in *error if `name` is missing or of
// the wrong type.
bool read_value(const json& j, const char* name, value* out,
                std::string* error) {
  auto pos = j.find(name);
  if (pos == j.end() || !(pos->is_string() || pos->is_null())) {
    *error = std::string{"\""} + name + "\" must be a string or null";
    return false;
  }
  *out = pos->is_null() ? absent : value{pos->get<std::string>()};
  return true;
}

bool read_int(const json& j, const char* name, int64_t* out,
              std::string* error) {
  auto pos = j.find(name);
  if (pos == j.end() || !pos->is_number_integer()
      || (pos->is_number_unsigned()
          && pos->get<uint64_t>() > static_cast<uint64_t>(
                 std::numeric_limits<int64_t>::max()))) {
    *error = std::string{"\""} + name + "\" must be a 64-bit integer";
    return false;
  }
  *out = pos->get<int64_t>();
  return true;
}

bool read_enum(const json& j, const char* name,
               const std::vector<std::string>& names, size_t* out,
               std::string* error) {
  auto pos = j.find(name);
  if (pos != j.end() && pos->is_string()) {
    auto found = std::find(names.begin(), names.end(), pos->get<std::string>());
    if (found != names.end()) {
      *out = static_cast<size_t>(found - names.begin());
      return true;
    }
  }
  *error = std::string{"\""} + name + "\" must be one of";
  for (auto& n : names)
    *error += " \"" + n + "\"";
  return false;
}

bool read_kind_fields(const json& j, operation* op, std::string* error) {
  bool ok = op->status == op_status::ok;
  switch (op->kind) {
  case op_kind::put:
    return read_value(j, "value", &op->input, error);
  case op_kind::get:
    return !ok || read_value(j, "output", &op->output, error);
  case op_kind::cas:
    if (!read_value(j, "expected", &op->expected, error)
        || !read_value(j, "value", &op->input, error))
      return false;
    if (!ok)
      return true;
    if (auto pos = j.find("succeeded"); pos != j.end() && pos->is_boolean()) {
      op->succeeded = pos->get<bool>();
      return true;
    }
    *error = "\"succeeded\" must be true or false";
    return false;
  }
  return false;
}

bool read_operation(const json& j, operation* op, std::string* error) {
  size_t kind = 0, status = 0;
  auto client = j.find("client");
  if (client == j.end() || !client->is_number_unsigned()) {
    *error = "\"client\" must be an unsigned integer";
    return false;
  }
  op->client = client->get<uint64_t>();
  auto key = j.find("key");
  if (key == j.end() || !key->is_string()) {
    *error = "\"key\" must be a string";
    return false;
  }
  op->key = key->get<std::string>();
  if (!read_enum(j, "op", {"put", "get", "cas"}, &kind, error)
      || !read_enum(j, "status", {"ok", "fail", "unknown"}, &status, error)
      || !read_int(j, "invoke_ns", &op->invoke_ns, error))
    return false;
  op->kind = static_cast<op_kind>(kind);
  op->status = static_cast<op_status>(status);
  auto ret = j.find("return_ns");
  bool may_omit_return = op->status == op_status::unknown;
  if (!(may_omit_return && (ret == j.end() || ret->is_null()))
      && !read_int(j, "return_ns", &op->return_ns, error))
    return false;
  return read_kind_fields(j, op, error);
}

} // namespace

std::string to_json_line(const operation& op) {
  nlohmann::ordered_json j;
  j["client"] = op.client;
  j["op"] = kind_name(op.kind);
  j["key"] = op.key;
  switch (op.kind) {
  case op_kind::put:
    j["value"] = value_json(op.input);
    break;
  case op_kind::get:
    if (op.status == op_status::ok)
      j["output"] = value_json(op.output);
    break;
  case op_kind::cas:
    j["expected"] = value_json(op.expected);
    j["value"] = value_json(op.input);
    if (op.status == op_status::ok)
      j["succeeded"] = op.succeeded;
    break;
  }
  j["invoke_ns"] = op.invoke_ns;
  j["return_ns"] = op.return_ns;
  j["status"] = status_name(op.status);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<operation> from_json_line(std::string_view line,
                                        std::string* error) {
  auto j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  operation op;
  if (!read_operation(j, &op, error))
    return std::nullopt;
  return op;
}

void write_history(std::ostream& out, const history& ops) {
  for (auto& op : ops)
    out << to_json_line(op) << '\n';
}

bool read_history(std::istream& in, history* ops, std::string* error) {
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#')
      continue;
    std::string why;
    auto op = from_json_line(line, &why);
    if (!op) {
      *error = "line " + std::to_string(number) + ": " + why;
      return false;
    }
    ops->push_back(std::move(*op));
  }
  if (in.bad()) {
    *error = "read error";
    return false;
  }
  return true;
}

bool write_history_file(const std::string& path, const history& ops,
                        std::string* error) {
  std::ofstream out{path};
  if (!out) {
    *error = "cannot open " + path + " for writing";
    return false;
  }
  write_history(out, ops);
  out.flush();
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
  return true;
}

bool read_history_file(const std::string& path, history* ops,
                       std::string* error) {
  std::ifstream in{path};
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  if (!read_history(in, ops, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

} // namespace troupe::test::lin
