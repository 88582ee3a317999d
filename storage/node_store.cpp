#include "storage/node_store.hpp"

#include <lmdb.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace troupe::storage {

namespace {

constexpr const char* meta_db = "meta";
constexpr size_t map_size_bytes = size_t{1} << 30; // 1 GiB, grows sparse

std::string lmdb_text(int rc) {
  return mdb_strerror(rc);
}

// Holds an exclusive flock on <dir>/LOCK for the node's lifetime. LMDB itself
// allows several processes in one environment, which is exactly what two
// nodes started with the same --data-dir must not do.
int lock_dir(const std::string& dir, store_error& err) {
  auto path = dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    err.message = "cannot open " + path + " (" + std::strerror(errno)
                  + "): check that the data dir is writable";
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    err.message = "data dir " + dir
                  + " is in use by another process: give each node its own "
                    "--data-dir";
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace

node_store::node_store(std::string dir, MDB_env* env, int lock_fd)
  : dir_(std::move(dir)), env_(env), lock_fd_(lock_fd) {
}

node_store::~node_store() {
  store_error ignored;
  sync(ignored);
  mdb_env_close(env_);
  ::close(lock_fd_);
}

std::unique_ptr<node_store> node_store::open(const std::string& dir,
                                             store_error& err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    err.message = "cannot create data dir " + dir + " (" + ec.message()
                  + "): check --data-dir";
    return nullptr;
  }
  int fd = lock_dir(dir, err);
  if (fd < 0)
    return nullptr;
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(env, 16);
  if (rc == 0)
    rc = mdb_env_set_mapsize(env, map_size_bytes);
  if (rc == 0)
    rc = mdb_env_open(env, dir.c_str(), 0, 0644);
  if (rc != 0) {
    err.message = "cannot open LMDB environment in " + dir + " ("
                  + lmdb_text(rc)
                  + "): the data dir holds a damaged or foreign data.mdb; "
                    "move it away or pick another --data-dir";
    if (env != nullptr)
      mdb_env_close(env);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<node_store>{new node_store(dir, env, fd)};
}

std::optional<std::string> node_store::get_meta(const std::string& key) const {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0)
    return std::nullopt;
  MDB_dbi dbi;
  std::optional<std::string> result;
  if (mdb_dbi_open(txn, meta_db, 0, &dbi) == 0) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v;
    if (mdb_get(txn, dbi, &k, &v) == 0)
      result.emplace(static_cast<const char*>(v.mv_data), v.mv_size);
  }
  mdb_txn_abort(txn);
  return result;
}

bool node_store::put_meta(const std::string& key, const std::string& value,
                          store_error& err) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  MDB_dbi dbi;
  if (rc == 0)
    rc = mdb_dbi_open(txn, meta_db, MDB_CREATE, &dbi);
  if (rc == 0) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    rc = mdb_put(txn, dbi, &k, &v, 0);
  }
  if (rc == 0) {
    // Without MDB_NOSYNC, mdb_txn_commit fsyncs before returning.
    rc = mdb_txn_commit(txn);
    txn = nullptr;
  }
  if (txn != nullptr)
    mdb_txn_abort(txn);
  if (rc != 0) {
    err.message = "cannot write to " + dir_ + " (" + lmdb_text(rc)
                  + "): check free space and permissions of the data dir";
    return false;
  }
  return true;
}

std::optional<uint64_t> node_store::bump_incarnation(store_error& err) {
  uint64_t next = 1;
  if (auto cur = get_meta("incarnation")) {
    try {
      next = std::stoull(*cur) + 1;
    } catch (const std::exception&) {
      err.message = "corrupted node metadata in " + dir_
                    + ": incarnation is not a number";
      return std::nullopt;
    }
  }
  if (!put_meta("incarnation", std::to_string(next), err))
    return std::nullopt;
  return next;
}

bool node_store::sync(store_error& err) {
  int rc = mdb_env_sync(env_, 1);
  if (rc != 0) {
    err.message = "fsync of " + dir_ + " failed (" + lmdb_text(rc) + ")";
    return false;
  }
  return true;
}

} // namespace troupe::storage
