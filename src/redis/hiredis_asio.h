// The adapter that drives hiredis 0.14's async API from an Asio io_context, for Connection
// (connection.h, which states the ownership rules a Link follows).
//
// hiredis asks, through five hooks (addRead/delRead/addWrite/delWrite/cleanup), to be told when
// its socket is readable or writable: the hooks here wait on the Link's stream_descriptor and call
// redisAsyncHandleRead/Write. hiredis's C callbacks (a reply, a push on a subscription, connect,
// disconnect) reach the Link's Connection through the thunks, which ignore a dead link.
//
// Internal to the redis library (it includes Asio, through connection.h).
//
// Thread-safety: everything here runs on the io_context of the Link's Connection.
#pragma once

#include <deque>
#include <memory>

#include "redis/connection.h"

namespace rendezvous::redis {

struct Connection::Link : std::enable_shared_from_this<Link> {
  Link(Connection* owner, boost::asio::io_context& io) : owner(owner), fd(io) {}
  // Only a dead link whose free was posted to a worker's io_context, and destroyed unrun with
  // it, still has a context here (the thunks ignore a dead link: its owner may be gone).
  ~Link();

  Connection* const owner;
  redisAsyncContext* ac = nullptr;  // null once hiredis has freed (or is freeing) the context
  boost::asio::posix::stream_descriptor fd;
  bool want_read = false;
  bool want_write = false;
  bool read_armed = false;
  bool write_armed = false;
  bool ready = false;  // the handshake succeeded: user commands may be sent
  bool dead = false;   // its commands were failed already; later hiredis callbacks are ignored
  bool flush_posted = false;  // a FlushWrites is queued
  SteadyTime connect_deadline;
  std::deque<Pending> pending;
};

// Makes `link` drive its context (link.ac, whose socket link.fd holds): installs the five hooks
// and the connect and disconnect callbacks.
void AttachHooks(Connection::Link& link);

// The reply callbacks to pass to redisAsyncFormattedCommand (privdata unused): a command's reply
// goes to Connection::OnReply, a subscription's push to Connection::OnPush.
void ReplyThunk(redisAsyncContext* ac, void* reply, void* privdata);
void PushThunk(redisAsyncContext* ac, void* reply, void* privdata);

// hiredis's reply tree, copied into a Reply (hiredis frees its own after the callback).
Reply ConvertReply(const redisReply& r);

}  // namespace rendezvous::redis
