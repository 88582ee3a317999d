#include "actors/cache/cluster.hpp"

#include "actors/cache/slot.hpp"

#include "troupe/control.pb.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <set>

namespace troupe::cache {

namespace {

constexpr std::string_view placement_prefix = "cache/";

// "cache/shard-0/primary" -> "shard-0"; "" if not a shard placement.
std::pair<std::string, int64_t> split_address(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos)
    return {addr, 0};
  int64_t port = 0;
  parse_int(std::string_view{addr}.substr(colon + 1), port);
  return {addr.substr(0, colon), port};
}

std::string error_line(std::string_view text) {
  std::string out = "-";
  out.append(text);
  out += "\r\n";
  return out;
}

} // namespace

std::string primary_placement(const std::string& shard) {
  return std::string{placement_prefix} + shard + "/primary";
}

std::string replica_placement(const std::string& shard) {
  return std::string{placement_prefix} + shard + "/replica";
}

std::string shard_of_placement(const std::string& name, std::string_view suffix) {
  if (name.rfind(placement_prefix, 0) != 0 || name.size() <= placement_prefix.size() + suffix.size()
      || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return {};
  return name.substr(placement_prefix.size(),
                     name.size() - placement_prefix.size() - suffix.size());
}

std::string cluster_node_id(std::string_view name) {
  // FNV-1a with three seeds: stable across processes, 160 bits of hex.
  auto fnv = [&](uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char c : name) {
      h ^= c;
      h *= 1099511628211ull;
    }
    return h;
  };
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx%08llx",
                static_cast<unsigned long long>(fnv(1)),
                static_cast<unsigned long long>(fnv(2)),
                static_cast<unsigned long long>(fnv(3) & 0xffffffffull));
  return buf;
}

slot_map build_slot_map(const v1::HeartbeatAck& ack) {
  slot_map m;
  std::map<std::string, const v1::MemberInfo*> members;
  for (auto& rec : ack.members())
    members[rec.info().node_id()] = &rec.info();
  auto member = [&](const std::string& node) {
    shard_member sm;
    sm.node = node;
    if (auto i = members.find(node); i != members.end()) {
      sm.address = i->second->resp_address();
      sm.cluster_address = i->second->cluster_address();
    }
    return sm;
  };
  std::map<std::string, size_t> index;
  for (auto& p : ack.placements()) {
    if (p.spec().type() != primary_type)
      continue;
    auto name = shard_of_placement(p.spec().name(), "/primary");
    if (name.empty())
      continue;
    shard_view sv;
    sv.name = name;
    sv.epoch = p.epoch();
    if (!p.node_id().empty())
      sv.primary = member(p.node_id());
    for (auto& r : p.spec().slots())
      if (r.start() <= r.end() && r.end() < slot_count)
        sv.ranges.emplace_back(static_cast<uint16_t>(r.start()), static_cast<uint16_t>(r.end()));
    m.epoch = std::max(m.epoch, p.epoch());
    index[name] = m.shards.size();
    m.shards.push_back(std::move(sv));
  }
  for (auto& p : ack.placements()) {
    if (p.spec().type() != replica_type || p.node_id().empty())
      continue;
    auto name = shard_of_placement(p.spec().name(), "/replica");
    if (auto i = index.find(name); i != index.end())
      m.shards[i->second].replicas.push_back(member(p.node_id()));
  }
  for (size_t i = 0; i < m.shards.size(); ++i)
    for (auto [lo, hi] : m.shards[i].ranges)
      for (size_t s = lo; s <= hi; ++s)
        if (m.owner[s] < 0) {
          m.owner[s] = static_cast<int16_t>(i);
          ++m.assigned;
        }
  return m;
}

// -- cluster ----------------------------------------------------------------------------

cluster::cluster(cluster_config cfg) : cfg_(std::move(cfg)) {
  auto ec = cfg_.engine;
  ec.repl_backlog_bytes = 0;
  standalone_ = std::make_unique<engine>(ec, nullptr);
  standalone_->cluster_hook = [this](command_ctx& c) { cluster_command(c); };
  standalone_->cluster_enabled = [this] { return current()->map->enabled(); };
  standalone_->served_totals = [this] {
    auto v = current();
    if (!v->map->enabled())
      return standalone_->totals();
    keyspace_totals t;
    for (size_t i = 0; i < v->local.size(); ++i)
      if (auto* e = local_primary(*v, static_cast<int16_t>(i)))
        t += e->totals();
    return t;
  };
  map_ = std::make_shared<const slot_map>();
  refresh();
}

