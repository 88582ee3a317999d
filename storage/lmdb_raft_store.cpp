#include "storage/lmdb_raft_store.hpp"

#include "storage/crc32c.hpp"
#include "troupe/raft_store.pb.h"

#include <lmdb.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace troupe::storage {

namespace {

constexpr const char* log_db = "raft_log";
constexpr const char* meta_db = "raft_meta";
constexpr const char* hard_state_key = "hard_state";
constexpr const char* log_start_key = "log_start";
constexpr const char* snapshot_key = "snapshot";

// Value frame: CRC32C (4 bytes, little-endian) of everything after it, then
// the format version, then the protobuf message. The version lets a later
// format be told apart instead of being reported as damage.
constexpr size_t crc_bytes = 4;
constexpr size_t header_bytes = crc_bytes + 1;
constexpr unsigned char format_version = 1;

// Big-endian, so that LMDB's default byte-wise key order is index order and
// MDB_APPEND (and the range scans of truncation) work on it.
struct index_key {
  unsigned char bytes[8];
  explicit index_key(uint64_t index) {
    for (int i = 7; i >= 0; --i, index >>= 8)
      bytes[i] = static_cast<unsigned char>(index & 0xFFu);
  }
  MDB_val val() {
    return MDB_val{sizeof(bytes), bytes};
  }
};

uint64_t decode_index(const MDB_val& key) {
  auto p = static_cast<const unsigned char*>(key.mv_data);
  uint64_t index = 0;
  for (size_t i = 0; i < 8; ++i)
    index = (index << 8) | p[i];
  return index;
}

MDB_val string_val(const char* s) {
  return MDB_val{std::strlen(s), const_cast<char*>(s)};
}

/// Empty on success, else what is wrong with the value.
std::string decode_frame(const MDB_val& v, google::protobuf::MessageLite& msg) {
  auto p = static_cast<const unsigned char*>(v.mv_data);
  if (v.mv_size < header_bytes)
    return "is truncated (" + std::to_string(v.mv_size) + " bytes)";
  uint32_t stored = 0;
  for (size_t i = 0; i < crc_bytes; ++i)
    stored |= uint32_t{p[i]} << (8 * i);
  if (crc32c(p + crc_bytes, v.mv_size - crc_bytes) != stored)
    return "fails its checksum";
  if (p[crc_bytes] != format_version)
    return "has unknown format version " + std::to_string(p[crc_bytes]);
  auto body = static_cast<int>(v.mv_size - header_bytes);
  if (!msg.ParseFromArray(p + header_bytes, body))
    return "cannot be decoded";
  return {};
}

// Serializes straight into the page LMDB reserves (MDB_RESERVE): a
// snapshot of several MB is then not copied once more into a frame buffer.
int put_frame(MDB_txn* txn, unsigned dbi, MDB_val key,
              const google::protobuf::MessageLite& msg, unsigned flags) {
  auto body = msg.ByteSizeLong();
  // protobuf serializes at most INT_MAX bytes; such a value could not fit
  // the map (node_store) anyway, so report it as a full map.
  if (body > static_cast<size_t>(INT_MAX))
    return MDB_MAP_FULL;
  MDB_val v{header_bytes + body, nullptr};
  if (int rc = mdb_put(txn, dbi, &key, &v, flags | MDB_RESERVE))
    return rc;
  auto p = static_cast<unsigned char*>(v.mv_data);
  p[crc_bytes] = format_version;
  msg.SerializeWithCachedSizesToArray(p + header_bytes);
  auto crc = crc32c(p + crc_bytes, header_bytes - crc_bytes + body);
  for (size_t i = 0; i < crc_bytes; ++i)
    p[i] = static_cast<unsigned char>((crc >> (8 * i)) & 0xFFu);
  return 0;
}

// Aborts the transaction unless it was committed or handed back.
struct txn_guard {
  MDB_txn* txn = nullptr;
  ~txn_guard() {
    if (txn != nullptr)
      mdb_txn_abort(txn);
  }
};

} // namespace

