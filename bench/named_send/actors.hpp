// The measured actors (echo and sink, each in a troupe and a bare CAF
// version) and the paths by which one request or one send reaches them.
#pragma once

#include "net/envelope.hpp"
#include "runtime/defaults.hpp"
#include "runtime/local_actors.hpp"
#include "runtime/named.hpp"
#include "runtime/node_context.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/envelope.pb.h"
#include "troupe/probe.pb.h"

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace troupe::bench {

// -- the measured actors: echo and sink, in a troupe and a bare version ------

/// The Pong every echo answers a Ping with.
v1::Pong echo_answer(const v1::Ping& ping);

// Named echo, built like every named actor: proto_handlers behind a gate.
caf::behavior troupe_echo(caf::event_based_actor*,
                          std::shared_ptr<mailbox_gate> gate);

// Bare echo: the same protobuf work in a plain CAF handler.
caf::behavior bare_echo(caf::event_based_actor*);

// Counts one-way messages and acks every `ack_every` to the sender. Only the
// sink actor touches it once the run started.
struct sink_counter {
  uint64_t total = 0;
  uint64_t ack_every = 0;
  uint64_t received = 0;
  caf::actor ack_to; // set before the sender starts
};

caf::behavior troupe_sink(caf::event_based_actor*,
                          std::shared_ptr<sink_counter> counter,
                          std::shared_ptr<mailbox_gate> gate);

caf::behavior bare_sink(caf::event_based_actor*,
                        std::shared_ptr<sink_counter> counter);

/// Puts `handle` into the table of `ctx` as the running named actor `name`.
void host_named(node_context& ctx, const std::string& name, caf::actor handle,
                std::shared_ptr<mailbox_gate> gate);

// A node's table also holds its supervisors and other workers, so a name
// lookup searches among them.
void add_bystanders(node_context& ctx, size_t n);

/// The envelope of a Ping with `payload_bytes` bytes of payload.
envelope make_ping(size_t payload_bytes);

// -- paths: how one request or one send travels ------------------------------

// self->request(actor, timeout, envelope): bare CAF, local or to a proxy.
struct bare_path {
  caf::actor target;
  envelope msg;
  template <class OnReply, class OnError>
  void ask(caf::event_based_actor* self, OnReply on_reply,
           OnError on_error) const {
    self->request(target, defaults::request_timeout, msg)
        .then(std::move(on_reply), std::move(on_error));
  }
};

// The remote named request as the runtime sends it once the placement is
// known: (route_atom, name, envelope) to the hosting node's gateway.
struct gateway_path {
  caf::actor gateway;
  std::string name;
  envelope msg;
  template <class OnReply, class OnError>
  void ask(caf::event_based_actor* self, OnReply on_reply,
           OnError on_error) const {
    self->request(gateway, defaults::request_timeout, route_atom_v, name, msg)
        .then(std::move(on_reply), std::move(on_error));
  }
};

// The runtime's API: request_by_name, local table or cached placement.
struct named_path {
  node_context_ptr ctx;
  std::string name;
  envelope msg;
  template <class OnReply, class OnError>
  void ask(caf::event_based_actor* self, OnReply on_reply,
           OnError on_error) const {
    request_by_name(self, ctx, name, msg, defaults::request_timeout,
                    std::move(on_reply), std::move(on_error));
  }
};

struct bare_send {
  caf::actor target;
  envelope msg;
  void operator()(caf::event_based_actor*) const {
    caf::anon_send(target, msg);
  }
};

struct named_send {
  node_context_ptr ctx;
  std::string name;
  envelope msg;
  void operator()(caf::event_based_actor* self) const {
    send_by_name(self, ctx, name, msg);
  }
};

} // namespace troupe::bench
