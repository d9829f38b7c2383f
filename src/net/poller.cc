#include "net/poller.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace rendezvous::net {

namespace {

boost::system::error_code LastError() {
  return boost::system::error_code(errno, boost::system::system_category());
}

}  // namespace

Poller::Poller(boost::asio::io_context& io_context, absl::AnyInvocable<void()> after_dispatch)
    : descriptor_(io_context), after_dispatch_(std::move(after_dispatch)) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    create_error_ = LastError();
    return;
  }
  descriptor_.assign(fd, create_error_);
  if (create_error_) ::close(fd);
}

Poller::~Poller() = default;

boost::system::error_code Poller::Add(int fd, PollTarget* target) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  event.data.ptr = target;
  if (::epoll_ctl(descriptor_.native_handle(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return LastError();
  }
  return {};
}

boost::system::error_code Poller::WatchWritable(int fd, PollTarget* target) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = target;
  // A modification re-checks readiness, so room that appeared since the EAGAIN is not missed.
  if (::epoll_ctl(descriptor_.native_handle(), EPOLL_CTL_MOD, fd, &event) != 0) {
    return LastError();
  }
  return {};
}

boost::system::error_code Poller::Start() {
  if (create_error_) return create_error_;
  stopped_ = false;
  Wait();
  return {};
}

void Poller::Stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
}

void Poller::Wait() {
  if (stopped_) return;
  descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](boost::system::error_code ec) {
                           if (ec || stopped_) return;
                           Dispatch();
                           Wait();
                         });
}

void Poller::Dispatch() {
  epoll_event events[kBatch];
  dispatching_ = true;
  int n;
  do {
    n = ::epoll_wait(descriptor_.native_handle(), events, kBatch, 0);
    for (int i = 0; i < n; ++i) {
      static_cast<PollTarget*>(events[i].data.ptr)->OnPollEvents(events[i].events);
    }
  } while (n == kBatch);
  dispatching_ = false;
  after_dispatch_();
}

}  // namespace rendezvous::net
