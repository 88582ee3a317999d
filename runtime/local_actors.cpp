#include "runtime/local_actors.hpp"

#include <mutex>

namespace troupe {

void local_actors::upsert(local_actor_entry entry) {
  std::unique_lock guard{mtx_};
  auto key = entry.name;
  entries_.insert_or_assign(std::move(key), std::move(entry));
}

bool local_actors::update(const std::string& name,
                          const std::function<void(local_actor_entry&)>& fn) {
  std::unique_lock guard{mtx_};
  auto i = entries_.find(name);
  if (i == entries_.end())
    return false;
  fn(i->second);
  return true;
}

void local_actors::erase_subtree(const std::string& name) {
  std::unique_lock guard{mtx_};
  std::vector<std::string> doomed{name};
  // Children always come after parents in discovery order, so a single
  // growing worklist collects the whole subtree.
  for (size_t i = 0; i < doomed.size(); ++i)
    for (auto& [key, entry] : entries_)
      if (entry.parent == doomed[i])
        doomed.push_back(key);
  for (auto& key : doomed)
    entries_.erase(key);
}

std::optional<local_actors::route>
local_actors::find_route(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = entries_.find(name);
  if (i == entries_.end() || i->second.gate == nullptr)
    return std::nullopt;
  return route{i->second.handle, i->second.gate};
}

std::optional<local_actor_entry>
local_actors::find(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = entries_.find(name);
  if (i == entries_.end())
    return std::nullopt;
  return i->second;
}

std::vector<local_actor_entry> local_actors::snapshot() const {
  std::shared_lock guard{mtx_};
  std::vector<local_actor_entry> result;
  result.reserve(entries_.size());
  for (auto& [key, entry] : entries_)
    result.push_back(entry);
  return result;
}

std::vector<std::string> local_actors::routable_names() const {
  std::shared_lock guard{mtx_};
  std::vector<std::string> result;
  for (auto& [key, entry] : entries_)
    if (entry.gate != nullptr)
      result.push_back(key);
  return result;
}

} // namespace troupe
