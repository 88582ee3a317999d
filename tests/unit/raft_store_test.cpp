// Unit tests of the Raft log stores (storage/raft_store.hpp): LMDB round
// trips and restarts in a temporary data dir, snapshots with log reset and
// compaction, corruption and gap detection, full disk and injected failures,
// and the group-committing raft_writer.
#include "storage/crc32c.hpp"
#include "storage/lmdb_raft_store.hpp"
#include "storage/node_store.hpp"
#include "storage/raft_store.hpp"
#include "storage/raft_writer.hpp"
#include "troupe/raft_store.pb.h"

#include <doctest/doctest.h>
#include <lmdb.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>

using namespace troupe::storage;

namespace {

/// A fresh directory under /tmp, removed with everything in it.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/troupe-raft-store-XXXXXX";
    auto p = ::mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path = p;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<log_record> make_entries(uint64_t from, uint64_t to,
                                     uint64_t term) {
  std::vector<log_record> out;
  for (auto i = from; i <= to; ++i)
    out.push_back(log_record{
        i, term, 0, "cmd-" + std::to_string(i) + "-t" + std::to_string(term)});
  return out;
}

snapshot_record make_snapshot(uint64_t index, uint64_t term,
                              size_t data_bytes = 64) {
  snapshot_record s{index, term, "members-at-" + std::to_string(index), {}};
  s.data.reserve(data_bytes);
  for (size_t i = 0; i < data_bytes; ++i)
    s.data.push_back(static_cast<char>('a' + (i * 7 + index) % 26));
  return s;
}

/// One write holding only `snap` (a local snapshot unless reset_log).
std::vector<raft_write> snapshot_write(snapshot_record snap,
                                       bool reset_log = false,
                                       uint64_t compact_before = 0) {
  std::vector<raft_write> batch(1);
  batch[0].snapshot = std::move(snap);
  batch[0].reset_log = reset_log;
  batch[0].compact_before = compact_before;
  return batch;
}

/// What load() returns, for comparisons.
raft_log_state loaded(raft_log_store& store) {
  raft_log_state st;
  auto status = store.load(st);
  REQUIRE_MESSAGE(status.ok(), status.message);
  return st;
}

bool same_state(const raft_log_state& a, const raft_log_state& b) {
  return a.hard_state == b.hard_state && a.snapshot == b.snapshot
         && a.first_index == b.first_index && a.prev_term == b.prev_term
         && a.log == b.log;
}

/// A node_store plus a loaded lmdb_raft_store in `dir`.
struct opened {
  std::unique_ptr<node_store> node;
  std::unique_ptr<lmdb_raft_store> store;
  raft_log_state state;
  raft_status load_status;

  explicit opened(const std::string& dir) {
    store_error err;
    node = node_store::open(dir, err);
    REQUIRE_MESSAGE(node != nullptr, err.message);
    raft_status st;
    store = lmdb_raft_store::open(*node, st);
    REQUIRE_MESSAGE(store != nullptr, st.message);
    load_status = store->load(state);
  }
};

/// Runs `edit` on database `db` in a raw LMDB write transaction.
template <class F>
void edit_db(const std::string& dir, const char* db, F edit) {
  store_error err;
  auto node = node_store::open(dir, err);
  REQUIRE(node != nullptr);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(node->env(), nullptr, 0, &txn) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
  edit(txn, dbi);
  REQUIRE(mdb_txn_commit(txn) == 0);
}

template <class F>
void edit_raft_log(const std::string& dir, F edit) {
  edit_db(dir, "raft_log", edit);
}

MDB_val string_key(const char* key) {
  return MDB_val{std::strlen(key), const_cast<char*>(key)};
}

/// A stored value as docs/storage.md frames it, written independently of
/// the store's own encoder.
std::string frame_of(const google::protobuf::MessageLite& msg) {
  std::string body = std::string(1, '\x01') + msg.SerializeAsString();
  auto crc = crc32c(body.data(), body.size());
  std::string out;
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return out + body;
}

MDB_val key_of(uint64_t index, unsigned char (&buf)[8]) {
  for (int i = 7; i >= 0; --i, index >>= 8)
    buf[i] = static_cast<unsigned char>(index & 0xFF);
  return MDB_val{8, buf};
}

} // namespace

TEST_CASE("crc32c matches the standard check value") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
}