lmdb_raft_store::lmdb_raft_store(node_store& node, unsigned log_dbi,
                                 unsigned meta_dbi) :
  node_(node),
  file_(node.dir() + "/data.mdb"), log_dbi_(log_dbi), meta_dbi_(meta_dbi) {}

std::unique_ptr<lmdb_raft_store> lmdb_raft_store::open(node_store& node,
                                                       raft_status& err) {
  txn_guard g;
  MDB_dbi log_dbi = 0;
  MDB_dbi meta_dbi = 0;
  int rc = mdb_txn_begin(node.env(), nullptr, 0, &g.txn);
  if (rc == 0)
    rc = mdb_dbi_open(g.txn, log_db, MDB_CREATE, &log_dbi);
  if (rc == 0)
    rc = mdb_dbi_open(g.txn, meta_db, MDB_CREATE, &meta_dbi);
  if (rc == 0) {
    rc = mdb_txn_commit(g.txn);
    g.txn = nullptr;
  }
  std::unique_ptr<lmdb_raft_store> store{
      new lmdb_raft_store(node, log_dbi, meta_dbi)};
  if (rc != 0) {
    err = store->failure(rc, "open the raft databases");
    return nullptr;
  }
  return store;
}

raft_status lmdb_raft_store::failure(int rc, const char* doing) const {
  bool full = rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT;
  auto code = full ? raft_store_errc::no_space : raft_store_errc::io_error;
  std::string advice = full ? "free disk space or raise the map size"
                            : "check the disk; retry or stop the node";
  return {code, "cannot " + std::string{doing} + " in " + file_ + " ("
                    + mdb_strerror(rc) + "): " + advice
                    + "; nothing was written"};
}

raft_status lmdb_raft_store::corrupt(const char* db,
                                     const std::string& what) const {
  return {raft_store_errc::corrupted,
          "corrupted raft log in " + file_ + " (database " + db + "): " + what
              + "; the node refuses to start (restore the data dir from a "
                "replica)"};
}

// -- load ---------------------------------------------------------------------

raft_status lmdb_raft_store::load(raft_log_state& out) {
  out = raft_log_state{};
  loaded_ = false; // a store whose data failed to load takes no writes
  txn_guard g;
  if (int rc = mdb_txn_begin(node_.env(), nullptr, MDB_RDONLY, &g.txn))
    return corrupt(log_db, std::string{"cannot read: "} + mdb_strerror(rc));
  if (auto st = load_meta(g.txn, out); !st.ok())
    return st;
  if (auto st = load_snapshot(g.txn, out); !st.ok())
    return st;
  if (auto st = load_log(g.txn, out); !st.ok())
    return st;
  if (auto st = check_loaded(out); !st.ok())
    return st;
  bounds_ = log_bounds{};
  bounds_.first_index = out.first_index;
  bounds_.last_index = out.first_index + out.log.size() - 1;
  bounds_.last_term = out.log.empty() ? out.prev_term : out.log.back().term;
  bounds_.prev_term = out.prev_term;
  if (out.snapshot) {
    bounds_.has_snapshot = true;
    bounds_.snapshot_index = out.snapshot->index;
    bounds_.snapshot_term = out.snapshot->term;
  }
  loaded_ = true;
  return {};
}

