// The Raft log and hard state in the node's LMDB environment.
//
// Two named databases (docs/storage.md): `raft_log`, one entry per 8-byte
// big-endian index, and `raft_meta`, holding "hard_state", "log_start" and
// "snapshot".
// Every value carries a CRC32C. Every write is one LMDB transaction committed
// with LMDB's default sync, so it is on disk when write() returns; on any
// error the transaction is aborted and nothing changes.
#pragma once

#include "storage/node_store.hpp"
#include "storage/raft_store.hpp"

#include <memory>
#include <string>

struct MDB_txn;

namespace troupe::storage {

class lmdb_raft_store final : public raft_log_store {
public:
  /// Opens (creating if needed) the raft databases in `node`'s environment.
  /// `node` must outlive the store. Call load() next.
  static std::unique_ptr<lmdb_raft_store> open(node_store& node,
                                               raft_status& err);

  raft_status load(raft_log_state& out) override;
  raft_status write(std::span<const raft_write> batch) override;
  raft_status truncate_prefix(uint64_t first_kept) override;
  raft_status sync() override;
  uint64_t first_index() const override {
    return bounds_.first_index;
  }
  uint64_t last_index() const override {
    return bounds_.last_index;
  }
  uint64_t last_term() const override {
    return bounds_.last_term;
  }

  /// The environment's data file, as named in error messages.
  const std::string& file() const noexcept {
    return file_;
  }

private:
  lmdb_raft_store(node_store& node, unsigned log_dbi, unsigned meta_dbi);

  raft_status write_one(MDB_txn* txn, log_bounds& bounds, const raft_write& w);
  raft_status put_snapshot(MDB_txn* txn, const raft_write& w,
                           const log_bounds& after);
  raft_status put_entries(MDB_txn* txn, uint64_t old_last,
                          const std::vector<log_record>& entries);
  raft_status put_log_start(MDB_txn* txn, const log_bounds& bounds);
  raft_status delete_from(MDB_txn* txn, uint64_t first_deleted);
  raft_status delete_before(MDB_txn* txn, uint64_t first_kept);
  term_lookup lookup(MDB_txn* txn) const;
  raft_status load_meta(MDB_txn* txn, raft_log_state& out);
  raft_status load_snapshot(MDB_txn* txn, raft_log_state& out);
  raft_status load_log(MDB_txn* txn, raft_log_state& out);
  raft_status check_loaded(const raft_log_state& out) const;
  raft_status failure(int rc, const char* doing) const;
  raft_status corrupt(const char* db, const std::string& what) const;

  node_store& node_;
  std::string file_;
  unsigned log_dbi_;
  unsigned meta_dbi_;
  log_bounds bounds_; // as committed; a batch works on a copy
  bool loaded_ = false;
};

} // namespace troupe::storage