TEST_CASE("lmdb raft store: round trip and restart recover everything") {
  temp_dir dir;
  hard_state_record hs{3, 2, 4};
  {
    opened db{dir.path};
    REQUIRE(db.load_status.ok());
    CHECK(db.state.log.empty());
    CHECK(!db.state.hard_state);
    CHECK(db.store->last_index() == 0);
    REQUIRE(db.store->append(make_entries(1, 3, 1)).ok());
    REQUIRE(db.store->append(make_entries(4, 5, 3)).ok());
    REQUIRE(db.store->save(hs).ok());
    CHECK(db.store->last_index() == 5);
    CHECK(db.store->last_term() == 3);
  }
  opened db{dir.path};
  REQUIRE_MESSAGE(db.load_status.ok(), db.load_status.message);
  auto expected = make_entries(1, 3, 1);
  auto tail = make_entries(4, 5, 3);
  expected.insert(expected.end(), tail.begin(), tail.end());
  CHECK(db.state.log == expected);
  REQUIRE(db.state.hard_state);
  CHECK(*db.state.hard_state == hs);
  CHECK(db.state.first_index == 1);
  CHECK(db.store->last_index() == 5);
  CHECK(db.store->last_term() == 3);
}

TEST_CASE(
    "lmdb raft store: append overwrites the suffix from its first index") {
  temp_dir dir;
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 5, 1)).ok());
    REQUIRE(db.store->append(make_entries(3, 4, 2)).ok());
    CHECK(db.store->last_index() == 4);
    CHECK(db.store->last_term() == 2);
  }
  opened db{dir.path};
  REQUIRE(db.load_status.ok());
  auto expected = make_entries(1, 2, 1);
  auto tail = make_entries(3, 4, 2);
  expected.insert(expected.end(), tail.begin(), tail.end());
  CHECK(db.state.log == expected);
}

TEST_CASE("raft stores reject gaps and decreasing terms, changing nothing") {
  temp_dir dir;
  opened db{dir.path};
  memory_raft_store mem;
  for (raft_log_store* s : {static_cast<raft_log_store*>(db.store.get()),
                            static_cast<raft_log_store*>(&mem)}) {
    REQUIRE(s->append(make_entries(1, 3, 2)).ok());
    CHECK(s->append(make_entries(5, 6, 2)).code
          == raft_store_errc::invalid_argument);
    CHECK(s->append(make_entries(4, 4, 1)).code
          == raft_store_errc::invalid_argument);
    CHECK(s->append(make_entries(0, 1, 2)).code
          == raft_store_errc::invalid_argument);
    // A batch whose second write is bad stores nothing of the first.
    std::vector<raft_write> batch(2);
    batch[0].entries = make_entries(4, 4, 2);
    batch[0].hard_state = hard_state_record{2, 1, 0};
    batch[1].entries = make_entries(9, 9, 2);
    CHECK(s->write(batch).code == raft_store_errc::invalid_argument);
    raft_log_state st;
    REQUIRE(s->load(st).ok());
    CHECK(st.log == make_entries(1, 3, 2));
    CHECK(!st.hard_state);
    CHECK(s->last_index() == 3);
  }
}

TEST_CASE("lmdb raft store: prefix truncation survives a restart") {
  temp_dir dir;
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 3, 1)).ok());
    REQUIRE(db.store->append(make_entries(4, 6, 2)).ok());
    // Without a snapshot no entry may go; then only up to snapshot + 1.
    CHECK(db.store->truncate_prefix(2).code
          == raft_store_errc::invalid_argument);
    REQUIRE(db.store->write(snapshot_write(make_snapshot(4, 2))).ok());
    CHECK(db.store->truncate_prefix(6).code
          == raft_store_errc::invalid_argument);
    REQUIRE(db.store->truncate_prefix(5).ok());
    CHECK(db.store->first_index() == 5);
    CHECK(db.store->append(make_entries(4, 4, 2)).code
          == raft_store_errc::invalid_argument);
  }
  opened db{dir.path};
  REQUIRE_MESSAGE(db.load_status.ok(), db.load_status.message);
  CHECK(db.state.first_index == 5);
  CHECK(db.state.prev_term == 2);
  CHECK(db.state.log == make_entries(5, 6, 2));
  REQUIRE(db.store->write(snapshot_write(make_snapshot(6, 2))).ok());
  REQUIRE(db.store->truncate_prefix(7).ok()); // the log becomes empty
  CHECK(db.store->last_index() == 6);
  CHECK(db.store->last_term() == 2);
  REQUIRE(db.store->append(make_entries(7, 7, 3)).ok());
}