raft_status lmdb_raft_store::load_meta(MDB_txn* txn, raft_log_state& out) {
  MDB_val k = string_val(hard_state_key);
  MDB_val v;
  int rc = mdb_get(txn, meta_dbi_, &k, &v);
  if (rc == 0) {
    v1::RaftHardState hs;
    if (auto what = decode_frame(v, hs); !what.empty())
      return corrupt(meta_db,
                     std::string{"the hard state (key hard_state) "} + what);
    out.hard_state = hard_state_record{hs.term(), hs.voted_for(), hs.commit()};
  } else if (rc != MDB_NOTFOUND) {
    return corrupt(meta_db, std::string{"the hard state (key hard_state) is "
                                        "unreadable: "}
                                + mdb_strerror(rc));
  }
  k = string_val(log_start_key);
  rc = mdb_get(txn, meta_dbi_, &k, &v);
  if (rc == 0) {
    v1::RaftLogStart start;
    if (auto what = decode_frame(v, start); !what.empty())
      return corrupt(meta_db,
                     std::string{"the log start (key log_start) "} + what);
    if (start.first_index() == 0)
      return corrupt(meta_db, "the log start (key log_start) names index 0");
    out.first_index = start.first_index();
    out.prev_term = start.prev_term();
  } else if (rc != MDB_NOTFOUND) {
    return corrupt(meta_db, std::string{"the log start (key log_start) is "
                                        "unreadable: "}
                                + mdb_strerror(rc));
  }
  return {};
}

raft_status lmdb_raft_store::load_snapshot(MDB_txn* txn, raft_log_state& out) {
  MDB_val k = string_val(snapshot_key);
  MDB_val v;
  int rc = mdb_get(txn, meta_dbi_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return {};
  if (rc != 0)
    return corrupt(meta_db, std::string{"the snapshot (key snapshot) is "
                                        "unreadable: "}
                                + mdb_strerror(rc));
  v1::RaftSnapshot snap;
  if (auto what = decode_frame(v, snap); !what.empty())
    return corrupt(meta_db, "the snapshot (key snapshot) " + what);
  out.snapshot = snapshot_record{snap.index(), snap.term(),
                                 std::move(*snap.mutable_membership()),
                                 std::move(*snap.mutable_data())};
  return {};
}

// The log and the snapshot are always written together (one transaction),
// so a log that does not fit its snapshot was damaged from outside.
raft_status lmdb_raft_store::check_loaded(const raft_log_state& out) const {
  auto first = out.first_index;
  if (!out.snapshot) {
    if (first == 1)
      return {};
    return corrupt(meta_db, "the log starts at entry " + std::to_string(first)
                                + " (key log_start) but there is no snapshot "
                                  "(key snapshot): entries 1.."
                                + std::to_string(first - 1) + " are missing");
  }
  const auto& snap = *out.snapshot;
  auto name
      = "the snapshot (key snapshot) at index " + std::to_string(snap.index);
  if (first > snap.index + 1)
    return corrupt(meta_db, "the log starts at entry " + std::to_string(first)
                                + " (key log_start), after " + name
                                + ": entries " + std::to_string(snap.index + 1)
                                + ".." + std::to_string(first - 1)
                                + " are missing");
  auto last = first + out.log.size() - 1;
  if (last < snap.index)
    return corrupt(log_db, "the log ends at entry " + std::to_string(last)
                               + ", before " + name + " (entries are missing)");
  auto term = snap.index + 1 == first ? out.prev_term
                                      : out.log[snap.index - first].term;
  if (term != snap.term)
    return corrupt(log_db, name + " has term " + std::to_string(snap.term)
                               + " but the log has term " + std::to_string(term)
                               + " there");
  return {};
}

raft_status lmdb_raft_store::load_log(MDB_txn* txn, raft_log_state& out) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, log_dbi_, &cursor))
    return corrupt(log_db, std::string{"cannot read: "} + mdb_strerror(rc));
  auto expected = out.first_index;
  auto prev_term = out.prev_term;
  raft_status st;
  MDB_val k;
  MDB_val v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  for (; rc == 0 && st.ok(); rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) {
      st = corrupt(log_db, "a key of " + std::to_string(k.mv_size)
                               + " bytes follows entry "
                               + std::to_string(expected - 1));
      break;
    }
    auto index = decode_index(k);
    auto name = "entry " + std::to_string(index);
    v1::RaftLogEntry e;
    if (auto what = decode_frame(v, e); !what.empty())
      st = corrupt(log_db, name + " " + what);
    else if (e.index() != index)
      st = corrupt(log_db, name + " holds entry " + std::to_string(e.index()));
    else if (index != expected)
      st = corrupt(log_db, name + " follows entry "
                               + std::to_string(expected - 1)
                               + " (entries are missing)");
    else if (e.term() < prev_term)
      st = corrupt(log_db, name + " has term " + std::to_string(e.term())
                               + ", below the term " + std::to_string(prev_term)
                               + " before it");
    else if (e.kind() > 0xFF)
      st = corrupt(log_db,
                   name + " has unknown kind " + std::to_string(e.kind()));
    else
      out.log.push_back(log_record{index, e.term(),
                                   static_cast<uint8_t>(e.kind()),
                                   std::move(*e.mutable_payload())});
    prev_term = e.term();
    ++expected;
  }
  mdb_cursor_close(cursor);
  if (st.ok() && rc != MDB_NOTFOUND)
    st = corrupt(log_db, "LMDB fails after entry "
                             + std::to_string(expected - 1) + ": "
                             + mdb_strerror(rc));
  return st;
}