cluster::~cluster() = default;

std::shared_ptr<const cluster::view> cluster::current() const {
  return std::atomic_load(&view_);
}

std::shared_ptr<const slot_map> cluster::map() const {
  return current()->map;
}

void cluster::refresh() {
  // Called with mtx_ held (or from the constructor).
  auto v = std::make_shared<view>();
  v->map = map_;
  v->local.resize(map_->shards.size());
  for (size_t i = 0; i < map_->shards.size(); ++i)
    if (auto it = shards_.find(map_->shards[i].name); it != shards_.end())
      v->local[i] = it->second;
  std::atomic_store(&view_, std::shared_ptr<const view>{std::move(v)});
}

void cluster::set_map(slot_map m) {
  std::lock_guard guard{mtx_};
  map_ = std::make_shared<const slot_map>(std::move(m));
  // A shard this node neither serves nor replicates any longer lets go of
  // its keys: they would only go stale.
  for (auto& [name, local] : shards_) {
    bool member = false;
    for (auto& sv : map_->shards) {
      if (sv.name != name)
        continue;
      member = sv.primary.node == cfg_.node_id;
      for (auto& r : sv.replicas)
        member |= r.node == cfg_.node_id;
    }
    if (!member && !local->primary.load())
      local->eng->clear();
  }
  refresh();
}

std::shared_ptr<engine> cluster::shard_engine(const std::string& shard) {
  std::lock_guard guard{mtx_};
  return slot_of(shard).eng;
}

cluster::local_shard& cluster::slot_of(const std::string& shard) {
  auto& slot = shards_[shard];
  if (!slot) {
    slot = std::make_shared<local_shard>();
    auto ec = cfg_.engine;
    ec.repl_backlog_bytes = cfg_.repl_backlog_bytes;
    slot->eng = std::make_shared<engine>(ec, nullptr);
    slot->eng->cluster_hook = [this](command_ctx& c) { cluster_command(c); };
    refresh();
  }
  return *slot;
}

void cluster::set_primary(const std::string& shard, bool on) {
  std::lock_guard guard{mtx_};
  auto& slot = slot_of(shard);
  if (on && !slot.primary.load())
    slot.eng->backlog()->restart(random_replid());
  slot.eng->set_recording(on);
  slot.primary.store(on);
}

engine* cluster::local_primary(const view& v, int16_t shard) const {
  if (shard < 0 || static_cast<size_t>(shard) >= v.local.size())
    return nullptr;
  auto& local = v.local[static_cast<size_t>(shard)];
  return local && local->primary.load(std::memory_order_acquire) ? local->eng.get() : nullptr;
}

route cluster::execute(std::span<const std::string_view> args, client_state& client,
                       resp::reply_writer& out) {
  auto* def = standalone_->find_command(args[0]);
  auto argc = static_cast<int>(args.size());
  bool arity_ok = def && def->accepts(args.size());
  if (arity_ok && def->name == "wait") {
    route r;
    r.kind = route::wait;
    if (!parse_int(args[1], r.replicas) || !parse_int(args[2], r.timeout_ms)) {
      out.error(err::not_integer);
      return {};
    }
    if (r.timeout_ms < 0) {
      out.error("ERR timeout is negative");
      return {};
    }
    if (client.last_write_forwarded) {
      out.error("ERR WAIT after a write that this node forwarded to the key's primary is "
                "not supported by troupe; send the write to the primary itself (a cluster "
                "client does: CLUSTER SLOTS) and WAIT there");
      return {};
    }
    return r;
  }
  auto v = current();
  if (!v->map->enabled() || !arity_ok) {
    standalone_->execute(def, args, client, out);
    return {};
  }
  if (def->first_key <= 0) {
    run_keyless(*v, def, args, client, out);
    return {};
  }
  // Every key of the command must hash to one slot (Redis Cluster's rule).
  int last = def->last_key < 0 ? argc + def->last_key : def->last_key;
  int slot = -1;
  for (int i = def->first_key; i <= last && i < argc; i += std::max(1, def->step)) {
    int s = key_slot(args[static_cast<size_t>(i)]);
    if (slot >= 0 && s != slot) {
      counters_.crossslot.fetch_add(1, std::memory_order_relaxed);
      out.error("CROSSSLOT Keys in request don't hash to the same slot");
      return {};
    }
    slot = s;
  }
  if (slot < 0) {
    standalone_->execute(def, args, client, out);
    return {};
  }
  auto owner = v->map->owner[static_cast<size_t>(slot)];
  if (auto* eng = local_primary(*v, owner)) {
    eng->execute(def, args, client, out);
    return {};
  }
  if (owner < 0 || v->map->shards[static_cast<size_t>(owner)].primary.node.empty()) {
    counters_.unserved.fetch_add(1, std::memory_order_relaxed);
    out.error("CLUSTERDOWN Hash slot not served");
    return {};
  }
  auto& primary = v->map->shards[static_cast<size_t>(owner)].primary;
  if (primary.node == cfg_.node_id) {
    // Committed here, but the shard's primary actor has not started yet
    // (or was just fenced): a moment's wait fixes it.
    counters_.unserved.fetch_add(1, std::memory_order_relaxed);
    out.error("TRYAGAIN slot " + std::to_string(slot) + " is being taken over by this node");
    return {};
  }
  if (cfg_.proxy) {
    route r;
    r.kind = route::forward;
    r.node = primary.node;
    if (def->write)
      client.last_write_forwarded = true;
    return r;
  }
  counters_.moved.fetch_add(1, std::memory_order_relaxed);
  out.error("MOVED " + std::to_string(slot) + " " + primary.address);
  return {};
}