TEST_CASE("lmdb raft store: a flipped byte in a record fails load by name") {
  temp_dir dir;
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 5, 1)).ok());
  }
  edit_raft_log(dir.path, [](MDB_txn* txn, MDB_dbi dbi) {
    unsigned char buf[8];
    MDB_val k = key_of(3, buf);
    MDB_val v;
    REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
    std::string bytes(static_cast<const char*>(v.mv_data), v.mv_size);
    bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
    MDB_val nv{bytes.size(), bytes.data()};
    REQUIRE(mdb_put(txn, dbi, &k, &nv, 0) == 0);
  });
  opened db{dir.path};
  CHECK(db.load_status.code == raft_store_errc::corrupted);
  auto& msg = db.load_status.message;
  CHECK(msg.find(dir.path + "/data.mdb") != std::string::npos);
  CHECK(msg.find("raft_log") != std::string::npos);
  CHECK(msg.find("entry 3 fails its checksum") != std::string::npos);
  CHECK(msg.find("refuses to start") != std::string::npos);
  // Nothing was repaired: the next start fails the same way.
  raft_log_state again;
  CHECK(db.store->load(again).code == raft_store_errc::corrupted);
  CHECK(db.store->append(make_entries(1, 1, 1)).code
        == raft_store_errc::invalid_argument);
}

TEST_CASE("lmdb raft store: a missing or truncated record fails load") {
  temp_dir dir;
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 5, 1)).ok());
  }
  SUBCASE("gap") {
    edit_raft_log(dir.path, [](MDB_txn* txn, MDB_dbi dbi) {
      unsigned char buf[8];
      MDB_val k = key_of(3, buf);
      REQUIRE(mdb_del(txn, dbi, &k, nullptr) == 0);
    });
    opened db{dir.path};
    CHECK(db.load_status.code == raft_store_errc::corrupted);
    CHECK_MESSAGE(db.load_status.message.find("entry 4 follows entry 2")
                      != std::string::npos,
                  db.load_status.message);
  }
  SUBCASE("undecodable") {
    edit_raft_log(dir.path, [](MDB_txn* txn, MDB_dbi dbi) {
      unsigned char buf[8];
      MDB_val k = key_of(2, buf);
      char junk[2] = {1, 2};
      MDB_val v{sizeof(junk), junk};
      REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    });
    opened db{dir.path};
    CHECK(db.load_status.code == raft_store_errc::corrupted);
    CHECK(db.load_status.message.find("entry 2 is truncated")
          != std::string::npos);
  }
}

