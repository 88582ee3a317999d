// libFuzzer target for what a consensus member parses from the network and
// from its log: RaftMessage (raft_wire.cpp's validation on top of protobuf)
// and KvCommand entries applied by the KV state machine.
// Properties: any input yields a message or an error, never a crash; a
// decoded message encodes to bytes that decode to the same message; the
// state machine survives any sequence of commands, and its snapshot
// restores to a state that serializes to the same bytes.
#include "actors/consensus/kv_state.hpp"
#include "actors/consensus/raft_wire.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void fuzz_wire(std::string_view bytes) {
  troupe::v1::RaftMessage wire;
  if (!wire.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return;
  auto m = troupe::raft::from_proto(wire);
  if (!m)
    return;
  auto again = troupe::raft::from_proto(troupe::raft::to_proto(*m));
  if (!again
      || troupe::raft::to_proto(*again).SerializeAsString()
           != troupe::raft::to_proto(*m).SerializeAsString())
    std::abort();
}

// Commands are separated by a 0xfe byte, so one input drives a sequence.
void fuzz_state_machine(std::string_view bytes) {
  troupe::kv::limits lim;
  lim.max_keys = 1000;
  lim.max_leases = 100;
  troupe::kv::kv_state kv{lim};
  std::uint64_t index = 0;
  while (!bytes.empty()) {
    auto cut = bytes.find('\xfe');
    auto command = bytes.substr(0, cut);
    (void) kv.apply(++index, command);
    bytes = cut == std::string_view::npos ? std::string_view{} : bytes.substr(cut + 1);
  }
  auto snap = kv.serialize();
  troupe::kv::kv_state copy{lim};
  if (!copy.restore(snap) || copy.serialize() != snap)
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  fuzz_wire(bytes);
  fuzz_state_machine(bytes);
  return 0;
}
