// Unit tests of the Raft log stores (storage/raft_store.hpp): LMDB round
// trips and restarts in a temporary data dir, corruption and gap detection,
// full disk and injected failures, and the group-committing raft_writer.
#include "storage/crc32c.hpp"
#include "storage/lmdb_raft_store.hpp"
#include "storage/node_store.hpp"
#include "storage/raft_store.hpp"
#include "storage/raft_writer.hpp"

#include <doctest/doctest.h>
#include <lmdb.h>

#include <condition_variable>
#include <cstdlib>
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

/// Runs `edit` on the raft_log database in a raw LMDB write transaction.
template <class F>
void edit_raft_log(const std::string& dir, F edit) {
  store_error err;
  auto node = node_store::open(dir, err);
  REQUIRE(node != nullptr);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(node->env(), nullptr, 0, &txn) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(txn, "raft_log", 0, &dbi) == 0);
  edit(txn, dbi);
  REQUIRE(mdb_txn_commit(txn) == 0);
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
  raft_status write(std::span<const raft_write> batch) override {
    std::unique_lock<std::mutex> lock{mtx_};
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