TEST_CASE("lmdb raft store: a flipped byte in data.mdb is never loaded") {
  temp_dir dir;
  const std::string marker = "UNIQUE-PAYLOAD-MARKER-0123456789";
  {
    opened db{dir.path};
    auto entries = make_entries(1, 2, 1);
    entries[1].payload = marker;
    REQUIRE(db.store->append(entries).ok());
  }
  auto file = dir.path + "/data.mdb";
  std::string bytes;
  {
    std::ifstream in{file, std::ios::binary};
    bytes.assign(std::istreambuf_iterator<char>{in}, {});
  }
  size_t flips = 0;
  for (auto pos = bytes.find(marker); pos != std::string::npos;
       pos = bytes.find(marker, pos + 1), ++flips)
    bytes[pos + 5] = static_cast<char>(bytes[pos + 5] ^ 0x20);
  REQUIRE(flips > 0);
  {
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  opened db{dir.path};
  CHECK(db.load_status.code == raft_store_errc::corrupted);
  CHECK(db.load_status.message.find("entry 2") != std::string::npos);
}

TEST_CASE("lmdb raft store: a full map fails the append and keeps the data") {
  temp_dir dir;
  {
    opened db{dir.path};
    // A tiny map stands in for a full disk (or a small tmpfs).
    REQUIRE(mdb_env_set_mapsize(db.node->env(), size_t{128} << 10) == 0);
    REQUIRE(db.store->append(make_entries(1, 3, 1)).ok());
    auto big = make_entries(4, 4, 1);
    big[0].payload.assign(size_t{1} << 20, 'x');
    auto st = db.store->append(big);
    CHECK(st.code == raft_store_errc::no_space);
    CHECK(st.message.find(dir.path + "/data.mdb") != std::string::npos);
    CHECK(st.message.find("MDB_MAP_FULL") != std::string::npos);
    CHECK(db.store->last_index() == 3);
    // Still writable once the request is small enough.
    REQUIRE(db.store->append(make_entries(4, 4, 1)).ok());
  }
  opened db{dir.path};
  REQUIRE(db.load_status.ok());
  CHECK(db.state.log == make_entries(1, 4, 1));
}

namespace {

/// The stores every snapshot test runs on: memory, fault injection around
/// memory (passing everything through), and LMDB in `dir`.
struct every_store {
  std::unique_ptr<opened> lmdb;
  memory_raft_store memory;
  memory_raft_store faulty_inner;
  faulty_raft_store faulty{faulty_inner};

  explicit every_store(const std::string& dir) :
    lmdb(std::make_unique<opened>(dir)) {
    REQUIRE(lmdb->load_status.ok());
  }
  std::vector<raft_log_store*> all() {
    return {lmdb->store.get(), &memory, &faulty};
  }
  /// Closes and reopens the LMDB environment; returns what it loads.
  raft_log_state reopen(const std::string& dir) {
    lmdb.reset();
    lmdb = std::make_unique<opened>(dir);
    REQUIRE_MESSAGE(lmdb->load_status.ok(), lmdb->load_status.message);
    return lmdb->state;
  }
};

const char* name_of(every_store& stores, raft_log_store* s) {
  if (s == &stores.memory)
    return "memory";
  return s == &stores.faulty ? "faulty" : "lmdb";
}

} // namespace

TEST_CASE("raft stores: a snapshot with compaction round trips and restarts") {
  temp_dir dir;
  every_store stores{dir.path};
  auto log = make_entries(1, 4, 1);
  auto tail = make_entries(5, 8, 2);
  tail[1].kind = 2; // a config entry: kind is opaque to storage
  tail[1].payload = "config-members";
  log.insert(log.end(), tail.begin(), tail.end());
  auto snap = make_snapshot(6, 2);
  for (auto* s : stores.all()) {
    CAPTURE(name_of(stores, s));
    REQUIRE(s->append(log).ok());
    REQUIRE(s->save(hard_state_record{2, 1, 0}).ok());
    REQUIRE(s->write(snapshot_write(snap, false, 4)).ok());
    auto st = loaded(*s);
    REQUIRE(st.snapshot);
    CHECK(*st.snapshot == snap);
    CHECK(st.first_index == 4);
    CHECK(st.prev_term == 1);
    CHECK(st.log == std::vector<log_record>(log.begin() + 3, log.end()));
    CHECK(st.hard_state == hard_state_record{2, 1, 0});
    CHECK(s->first_index() == 4);
    CHECK(s->last_index() == 8);
    CHECK(s->last_term() == 2);
  }
  auto before = loaded(stores.memory);
  auto after = stores.reopen(dir.path);
  CHECK(same_state(after, before));
  CHECK(after.log[2].kind == 2);
  CHECK(stores.lmdb->store->first_index() == 4);
  CHECK(stores.lmdb->store->last_index() == 8);
  CHECK(stores.lmdb->store->last_term() == 2);
  // The restarted store checks new writes against the loaded snapshot.
  CHECK(stores.lmdb->store->write(snapshot_write(make_snapshot(5, 2))).code
        == raft_store_errc::invalid_argument);
  REQUIRE(stores.lmdb->store->write(snapshot_write(make_snapshot(8, 2))).ok());
}

TEST_CASE("raft stores: reset_log replaces the log with the snapshot") {
  temp_dir dir;
  every_store stores{dir.path};
  for (auto* s : stores.all()) {
    CAPTURE(name_of(stores, s));
    REQUIRE(s->append(make_entries(1, 5, 1)).ok());
    // A follower installs a leader's snapshot far ahead of its log, and the
    // entries after it arrive in the same write.
    auto batch = snapshot_write(make_snapshot(20, 3), true);
    batch[0].hard_state = hard_state_record{3, 0, 0};
    batch[0].entries = make_entries(21, 22, 3);
    REQUIRE(s->write(batch).ok());
    auto st = loaded(*s);
    CHECK(st.snapshot == make_snapshot(20, 3));
    CHECK(st.first_index == 21);
    CHECK(st.prev_term == 3);
    CHECK(st.log == make_entries(21, 22, 3));
    CHECK(s->last_index() == 22);
    // A snapshot inside the log drops the log after it as well.
    REQUIRE(s->write(snapshot_write(make_snapshot(21, 3), true)).ok());
    st = loaded(*s);
    CHECK(st.log.empty());
    CHECK(st.first_index == 22);
    CHECK(s->last_index() == 21);
    CHECK(s->last_term() == 3);
  }
  auto after = stores.reopen(dir.path);
  CHECK(same_state(after, loaded(stores.memory)));
  auto& lmdb = *stores.lmdb->store;
  CHECK(lmdb.last_index() == 21);
  CHECK(lmdb.last_term() == 3);
  REQUIRE(lmdb.append(make_entries(22, 22, 4)).ok());
  CHECK(lmdb.append(make_entries(21, 21, 4)).code
        == raft_store_errc::invalid_argument);
}

TEST_CASE("raft stores: compact_before applies after the write's entries") {
  temp_dir dir;
  every_store stores{dir.path};
  for (auto* s : stores.all()) {
    CAPTURE(name_of(stores, s));
    REQUIRE(s->append(make_entries(1, 6, 1)).ok());
    // One write: a snapshot at 4, two new entries, and the prefix below 5.
    auto batch = snapshot_write(make_snapshot(4, 1), false, 5);
    batch[0].entries = make_entries(7, 8, 2);
    REQUIRE(s->write(batch).ok());
    CHECK(s->first_index() == 5);
    CHECK(s->last_index() == 8);
    // A snapshot in one write of a batch covers the compaction of the next.
    std::vector<raft_write> two(2);
    two[0].snapshot = make_snapshot(8, 2);
    two[1].entries = make_entries(9, 10, 2);
    two[1].compact_before = 9;
    REQUIRE(s->write(two).ok());
    auto st = loaded(*s);
    CHECK(st.first_index == 9);
    CHECK(st.prev_term == 2);
    CHECK(st.log == make_entries(9, 10, 2));
    CHECK(st.snapshot == make_snapshot(8, 2));
    // Compacting again below the first index changes nothing.
    raft_write again;
    again.compact_before = 6;
    REQUIRE(s->write(std::span<const raft_write>{&again, 1}).ok());
    CHECK(s->first_index() == 9);
  }
  CHECK(same_state(stores.reopen(dir.path), loaded(stores.memory)));
}

TEST_CASE("raft stores: invalid snapshot writes are refused, writing nothing") {
  temp_dir dir;
  every_store stores{dir.path};
  memory_raft_store fresh;
  CHECK(fresh.truncate_prefix(2).code == raft_store_errc::invalid_argument);
  for (auto* s : stores.all()) {
    CAPTURE(name_of(stores, s));
    REQUIRE(s->append(make_entries(1, 3, 1)).ok());
    raft_write no_snapshot;
    no_snapshot.compact_before = 2; // no snapshot covers entry 1
    CHECK(s->write(std::span<const raft_write>{&no_snapshot, 1}).code
          == raft_store_errc::invalid_argument);
    REQUIRE(s->append(make_entries(4, 6, 2)).ok());
    REQUIRE(s->write(snapshot_write(make_snapshot(4, 2), false, 3)).ok());
    auto before = loaded(*s);
    std::vector<std::pair<const char*, std::vector<raft_write>>> bad;
    bad.emplace_back("older snapshot", snapshot_write(make_snapshot(3, 1)));
    bad.emplace_back("older term", snapshot_write(make_snapshot(5, 1), true));
    bad.emplace_back("compact past it",
                     snapshot_write(make_snapshot(4, 2), false, 6));
    bad.emplace_back("beyond the log", snapshot_write(make_snapshot(7, 2)));
    bad.emplace_back("other term", snapshot_write(make_snapshot(5, 3)));
    bad.emplace_back("below the log", snapshot_write(make_snapshot(1, 1)));
    std::vector<raft_write> w(1);
    w[0].reset_log = true;
    bad.emplace_back("reset without snapshot", w);
    w[0].reset_log = false;
    w[0].entries = make_entries(4, 5, 3);
    bad.emplace_back("overwrites the snapshot's entry", w);
    w[0].entries = make_entries(3, 3, 1);
    bad.emplace_back("cuts below the snapshot", w);
    // The first write of the batch is fine, the second is not.
    std::vector<raft_write> two(2);
    two[0].snapshot = make_snapshot(6, 2);
    two[0].reset_log = true;
    two[0].hard_state = hard_state_record{2, 2, 0};
    two[1].compact_before = 8;
    bad.emplace_back("second write compacts past it", two);
    for (auto& [what, batch] : bad) {
      CAPTURE(what);
      auto st = s->write(batch);
      CHECK(st.code == raft_store_errc::invalid_argument);
      CHECK(st.message.find("nothing was written") != std::string::npos);
      CHECK(same_state(loaded(*s), before));
      CHECK(s->first_index() == 3);
      CHECK(s->last_index() == 6);
    }
    // Rewriting entries the snapshot covers with the same terms is fine.
    CHECK(s->append(make_entries(4, 6, 2)).ok());
  }
  CHECK(same_state(stores.reopen(dir.path), loaded(stores.memory)));
}

TEST_CASE("lmdb raft store: a snapshot of several MB round trips") {
  temp_dir dir;
  auto big = make_snapshot(3, 1, size_t{6} << 20);
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 4, 1)).ok());
    // Replaced a few times: LMDB reuses the freed pages.
    for (uint64_t i = 1; i <= 3; ++i)
      REQUIRE(
          db.store->write(snapshot_write(make_snapshot(i, 1, big.data.size())))
              .ok());
    REQUIRE(db.store->write(snapshot_write(big, false, 4)).ok());
  }
  opened db{dir.path};
  REQUIRE_MESSAGE(db.load_status.ok(), db.load_status.message);
  REQUIRE(db.state.snapshot);
  CHECK(db.state.snapshot->data.size() == big.data.size());
  CHECK(*db.state.snapshot == big);
  CHECK(db.state.log == make_entries(4, 4, 1));
}

