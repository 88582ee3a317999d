// The node's LMDB environment under --data-dir.
//
// One environment per node (DESIGN.md, "Storage"). This layer owns opening it
// (with a clear error for a missing, unwritable, locked or corrupted
// directory), the node's persistent metadata, and the final flush on
// shutdown. Raft's log store will add its own tables to the same environment.
//
// Thread-safety: every method may be called from any thread, but write
// transactions block on fsync, so never call them inside an actor handler.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

struct MDB_env;

namespace troupe::storage {

/// A failure with a message that says what to do, e.g.
/// "data dir /x is not writable (Permission denied): fix its permissions".
struct store_error {
  std::string message;
};

class node_store {
public:
  ~node_store();
  node_store(const node_store&) = delete;
  node_store& operator=(const node_store&) = delete;

  /// Opens (creating if needed) the environment in `dir`. Fails if the
  /// directory cannot be created or written, if another process holds it
  /// (two nodes must never share a data dir), or if the file is not an LMDB
  /// environment.
  static std::unique_ptr<node_store> open(const std::string& dir,
                                          store_error& err);

  /// Increments the node's incarnation and fsyncs it before returning.
  /// Returns the new value (1 on the first start), or nullopt on error.
  std::optional<uint64_t> bump_incarnation(store_error& err);

  /// Reads a metadata value; nullopt if absent.
  std::optional<std::string> get_meta(const std::string& key) const;

  /// Writes a metadata value durably (fsync before returning).
  bool put_meta(const std::string& key, const std::string& value,
                store_error& err);

  /// Forces everything to disk. Called once more on graceful shutdown.
  bool sync(store_error& err);

  const std::string& dir() const noexcept { return dir_; }

  /// The environment, for stores that keep their own named databases in it
  /// (lmdb_raft_store). Valid while this node_store lives.
  MDB_env* env() const noexcept { return env_; }

private:
  node_store(std::string dir, MDB_env* env, int lock_fd);

  std::string dir_;
  MDB_env* env_;
  int lock_fd_;
};

} // namespace troupe::storage