void cluster::run_keyless(const view& v, const command_def* def,
                          std::span<const std::string_view> args, client_state& client,
                          resp::reply_writer& out) {
  const auto& name = def->name;
  std::vector<engine*> primaries;
  for (size_t i = 0; i < v.local.size(); ++i)
    if (auto* e = local_primary(v, static_cast<int16_t>(i)))
      primaries.push_back(e);
  if (name == "dbsize") {
    uint64_t n = 0;
    for (auto* e : primaries)
      n += e->totals().keys;
    out.integer(static_cast<int64_t>(n));
  } else if (name == "flushall" || name == "flushdb") {
    // Every shard that is primary here, each replicated; one reply.
    std::string sink;
    for (auto* e : primaries) {
      sink.clear();
      resp::reply_writer w{sink, out.protocol()};
      e->execute(def, args, client, w);
      if (!sink.empty() && sink[0] == '-') {
        out.buffer() += sink;
        return;
      }
    }
    if (primaries.empty())
      standalone_->execute(def, args, client, out);
    else
      out.ok();
  } else if (primaries.empty() || (name != "scan" && name != "keys" && name != "randomkey")) {
    standalone_->execute(def, args, client, out);
  } else {
    keyspace_walk(primaries, name, args, client, out);
  }
}

// SCAN, KEYS and RANDOMKEY over every shard that is primary here, in the
// order of the slot map. SCAN's cursor carries the shard's index in its top
// 8 bits and the engine's own cursor (below 2^56) in the rest.
void cluster::keyspace_walk(const std::vector<engine*>& primaries, const std::string& name,
                            std::span<const std::string_view> args, client_state& client,
                            resp::reply_writer& out) {
  constexpr int shift = 56;
  auto run = [&](engine* e, std::span<const std::string_view> a) {
    std::string reply;
    resp::reply_writer w{reply, out.protocol()};
    e->execute(a, client, w);
    return reply;
  };
  // "*N\r\n" at `pos`: N, and moves pos past it.
  auto header = [](const std::string& r, size_t& pos) -> int64_t {
    auto eol = r.find("\r\n", pos);
    int64_t n = -1;
    if (r[pos] != '*' || eol == std::string::npos
        || !parse_int(std::string_view{r}.substr(pos + 1, eol - pos - 1), n))
      return -1;
    pos = eol + 2;
    return n;
  };
  if (name == "randomkey") {
    for (auto* e : primaries) {
      auto r = run(e, args);
      if (r.rfind("$-1", 0) != 0 && r.rfind("_", 0) != 0) {
        out.buffer() += r;
        return;
      }
    }
    out.null();
    return;
  }
  if (name == "keys") {
    int64_t total = 0;
    std::string body;
    for (auto* e : primaries) {
      auto r = run(e, args);
      size_t pos = 0;
      auto n = header(r, pos);
      if (n < 0) {
        out.buffer() += r; // an error reply
        return;
      }
      total += n;
      body.append(r, pos);
    }
    out.array(static_cast<size_t>(total));
    out.buffer() += body;
    return;
  }
  uint64_t cursor = 0;
  if (auto [end, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), cursor);
      ec != std::errc{} || end != args[1].data() + args[1].size()) {
    out.error("ERR invalid cursor");
    return;
  }
  auto index = cursor >> shift;
  if (index >= primaries.size()) {
    out.array(2);
    out.bulk("0");
    out.array(0);
    return;
  }
  std::vector<std::string_view> a{args.begin(), args.end()};
  auto inner = std::to_string(cursor & ((uint64_t{1} << shift) - 1));
  a[1] = inner;
  auto r = run(primaries[index], a);
  // [cursor, [keys...]]: take the engine's cursor, keep the keys.
  size_t pos = 0;
  uint64_t next = 0;
  if (header(r, pos) != 2 || r[pos] != '$') {
    out.buffer() += r; // an error reply (bad option, ...)
    return;
  }
  auto eol = r.find("\r\n", pos);
  auto body_start = eol + 2;
  auto body_end = r.find("\r\n", body_start);
  std::from_chars(r.data() + body_start, r.data() + body_end, next);
  if (next != 0)
    next |= index << shift;
  else if (index + 1 < primaries.size())
    next = (index + 1) << shift;
  out.array(2);
  out.bulk(std::to_string(next));
  out.buffer().append(r, body_end + 2);
}