TEST_CASE("lmdb raft store: a flipped byte in the snapshot fails load") {
  temp_dir dir;
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 5, 1)).ok());
    REQUIRE(
        db.store->write(snapshot_write(make_snapshot(4, 1), false, 3)).ok());
  }
  edit_db(dir.path, "raft_meta", [](MDB_txn* txn, MDB_dbi dbi) {
    MDB_val k = string_key("snapshot");
    MDB_val v;
    REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
    std::string bytes(static_cast<const char*>(v.mv_data), v.mv_size);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x04);
    MDB_val nv{bytes.size(), bytes.data()};
    REQUIRE(mdb_put(txn, dbi, &k, &nv, 0) == 0);
  });
  opened db{dir.path};
  CHECK(db.load_status.code == raft_store_errc::corrupted);
  auto& msg = db.load_status.message;
  CHECK_MESSAGE(msg.find(dir.path + "/data.mdb") != std::string::npos, msg);
  CHECK(msg.find("database raft_meta") != std::string::npos);
  CHECK(msg.find("the snapshot (key snapshot) fails its checksum")
        != std::string::npos);
  CHECK(!db.state.snapshot);
  raft_log_state again;
  CHECK(db.store->load(again).code == raft_store_errc::corrupted);
  CHECK(db.store->write(snapshot_write(make_snapshot(5, 1))).code
        == raft_store_errc::invalid_argument);
}