// -- write --------------------------------------------------------------------

raft_status lmdb_raft_store::write(std::span<const raft_write> batch) {
  if (!loaded_)
    return {raft_store_errc::invalid_argument,
            "raft store written before load(): a bug in the caller"};
  txn_guard g;
  if (int rc = mdb_txn_begin(node_.env(), nullptr, 0, &g.txn))
    return failure(rc, "begin a raft log write");
  auto bounds = bounds_;
  for (const auto& w : batch)
    if (auto st = write_one(g.txn, bounds, w); !st.ok())
      return st; // the guard aborts: nothing of the batch is stored
  // Without MDB_NOSYNC, the commit returns only after fsync. On failure
  // LMDB has already aborted the transaction.
  int rc = mdb_txn_commit(g.txn);
  g.txn = nullptr;
  if (rc != 0)
    return failure(rc, "commit a raft log write");
  bounds_ = bounds;
  return {};
}

// The steps of docs/storage.md, each checked (check_*, shared with the
// memory store) just before it is applied in the transaction, so that a
// check sees what the steps and writes before it left.
raft_status lmdb_raft_store::write_one(MDB_txn* txn, log_bounds& bounds,
                                       const raft_write& w) {
  auto terms = lookup(txn);
  if (auto st = check_snapshot(bounds, w, terms); !st.ok())
    return st;
  if (w.snapshot)
    if (auto st = put_snapshot(txn, w, bounds); !st.ok())
      return st;
  if (w.hard_state) {
    v1::RaftHardState msg;
    msg.set_term(w.hard_state->term);
    msg.set_voted_for(w.hard_state->voted_for);
    msg.set_commit(w.hard_state->commit);
    int rc = put_frame(txn, meta_dbi_, string_val(hard_state_key), msg, 0);
    if (rc != 0)
      return failure(rc, "save the raft hard state");
  }
  auto old_last = bounds.last_index;
  if (auto st = check_entries(bounds, w.entries, terms); !st.ok())
    return st;
  if (auto st = put_entries(txn, old_last, w.entries); !st.ok())
    return st;
  auto old_first = bounds.first_index;
  if (auto st = check_compaction(bounds, w.compact_before, terms); !st.ok())
    return st;
  if (bounds.first_index == old_first)
    return {};
  if (auto st = delete_before(txn, bounds.first_index); !st.ok())
    return st;
  return put_log_start(txn, bounds);
}

raft_status lmdb_raft_store::put_snapshot(MDB_txn* txn, const raft_write& w,
                                          const log_bounds& after) {
  const auto& s = *w.snapshot;
  v1::RaftSnapshot msg;
  msg.set_index(s.index);
  msg.set_term(s.term);
  msg.set_membership(s.membership);
  msg.set_data(s.data);
  if (int rc = put_frame(txn, meta_dbi_, string_val(snapshot_key), msg, 0))
    return failure(rc, "save the raft snapshot");
  if (!w.reset_log)
    return {};
  // mdb_drop(.., 0) empties the database but keeps it; inside the
  // transaction, so an abort brings every entry back.
  if (int rc = mdb_drop(txn, log_dbi_, 0))
    return failure(rc, "drop the raft log for a snapshot");
  return put_log_start(txn, after);
}