std::string cluster::execute_forwarded(std::span<const std::string_view> args, int protocol,
                                       std::string& shard, uint64_t& offset) {
  std::string reply;
  resp::reply_writer out{reply, protocol};
  client_state client;
  client.protocol = protocol;
  auto v = current();
  auto* def = standalone_->find_command(args[0]);
  if (!def || def->first_key <= 0 || !v->map->enabled()) {
    standalone_->execute(def, args, client, out);
    return reply;
  }
  auto argc = static_cast<int>(args.size());
  int slot = def->first_key < argc ? key_slot(args[static_cast<size_t>(def->first_key)]) : -1;
  auto owner = slot < 0 ? int16_t{-1} : v->map->owner[static_cast<size_t>(slot)];
  if (auto* eng = local_primary(*v, owner)) {
    // The sender checked CROSSSLOT already; execute() checks it again.
    if (execute(args, client, out).kind != route::done)
      return error_line("TRYAGAIN slot " + std::to_string(slot) + " is changing hands");
    shard = v->map->shards[static_cast<size_t>(owner)].name;
    offset = eng->backlog() ? eng->backlog()->end_offset() : 0;
    return reply;
  }
  const auto* primary = owner < 0 ? nullptr : &v->map->shards[static_cast<size_t>(owner)].primary;
  if (primary && !primary->address.empty() && primary->node != cfg_.node_id) {
    counters_.moved.fetch_add(1, std::memory_order_relaxed);
    return error_line("MOVED " + std::to_string(slot) + " " + primary->address);
  }
  return error_line("TRYAGAIN slot " + std::to_string(slot) + " has no primary here yet");
}

size_t cluster::acked(const client_state& client) const {
  if (!client.last_write || !client.last_write->backlog())
    return 0;
  return client.last_write->backlog()->acked(client.last_write_offset,
                                             client.last_write->now_ms());
}

// -- forwarding -------------------------------------------------------------------------

void cluster::set_transport(transport_fn fn) {
  std::lock_guard guard{calls_mtx_};
  transport_ = std::move(fn);
}

bool cluster::forward_batch(const std::string& node, std::vector<forward_item> items,
                            int protocol) {
  uint64_t first;
  transport_fn send;
  auto n = items.size();
  std::vector<std::vector<std::string>> args;
  args.reserve(n);
  {
    std::lock_guard guard{calls_mtx_};
    if (!transport_ || calls_.size() + n > cfg_.max_forwards) {
      counters_.forward_shed.fetch_add(n, std::memory_order_relaxed);
      return false;
    }
    first = next_call_;
    next_call_ += n;
    auto now = standalone_->now_ms();
    for (size_t i = 0; i < n; ++i) {
      calls_[first + i] = {std::move(items[i].done), now};
      args.push_back(std::move(items[i].args));
    }
    send = transport_;
  }
  counters_.forwarded.fetch_add(n, std::memory_order_relaxed);
  if (!send(first, node, std::move(args), protocol))
    for (size_t i = 0; i < n; ++i)
      complete(first + i, error_line("TRYAGAIN the cache actor of this node is restarting"));
  return true;
}