TEST_CASE("lmdb raft store: a log that does not fit its snapshot fails load") {
  temp_dir dir;
  {
    // Snapshot at 5, log 4..8.
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 8, 1)).ok());
    REQUIRE(
        db.store->write(snapshot_write(make_snapshot(5, 1), false, 4)).ok());
  }
  auto drop_entries = [&](uint64_t from, uint64_t to) {
    edit_raft_log(dir.path, [&](MDB_txn* txn, MDB_dbi dbi) {
      for (auto i = from; i <= to; ++i) {
        unsigned char buf[8];
        MDB_val k = key_of(i, buf);
        REQUIRE(mdb_del(txn, dbi, &k, nullptr) == 0);
      }
    });
  };
  std::string expected;
  SUBCASE("the first kept entry is missing") {
    drop_entries(4, 4);
    expected = "(database raft_log): entry 5 follows entry 3 (entries are "
               "missing)";
  }
  SUBCASE("the log starts after the snapshot") {
    drop_entries(4, 6);
    edit_db(dir.path, "raft_meta", [](MDB_txn* txn, MDB_dbi dbi) {
      troupe::v1::RaftLogStart start;
      start.set_first_index(7);
      start.set_prev_term(1);
      auto bytes = frame_of(start);
      MDB_val k = string_key("log_start");
      MDB_val v{bytes.size(), bytes.data()};
      REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    });
    expected = "(database raft_meta): the log starts at entry 7 (key "
               "log_start), after the snapshot (key snapshot) at index 5: "
               "entries 6..6 are missing";
  }
  SUBCASE("the snapshot is missing") {
    edit_db(dir.path, "raft_meta", [](MDB_txn* txn, MDB_dbi dbi) {
      MDB_val k = string_key("snapshot");
      REQUIRE(mdb_del(txn, dbi, &k, nullptr) == 0);
    });
    expected = "(database raft_meta): the log starts at entry 4 (key "
               "log_start) but there is no snapshot (key snapshot): entries "
               "1..3 are missing";
  }
  SUBCASE("the log ends before the snapshot") {
    drop_entries(5, 8);
    expected = "(database raft_log): the log ends at entry 4, before the "
               "snapshot (key snapshot) at index 5";
  }
  opened db{dir.path};
  CHECK(db.load_status.code == raft_store_errc::corrupted);
  CHECK_MESSAGE(db.load_status.message.find(expected) != std::string::npos,
                db.load_status.message);
  CHECK(db.load_status.message.find(dir.path + "/data.mdb")
        != std::string::npos);
}

