#include "actors/consensus/raft_persistence.hpp"

#include "actors/consensus/raft_wire.hpp"
#include "net/errors.hpp"

namespace troupe::raft {

void memory_persistence::persist(storage::raft_write write, persist_done done) {
  storage::raft_write batch[] = {std::move(write)};
  done(store_.write(batch));
}

void writer_persistence::persist(storage::raft_write write, persist_done done) {
  // The writer never calls `done` for a refused request, so report the
  // refusal here; the shell treats it like a failed write.
  auto status = writer_.submit(std::move(write), done);
  if (!status.ok())
    done(status);
}

std::optional<storage::raft_write> to_write(const ready& batch) {
  if (!batch.state && batch.entries.empty() && !batch.snap && batch.compact_before == 0)
    return std::nullopt;
  storage::raft_write w;
  if (batch.snap)
    w.snapshot = storage::snapshot_record{batch.snap->meta.index, batch.snap->meta.term,
                                          encode_membership(batch.snap->meta.members),
                                          batch.snap->data};
  w.reset_log = batch.snap_received;
  if (batch.state)
    // The commit index is not persisted (docs/raft.md): on restart the state
    // machine starts from the snapshot and applies the log after it again.
    w.hard_state = storage::hard_state_record{batch.state->term,
                                              batch.state->voted_for, 0};
  w.entries.reserve(batch.entries.size());
  for (auto& e : batch.entries)
    w.entries.push_back(storage::log_record{e.index, e.term,
                                            static_cast<uint8_t>(e.kind),
                                            e.command});
  w.compact_before = batch.compact_before;
  return w;
}

caf::expected<persisted_state> restore(const storage::raft_log_state& loaded) {
  persisted_state out;
  if (loaded.hard_state)
    out.state = hard_state{loaded.hard_state->term, loaded.hard_state->voted_for};
  if (loaded.snapshot) {
    auto& s = *loaded.snapshot;
    auto members = decode_membership(s.membership);
    if (!members)
      return make_error(errc::storage_failure,
                        "raft snapshot at index " + std::to_string(s.index)
                          + " holds no valid membership");
    out.snap = snapshot{snapshot_meta{s.index, s.term, std::move(*members)}, s.data};
  }
  auto snap_index = out.snap ? out.snap->meta.index : 0;
  if (loaded.first_index != 1 && loaded.first_index > snap_index + 1)
    return make_error(errc::storage_failure,
                      "raft log starts at index " + std::to_string(loaded.first_index)
                        + " but the newest snapshot ends at "
                        + std::to_string(snap_index)
                        + ": entries in between are missing");
  out.log.reserve(loaded.log.size());
  for (auto& r : loaded.log) {
    if (r.kind > static_cast<uint8_t>(entry_kind::config))
      return make_error(errc::storage_failure,
                        "raft log entry " + std::to_string(r.index)
                          + " has unknown kind " + std::to_string(r.kind));
    if (r.kind == static_cast<uint8_t>(entry_kind::config) && !decode_membership(r.payload))
      return make_error(errc::storage_failure,
                        "raft config entry " + std::to_string(r.index)
                          + " holds no valid membership");
    out.log.push_back(entry{r.term, r.index, static_cast<entry_kind>(r.kind), r.payload});
  }
  return out;
}

} // namespace troupe::raft