void cluster::complete(uint64_t id, std::string reply) {
  done_fn done;
  {
    std::lock_guard guard{calls_mtx_};
    auto it = calls_.find(id);
    if (it == calls_.end())
      return;
    done = std::move(it->second.done);
    calls_.erase(it);
  }
  if (!reply.empty() && reply[0] == '-' && reply.rfind("-MOVED", 0) != 0)
    counters_.forward_errors.fetch_add(1, std::memory_order_relaxed);
  done(std::move(reply));
}

void cluster::sweep(int64_t now_ms) {
  std::vector<uint64_t> late;
  {
    std::lock_guard guard{calls_mtx_};
    for (auto& [id, call] : calls_)
      if (now_ms - call.started_ms > cfg_.forward_timeout_ms)
        late.push_back(id);
  }
  for (auto id : late)
    complete(id, error_line("TRYAGAIN the key's primary did not answer within "
                            + std::to_string(cfg_.forward_timeout_ms) + " ms"));
}

// -- upkeep -------------------------------------------------------------------------------

void cluster::active_expire(size_t index, size_t threads) {
  std::vector<std::shared_ptr<engine>> engines;
  {
    std::lock_guard guard{mtx_};
    for (auto& [name, local] : shards_)
      engines.push_back(local->eng);
  }
  for (size_t s = index; s < engine::shard_count; s += threads)
    standalone_->active_expire(s, 1000);
  for (auto& e : engines)
    for (size_t s = index; s < engine::shard_count; s += threads)
      e->active_expire(s, 1000);
}

uint64_t cluster::replication_lag_bytes() const {
  auto v = current();
  uint64_t lag = 0;
  for (size_t i = 0; i < v->local.size(); ++i) {
    auto* e = local_primary(*v, static_cast<int16_t>(i));
    if (!e || !e->backlog())
      continue;
    auto end = e->backlog()->end_offset();
    for (auto& [replica, off] : e->backlog()->replica_offsets())
      lag = std::max(lag, end > off ? end - off : 0);
  }
  return lag;
}

keyspace_totals cluster::totals() {
  auto t = standalone_->totals();
  std::vector<std::shared_ptr<local_shard>> locals;
  {
    std::lock_guard guard{mtx_};
    for (auto& [name, local] : shards_)
      locals.push_back(local);
  }
  // Keys and memory of the shards this node serves or replicates.
  for (auto& l : locals)
    t += l->eng->totals();
  return t;
}

// -- CLUSTER ------------------------------------------------------------------------------

namespace {

void member_entry(resp::reply_writer& out, const shard_member& m, const std::string& shard) {
  auto [host, port] = split_address(m.address);
  out.array(3);
  out.bulk(host);
  out.integer(port);
  out.bulk(cluster_node_id(m.node + "/" + shard));
}

void shard_node(resp::reply_writer& out, const shard_member& m, const std::string& shard,
                bool primary, uint64_t offset, const char* health = "online") {
  auto [host, port] = split_address(m.address);
  out.map(7);
  out.bulk("id");
  out.bulk(cluster_node_id(m.node + "/" + shard));
  out.bulk("port");
  out.integer(port);
  out.bulk("ip");
  out.bulk(host);
  out.bulk("endpoint");
  out.bulk(host);
  out.bulk("role");
  out.bulk(primary ? "master" : "replica");
  out.bulk("replication-offset");
  out.integer(static_cast<int64_t>(offset));
  out.bulk("health");
  out.bulk(health);
}

} // namespace