TEST_CASE("lmdb raft store: a full map fails a snapshot write, keeping data") {
  temp_dir dir;
  raft_log_state before;
  {
    opened db{dir.path};
    REQUIRE(mdb_env_set_mapsize(db.node->env(), size_t{128} << 10) == 0);
    REQUIRE(db.store->append(make_entries(1, 3, 1)).ok());
    REQUIRE(
        db.store->write(snapshot_write(make_snapshot(2, 1), false, 2)).ok());
    before = loaded(*db.store);
    // A snapshot that resets the log, far too big for the map.
    auto batch = snapshot_write(make_snapshot(9, 2, size_t{1} << 20), true);
    batch[0].hard_state = hard_state_record{2, 0, 0};
    auto st = db.store->write(batch);
    CHECK(st.code == raft_store_errc::no_space);
    CHECK(st.message.find(dir.path + "/data.mdb") != std::string::npos);
    CHECK(st.message.find("MDB_MAP_FULL") != std::string::npos);
    CHECK(same_state(loaded(*db.store), before));
    CHECK(db.store->first_index() == 2);
    CHECK(db.store->last_index() == 3);
    // A snapshot that fits still goes in.
    REQUIRE(db.store->write(snapshot_write(make_snapshot(3, 1))).ok());
    before.snapshot = make_snapshot(3, 1);
  }
  opened db{dir.path};
  REQUIRE_MESSAGE(db.load_status.ok(), db.load_status.message);
  CHECK(same_state(db.state, before));
}

TEST_CASE("faulty raft store surfaces write and fsync failures") {
  memory_raft_store mem;
  faulty_raft_store faulty{mem};
  REQUIRE(faulty.append(make_entries(1, 2, 1)).ok());
  faulty.fail_writes(1, raft_store_errc::no_space);
  CHECK(faulty.append(make_entries(3, 3, 1)).code == raft_store_errc::no_space);
  CHECK(mem.last_index() == 2); // nothing written
  faulty.fail_syncs(1);
  CHECK(faulty.sync().code == raft_store_errc::io_error);
  CHECK(faulty.append(make_entries(3, 3, 1)).code == raft_store_errc::io_error);
  CHECK(faulty.sync().ok());
  CHECK(faulty.append(make_entries(4, 4, 1)).ok());
}