raft_status
lmdb_raft_store::put_entries(MDB_txn* txn, uint64_t old_last,
                             const std::vector<log_record>& entries) {
  if (entries.empty())
    return {};
  if (entries.front().index <= old_last)
    if (auto st = delete_from(txn, entries.front().index); !st.ok())
      return st;
  for (const auto& e : entries) {
    v1::RaftLogEntry msg;
    msg.set_index(e.index);
    msg.set_term(e.term);
    msg.set_kind(e.kind);
    msg.set_payload(e.payload);
    int rc
        = put_frame(txn, log_dbi_, index_key{e.index}.val(), msg, MDB_APPEND);
    if (rc != 0)
      return failure(rc, "append to the raft log");
  }
  return {};
}

raft_status lmdb_raft_store::put_log_start(MDB_txn* txn,
                                           const log_bounds& bounds) {
  v1::RaftLogStart start;
  start.set_first_index(bounds.first_index);
  start.set_prev_term(bounds.prev_term);
  if (int rc = put_frame(txn, meta_dbi_, string_val(log_start_key), start, 0))
    return failure(rc, "save the raft log start");
  return {};
}

term_lookup lmdb_raft_store::lookup(MDB_txn* txn) const {
  // Reads through the write transaction, so it sees the batch so far.
  return [this, txn](uint64_t index, uint64_t& term) -> raft_status {
    index_key key{index};
    MDB_val k = key.val();
    MDB_val v;
    auto name = "entry " + std::to_string(index);
    int rc = mdb_get(txn, log_dbi_, &k, &v);
    if (rc != 0)
      return corrupt(log_db, name + " is unreadable: " + mdb_strerror(rc));
    v1::RaftLogEntry e;
    if (auto what = decode_frame(v, e); !what.empty())
      return corrupt(log_db, name + " " + what);
    term = e.term();
    return {};
  };
}

raft_status lmdb_raft_store::delete_from(MDB_txn* txn, uint64_t first_deleted) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, log_dbi_, &cursor);
  index_key key{first_deleted};
  MDB_val k = key.val();
  MDB_val v;
  // Seek again after each delete instead of trusting where the cursor is
  // left: O(log n) per entry, and suffixes are short.
  while (rc == 0) {
    k = key.val();
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (rc == 0)
      rc = mdb_cursor_del(cursor, 0);
  }
  if (cursor != nullptr)
    mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND)
    return failure(rc, "drop the raft log's suffix");
  return {};
}

raft_status lmdb_raft_store::delete_before(MDB_txn* txn, uint64_t first_kept) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, log_dbi_, &cursor);
  MDB_val k;
  MDB_val v;
  while (rc == 0) {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    if (rc != 0 || k.mv_size != 8 || decode_index(k) >= first_kept)
      break;
    rc = mdb_cursor_del(cursor, 0);
  }
  if (cursor != nullptr)
    mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return failure(rc, "drop the raft log's prefix");
  return {};
}

raft_status lmdb_raft_store::truncate_prefix(uint64_t first_kept) {
  if (loaded_ && first_kept < bounds_.first_index)
    return {raft_store_errc::invalid_argument,
            "raft log prefix truncation to " + std::to_string(first_kept)
                + " is below the first index "
                + std::to_string(bounds_.first_index)
                + " (a bug in the caller)"};
  // The same transaction and checks as a write's compact_before.
  raft_write w;
  w.compact_before = first_kept;
  return write(std::span<const raft_write>{&w, 1});
}

raft_status lmdb_raft_store::sync() {
  if (int rc = mdb_env_sync(node_.env(), 1))
    return failure(rc, "fsync the raft log");
  return {};
}

} // namespace troupe::storage
