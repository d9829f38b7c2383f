// The hiredis <-> Asio adapter (hiredis_asio.h): the hooks, the waits they arm and the thunks.
#include "redis/hiredis_asio.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/ioctl.h>

#include <boost/asio/post.hpp>

namespace rendezvous::redis {

using Link = Connection::Link;

Link::~Link() {
  if (ac != nullptr) redisAsyncFree(ac);
}

Reply ConvertReply(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r.type == REDIS_REPLY_STRING   ? Reply::Type::kString
                 : r.type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                                : Reply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(ConvertReply(*r.element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

namespace {

// Bytes waiting in the socket. hiredis reads at most 16 KiB per redisAsyncHandleRead, and an Asio
// wait only completes on a new readiness edge, so leftover bytes must be read without waiting.
bool BytesAvailable(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

void ArmRead(const std::shared_ptr<Link>& link);
void ArmWrite(const std::shared_ptr<Link>& link);

void HandleReadable(const std::shared_ptr<Link>& link) {
  if (link->ac == nullptr || !link->want_read) return;
  redisAsyncHandleRead(link->ac);  // may free the context: the cleanup hook nulls link->ac
  if (link->ac == nullptr || !link->want_read) return;
  if (BytesAvailable(link->ac->c.fd)) {
    boost::asio::post(link->fd.get_executor(), [link] { HandleReadable(link); });
  } else {
    ArmRead(link);
  }
}

void ArmRead(const std::shared_ptr<Link>& link) {
  if (link->read_armed || link->ac == nullptr) return;
  link->read_armed = true;
  link->fd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [link](const boost::system::error_code& ec) {
                        link->read_armed = false;
                        if (!ec) HandleReadable(link);
                      });
}

void ArmWrite(const std::shared_ptr<Link>& link) {
  if (link->write_armed || link->ac == nullptr) return;
  link->write_armed = true;
  link->fd.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                      [link](const boost::system::error_code& ec) {
                        link->write_armed = false;
                        if (ec || link->ac == nullptr || !link->want_write) return;
                        redisAsyncHandleWrite(link->ac);  // may free the context, as above
                        if (link->ac != nullptr && link->want_write) ArmWrite(link);
                      });
}

// The hooks hiredis calls (ev.data is the Link). They must be idempotent.
void HookAddRead(void* data) {
  auto* link = static_cast<Link*>(data);
  link->want_read = true;
  ArmRead(link->shared_from_this());
}
void HookDelRead(void* data) { static_cast<Link*>(data)->want_read = false; }
// hiredis asks to write whenever a command joins its output buffer. Instead of waiting for the
// socket to be writable (an epoll_ctl and a reactor round per batch), one flush is posted: it runs
// after the handlers already queued on this thread, so every command they enqueue leaves in the
// same write. Only a socket that does not take everything waits for writability.
void FlushWrites(const std::shared_ptr<Link>& link) {
  link->flush_posted = false;
  if (link->ac == nullptr || !link->want_write) return;
  // Until hiredis has seen the connect complete, that happens on writability.
  if ((link->ac->c.flags & REDIS_CONNECTED) == 0) return ArmWrite(link);
  redisAsyncHandleWrite(link->ac);  // may free the context, as above
  if (link->ac != nullptr && link->want_write) ArmWrite(link);
}

void HookAddWrite(void* data) {
  auto* link = static_cast<Link*>(data);
  link->want_write = true;
  if (link->flush_posted || link->write_armed) return;
  link->flush_posted = true;
  boost::asio::post(link->fd.get_executor(),
                    [link = link->shared_from_this()] { FlushWrites(link); });
}
void HookDelWrite(void* data) { static_cast<Link*>(data)->want_write = false; }
// Called while hiredis frees the context, just before it closes the fd.
void HookCleanup(void* data) {
  auto* link = static_cast<Link*>(data);
  link->ac = nullptr;
  link->want_read = link->want_write = false;
  link->fd.release();  // cancels our waits; hiredis closes the fd, we never do
}

void ConnectThunk(const redisAsyncContext* ac, int status) {
  auto* link = static_cast<Link*>(ac->ev.data);
  if (link->dead) return;
  link->owner->OnConnected(*link, status == REDIS_OK);
}
void DisconnectThunk(const redisAsyncContext* ac, int /*status*/) {
  auto* link = static_cast<Link*>(ac->ev.data);
  if (link->dead) return;
  link->owner->OnDisconnected(*link);
}

}  // namespace

void ReplyThunk(redisAsyncContext* ac, void* reply, void* /*privdata*/) {
  auto* link = static_cast<Link*>(ac->ev.data);
  if (link->dead) return;
  link->owner->OnReply(*link, static_cast<const redisReply*>(reply));
}
void PushThunk(redisAsyncContext* ac, void* reply, void* /*privdata*/) {
  auto* link = static_cast<Link*>(ac->ev.data);
  if (link->dead) return;
  link->owner->OnPush(*link, static_cast<const redisReply*>(reply));
}

void AttachHooks(Link& link) {
  redisAsyncContext* ac = link.ac;
  ac->ev.data = &link;
  ac->ev.addRead = HookAddRead;
  ac->ev.delRead = HookDelRead;
  ac->ev.addWrite = HookAddWrite;
  ac->ev.delWrite = HookDelWrite;
  ac->ev.cleanup = HookCleanup;
  redisAsyncSetConnectCallback(ac, ConnectThunk);
  redisAsyncSetDisconnectCallback(ac, DisconnectThunk);
}

}  // namespace rendezvous::redis