namespace {

/// Holds every write until release(), so a test knows what queues up
/// behind the batch being written.
class gated_store final : public forwarding_raft_store {
public:
  explicit gated_store(raft_log_store& inner) : forwarding_raft_store(inner) {}
  void wait_entered() {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait(lock, [this] { return entered_; });
  }
  void release() {
    std::lock_guard<std::mutex> guard{mtx_};
    released_ = true;
    cv_.notify_all();
  }
  /// Calls of write() so far: one LMDB transaction each.
  size_t writes() {
    std::lock_guard<std::mutex> guard{mtx_};
    return writes_;
  }
  raft_status write(std::span<const raft_write> batch) override {
    std::unique_lock<std::mutex> lock{mtx_};
    ++writes_;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
    return inner_.write(batch);
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
  size_t writes_ = 0;
};

raft_write entry_write(uint64_t index) {
  raft_write w;
  w.entries = make_entries(index, index, 1);
  return w;
}

} // namespace

TEST_CASE("raft writer batches waiting requests into one transaction") {
  memory_raft_store mem;
  gated_store gate{mem};
  std::mutex mtx;
  std::vector<raft_store_errc> results;
  auto done = [&](const raft_status& st) {
    std::lock_guard<std::mutex> guard{mtx};
    results.push_back(st.code);
  };
  raft_writer writer{gate};
  REQUIRE(writer.submit(entry_write(1), done).ok());
  gate.wait_entered(); // request 1 is being written
  for (uint64_t i = 2; i <= 6; ++i)
    REQUIRE(writer.submit(entry_write(i), done).ok());
  CHECK(writer.pending() == 5);
  gate.release();
  writer.stop();
  auto c = writer.counters();
  CHECK(c.batches == 2);
  CHECK(c.requests == 6);
  CHECK(c.entries == 6);
  CHECK(c.failed_batches == 0);
  CHECK(mem.write_calls() == 2);
  CHECK(mem.last_index() == 6);
  CHECK(results == std::vector<raft_store_errc>(6, raft_store_errc::ok));
  CHECK(writer.submit(entry_write(7), done).code == raft_store_errc::stopped);
}

TEST_CASE("raft writer refuses submits beyond its queue limit") {
  memory_raft_store mem;
  gated_store gate{mem};
  raft_writer writer{gate, raft_writer_limits{3, 1024}};
  REQUIRE(writer.submit(entry_write(1), nullptr).ok());
  gate.wait_entered();
  for (uint64_t i = 2; i <= 4; ++i)
    REQUIRE(writer.submit(entry_write(i), nullptr).ok());
  auto st = writer.submit(entry_write(5), nullptr);
  CHECK(st.code == raft_store_errc::overloaded);
  CHECK(st.message.find("max_pending_requests") != std::string::npos);
  gate.release();
  writer.stop();
  CHECK(writer.counters().overloaded == 1);
  CHECK(mem.last_index() == 4);
}

TEST_CASE("raft writer reports store failures and isolates bad requests") {
  memory_raft_store mem;
  faulty_raft_store faulty{mem};
  gated_store gate{faulty};
  std::mutex mtx;
  std::vector<raft_store_errc> results;
  auto done = [&](const raft_status& st) {
    std::lock_guard<std::mutex> guard{mtx};
    results.push_back(st.code);
  };
  faulty.fail_writes(1);
  raft_writer writer{gate};
  REQUIRE(writer.submit(entry_write(1), done).ok()); // fails: injected
  gate.wait_entered();
  REQUIRE(writer.submit(entry_write(1), done).ok());
  REQUIRE(writer.submit(entry_write(9), done).ok()); // a gap: caller's bug
  REQUIRE(writer.submit(entry_write(2), done).ok());
  gate.release();
  writer.stop();
  using e = raft_store_errc;
  CHECK(results
        == std::vector<e>{e::io_error, e::ok, e::invalid_argument, e::ok});
  CHECK(mem.last_index() == 2);
  CHECK(writer.counters().failed_batches == 3);
}

TEST_CASE("raft writer on LMDB: acknowledged writes survive a restart") {
  temp_dir dir;
  {
    opened db{dir.path};
    raft_writer writer{*db.store};
    std::mutex mtx;
    size_t acked = 0;
    for (uint64_t i = 1; i <= 20; ++i) {
      raft_write w = entry_write(i);
      w.hard_state = hard_state_record{1, 1, i - 1};
      REQUIRE(writer
                  .submit(std::move(w),
                          [&](const raft_status& st) {
                            std::lock_guard<std::mutex> guard{mtx};
                            if (st.ok())
                              ++acked;
                          })
                  .ok());
    }
    writer.stop();
    CHECK(acked == 20);
    CHECK(writer.counters().batches <= 20);
  }
  opened db{dir.path};
  REQUIRE(db.load_status.ok());
  CHECK(db.state.log == make_entries(1, 20, 1));
  CHECK(db.state.hard_state == hard_state_record{1, 1, 19});
}

TEST_CASE("raft writer on LMDB: a snapshot shares a batch with other writes") {
  temp_dir dir;
  raft_writer_counters c;
  {
    opened db{dir.path};
    REQUIRE(db.store->append(make_entries(1, 2, 1)).ok());
    gated_store gate{*db.store};
    std::mutex mtx;
    std::vector<raft_store_errc> results;
    auto done = [&](const raft_status& st) {
      std::lock_guard<std::mutex> guard{mtx};
      results.push_back(st.code);
    };
    raft_writer writer{gate};
    REQUIRE(writer.submit(entry_write(3), done).ok());
    gate.wait_entered(); // the first batch is being written
    REQUIRE(writer.submit(entry_write(4), done).ok());
    raft_write snap;
    snap.snapshot = make_snapshot(4, 1, size_t{1} << 20);
    snap.compact_before = 4;
    REQUIRE(writer.submit(std::move(snap), done).ok());
    REQUIRE(writer.submit(entry_write(5), done).ok());
    gate.release();
    writer.stop();
    c = writer.counters();
    using e = raft_store_errc;
    CHECK(results == std::vector<e>(4, e::ok));
    CHECK(gate.writes() == 2); // one transaction (one fsync) per batch
  }
  CHECK(c.batches == 2);
  CHECK(c.requests == 4);
  CHECK(c.entries == 3);
  CHECK(c.snapshots == 1);
  opened db{dir.path};
  REQUIRE_MESSAGE(db.load_status.ok(), db.load_status.message);
  CHECK(db.state.snapshot == make_snapshot(4, 1, size_t{1} << 20));
  CHECK(db.state.first_index == 4);
  CHECK(db.state.log == make_entries(4, 5, 1));
}

TEST_CASE("raft writer isolates an invalid snapshot write") {
  memory_raft_store mem;
  REQUIRE(mem.write(snapshot_write(make_snapshot(0, 0))).ok());
  gated_store gate{mem};
  std::mutex mtx;
  std::vector<raft_store_errc> results;
  auto done = [&](const raft_status& st) {
    std::lock_guard<std::mutex> guard{mtx};
    results.push_back(st.code);
  };
  raft_writer writer{gate};
  REQUIRE(writer.submit(entry_write(1), done).ok());
  gate.wait_entered();
  raft_write compact;
  compact.compact_before = 2; // the snapshot ends at 0: a caller's bug
  REQUIRE(writer.submit(std::move(compact), done).ok());
  raft_write snap;
  snap.snapshot = make_snapshot(1, 1);
  REQUIRE(writer.submit(std::move(snap), done).ok());
  gate.release();
  writer.stop();
  using e = raft_store_errc;
  CHECK(results == std::vector<e>{e::ok, e::invalid_argument, e::ok});
  CHECK(loaded(mem).snapshot == make_snapshot(1, 1));
  CHECK(writer.counters().snapshots == 1);
}