void cluster::cluster_command(command_ctx& c) {
  auto v = current();
  auto& m = *v->map;
  auto sub = c.arg(1);
  if (iequals(sub, "INFO") && c.argc() == 2) {
    size_t ok = 0;
    std::set<std::string> nodes;
    for (size_t s = 0; s < slot_count; ++s)
      if (m.owner[s] >= 0 && !m.shards[static_cast<size_t>(m.owner[s])].primary.node.empty())
        ++ok;
    for (auto& sh : m.shards) {
      if (!sh.primary.node.empty())
        nodes.insert(sh.primary.node);
      for (auto& r : sh.replicas)
        nodes.insert(r.node);
    }
    auto kv = [](const char* k, uint64_t n) { return std::string{k} + ":" + std::to_string(n) + "\r\n"; };
    std::string text = std::string{"cluster_state:"}
                       + (m.enabled() && ok == slot_count ? "ok" : "fail") + "\r\n"
                       + kv("cluster_slots_assigned", m.assigned) + kv("cluster_slots_ok", ok)
                       + kv("cluster_slots_pfail", 0) + kv("cluster_slots_fail", m.assigned - ok)
                       + kv("cluster_known_nodes", nodes.size())
                       + kv("cluster_size", m.shards.size())
                       + kv("cluster_current_epoch", m.epoch) + kv("cluster_my_epoch", m.epoch)
                       + kv("cluster_stats_messages_sent", 0)
                       + kv("cluster_stats_messages_received", 0);
    c.out.verbatim(text);
  } else if (iequals(sub, "MYID") && c.argc() == 2) {
    c.out.bulk(cluster_node_id(cfg_.node_id));
  } else if (iequals(sub, "SLOTS") && c.argc() == 2) {
    size_t n = 0;
    for (auto& sh : m.shards)
      if (!sh.primary.node.empty())
        n += sh.ranges.size();
    c.out.array(n);
    for (auto& sh : m.shards) {
      if (sh.primary.node.empty())
        continue;
      // Primaries only. A troupe node is primary of some shards and
      // replica of others, and a replica here serves no reads (READONLY is
      // accepted, the command goes to the primary); clients such as
      // redis-py class a node by where it first appears in this reply, so
      // listing replicas would make them think two of three nodes are
      // replicas and send SCAN and FLUSHALL to one node only. CLUSTER
      // SHARDS and NODES list the replicas.
      for (auto [lo, hi] : sh.ranges) {
        c.out.array(3);
        c.out.integer(lo);
        c.out.integer(hi);
        member_entry(c.out, sh.primary, sh.name);
      }
    }
  } else if (iequals(sub, "SHARDS") && c.argc() == 2) {
    c.out.array(m.shards.size());
    for (size_t i = 0; i < m.shards.size(); ++i) {
      auto& sh = m.shards[i];
      c.out.map(2);
      c.out.bulk("slots");
      c.out.array(sh.ranges.size() * 2);
      for (auto [lo, hi] : sh.ranges) {
        c.out.integer(lo);
        c.out.integer(hi);
      }
      c.out.bulk("nodes");
      auto* local = local_primary(*v, static_cast<int16_t>(i));
      uint64_t offset = local && local->backlog() ? local->backlog()->end_offset() : 0;
      c.out.array((sh.primary.node.empty() ? 0 : 1) + sh.replicas.size());
      if (!sh.primary.node.empty())
        shard_node(c.out, sh.primary, sh.name, true, offset);
      // A replica's health is known where its primary runs: "loading"
      // until it streams (a full sync), as Redis reports a replica that
      // loads; other nodes say "online".
      for (auto& r : sh.replicas) {
        bool loading = local && local->backlog()
                       && !local->backlog()->streaming(r.node, local->now_ms());
        uint64_t r_off = 0;
        if (local && local->backlog())
          if (auto offs = local->backlog()->replica_offsets(); offs.count(r.node))
            r_off = offs[r.node];
        shard_node(c.out, r, sh.name, false, r_off, loading ? "loading" : "online");
      }
    }
  } else if (iequals(sub, "NODES") && c.argc() == 2) {
    std::string text;
    auto line = [&](const shard_member& mem, const std::string& shard, bool primary,
                    const std::string& master_id, const std::string& slots) {
      auto [host, port] = split_address(mem.address);
      auto [chost, cport] = split_address(mem.cluster_address);
      (void) chost;
      text += cluster_node_id(mem.node + "/" + shard) + " " + mem.address + "@"
              + std::to_string(cport) + " "
              + (mem.node == cfg_.node_id ? "myself," : "") + (primary ? "master" : "slave")
              + " " + master_id + " 0 0 " + std::to_string(m.epoch) + " connected" + slots
              + "\n";
    };
    for (auto& sh : m.shards) {
      if (sh.primary.node.empty())
        continue;
      std::string slots;
      for (auto [lo, hi] : sh.ranges)
        slots += lo == hi ? " " + std::to_string(lo)
                          : " " + std::to_string(lo) + "-" + std::to_string(hi);
      line(sh.primary, sh.name, true, "-", slots);
      for (auto& r : sh.replicas)
        line(r, sh.name, false, cluster_node_id(sh.primary.node + "/" + sh.name), "");
    }
    c.out.verbatim(text);
  } else if (iequals(sub, "COUNTKEYSINSLOT") && c.argc() == 3) {
    c.out.error("ERR CLUSTER COUNTKEYSINSLOT is not built in troupe yet");
  } else {
    c.out.error("ERR unknown subcommand '" + std::string{sub.substr(0, 128)}
                + "'. Try CLUSTER HELP.");
  }
}

} // namespace troupe::cache
