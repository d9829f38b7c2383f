// Connection (connection.h): its lifecycle (connect, handshake, reconnect with backoff, drain,
// stop), sending commands and the deadline tick. The hiredis <-> Asio adapter is hiredis_asio.cc.
#include "redis/connection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "redis/hiredis_asio.h"

namespace rendezvous::redis {
namespace {

std::chrono::nanoseconds ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

}  // namespace

Connection::Connection(const ClientOptions& options, Subscription* subscription)
    : options_(options),
      subscription_(subscription),
      connect_timeout_(ToChrono(options.connect_timeout)),
      command_timeout_(ToChrono(options.command_timeout)),
      tick_period_(std::max<std::chrono::nanoseconds>(
          std::chrono::milliseconds(1), std::min(connect_timeout_, command_timeout_) / 4)),
      own_io_(std::make_unique<boost::asio::io_context>(1)),
      io_(*own_io_),
      work_(io_.get_executor()),
      tick_timer_(io_),
      backoff_timer_(io_),
      backoff_(ToChrono(options.backoff_min)) {
  boost::asio::post(io_, [this] {
    StartConnect();
    Tick();
  });
  thread_ = std::thread([this] { io_.run(); });
}

Connection::Connection(const ClientOptions& options, boost::asio::io_context& io)
    : options_(options),
      subscription_(nullptr),
      connect_timeout_(ToChrono(options.connect_timeout)),
      command_timeout_(ToChrono(options.command_timeout)),
      tick_period_(std::max<std::chrono::nanoseconds>(
          std::chrono::milliseconds(1), std::min(connect_timeout_, command_timeout_) / 4)),
      io_(io),
      tick_timer_(io_),
      backoff_timer_(io_),
      backoff_(ToChrono(options.backoff_min)) {
  Post([this] {
    StartConnect();
    Tick();
  });
}

Connection::~Connection() {
  if (own_io_ != nullptr) {
    boost::asio::post(io_, [this] { Stop(); });
    thread_.join();
    return;
  }
  // A worker connection: no thread runs the io_context now, so this thread may act for it. Its
  // tasks still queued there (and the cancelled waits of the timers and the socket) find the
  // Connection gone when they run or are destroyed with the io_context.
  Stop();
  alive_.reset();
}

void Connection::Post(absl::AnyInvocable<void()> task) {
  boost::asio::post(io_, [alive = std::weak_ptr<char>(alive_), task = std::move(task)]() mutable {
    if (!alive.expired()) task();
  });
}

void Connection::Stop() {
  if (!stopping_) {
    stopping_ = true;
    tick_timer_.cancel();
    backoff_timer_.cancel();
    if (std::shared_ptr<Link> link = link_) {
      LinkDied(*link, CommandError::kShutdown, /*free_context=*/false);
      if (link->ac != nullptr) redisAsyncFree(link->ac);  // not inside a hiredis callback here
    }
  }
  if (work_) work_->reset();  // run() returns once the cancelled handlers have run
}

void Connection::Send(std::string command, ReplyCallback done) {
  if (!ready_.load(std::memory_order_acquire)) {
    done(CommandError::kDisconnected, Reply{});
    return;
  }
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= options_.max_pending) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(CommandError::kOverloaded, Reply{});
    return;
  }
  SteadyTime deadline = std::chrono::steady_clock::now() + command_timeout_;
  boost::asio::post(
      io_, [this, command = std::move(command), done = std::move(done), deadline]() mutable {
        Pending pending{
            [this, done = std::move(done)](CommandError error, const redisReply* reply) mutable {
              in_flight_.fetch_sub(1, std::memory_order_relaxed);
              done(error, error == CommandError::kOk ? ConvertReply(*reply) : Reply{});
            },
            deadline};
        if (link_ == nullptr || !link_->ready) {
          pending.done(CommandError::kDisconnected, nullptr);
          return;
        }
        (void)Enqueue(*link_, command, std::move(pending));
      });
}

bool Connection::ServesHere() const {
  return link_ != nullptr && link_->ready && !draining_ && !stopping_;
}

void Connection::SendHere(std::string_view command, ReplyCallback done) {
  // The commands in flight are the link's FIFO, touched only on this thread: no counter to share.
  if (link_->pending.size() >= options_.max_pending) {
    done(CommandError::kOverloaded, Reply{});
    return;
  }
  Pending pending{[done = std::move(done)](CommandError error, const redisReply* reply) mutable {
                    done(error, error == CommandError::kOk ? ConvertReply(*reply) : Reply{});
                  },
                  std::chrono::steady_clock::now() + command_timeout_};
  (void)Enqueue(*link_, command, std::move(pending));
}

void Connection::Drain() {
  Post([this] {
    draining_ = true;
    MaybeFinishDrain();
  });
}

void Connection::MaybeFinishDrain() {
  if (!draining_ || stopping_) return;
  if (link_ != nullptr && !link_->pending.empty()) return;  // OnReply or the deadline comes back
  Post([this] { Stop(); });
}

bool Connection::Enqueue(Link& link, std::string_view command, Pending pending) {
  link.pending.push_back(std::move(pending));
  if (redisAsyncFormattedCommand(link.ac, ReplyThunk, nullptr, command.data(), command.size()) !=
      REDIS_OK) {
    Pending failed = std::move(link.pending.back());
    link.pending.pop_back();
    failed.done(CommandError::kDisconnected, nullptr);
    return false;
  }
  return true;
}

void Connection::StartConnect() {
  if (stopping_) return;
  const Endpoint& endpoint = options_.endpoint;
  redisAsyncContext* ac = endpoint.kind == Endpoint::Kind::kUnix
                              ? redisAsyncConnectUnix(endpoint.path.c_str())
                              : redisAsyncConnect(endpoint.host.c_str(), endpoint.port);
  if (ac == nullptr || ac->err != 0) {
    if (ac != nullptr) redisAsyncFree(ac);  // no hooks attached yet: a plain free
    ScheduleReconnect();
    return;
  }
  auto link = std::make_shared<Link>(this, io_);
  link->ac = ac;
  link->connect_deadline = std::chrono::steady_clock::now() + connect_timeout_;
  boost::system::error_code ec;
  link->fd.assign(ac->c.fd, ec);
  if (ec) {
    redisAsyncFree(ac);
    ScheduleReconnect();
    return;
  }
  // A subscriber sends nothing after SUBSCRIBE, so no command deadline would notice a peer that
  // vanished without closing the socket; TCP keepalive does (hiredis: idle 15 s, then probes).
  if (subscription_ != nullptr && endpoint.kind != Endpoint::Kind::kUnix) {
    (void)redisEnableKeepAlive(&ac->c);
  }
  AttachHooks(*link);
  link_ = link;
  StartHandshake(link);
}

void Connection::StartHandshake(const std::shared_ptr<Link>& link) {
  // AUTH, SELECT and PING are written with the connect (hiredis buffers them until the socket is
  // writable); each checks its reply, and PING's marks the link ready.
  SteadyTime deadline = link->connect_deadline;
  auto expect = [this, link](std::string what, bool last) {
    return [this, link, what = std::move(what), last](CommandError error, const redisReply* r) {
      if (error != CommandError::kOk) return;  // the link is failing already
      if (r->type == REDIS_REPLY_ERROR) {
        std::string failure =
            absl::StrCat("redis: ", what, " failed on ", EndpointForLog(options_.endpoint), ": ",
                         std::string(r->str, r->len));
        // Once per distinct failure, not once per attempt of the reconnect loop.
        if (failure != last_failure_) common::LogWarning(failure);
        last_failure_ = std::move(failure);
        LinkDied(*link, CommandError::kDisconnected, /*free_context=*/true);
        return;
      }
      if (!last) return;
      if (subscription_ == nullptr) return MarkReady(link);
      // The confirmation (OnPush) marks the link ready; until then the connect deadline holds.
      std::string subscribe = FormatCommand({"SUBSCRIBE", subscription_->channel});
      if (redisAsyncFormattedCommand(link->ac, PushThunk, nullptr, subscribe.data(),
                                     subscribe.size()) != REDIS_OK) {
        LinkDied(*link, CommandError::kDisconnected, /*free_context=*/true);
      }
    };
  };
  const Endpoint& endpoint = options_.endpoint;
  if (!endpoint.password.empty()) {
    std::string command = endpoint.user.empty()
                              ? FormatCommand({"AUTH", endpoint.password})
                              : FormatCommand({"AUTH", endpoint.user, endpoint.password});
    if (!Enqueue(*link, command, Pending{expect("AUTH", false), deadline})) return;
  }
  if (endpoint.db != 0) {
    std::string db = absl::StrCat(endpoint.db);
    if (!Enqueue(*link, FormatCommand({"SELECT", db}),
                 Pending{expect("SELECT", false), deadline})) {
      return;
    }
  }
  (void)Enqueue(*link, FormatCommand({"PING"}), Pending{expect("PING", true), deadline});
}

void Connection::MarkReady(const std::shared_ptr<Link>& link) {
  link->ready = true;
  backoff_ = ToChrono(options_.backoff_min);
  if (link == link_) ready_.store(true, std::memory_order_release);
  if (!was_connected_) {
    const std::string where = EndpointForLog(options_.endpoint);
    common::LogInfo(subscription_ == nullptr
                        ? absl::StrCat("redis: connected to ", where)
                        : absl::StrCat("redis: subscribed to ", subscription_->channel, " on ",
                                       where));
  }
  was_connected_ = true;
  last_failure_.clear();
}

void Connection::OnPush(Link& link, const redisReply* reply) {
  // Null: hiredis is freeing the context; OnDisconnected (or our own free) handles that.
  if (link.dead || reply == nullptr || subscription_ == nullptr) return;
  // RESP2 push replies: ["subscribe", channel, count] and ["message", channel, payload].
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
      reply->element[0]->type != REDIS_REPLY_STRING) {
    return;
  }
  const std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  const redisReply* payload = reply->element[2];
  if (kind == "message") {
    if (!link.ready || payload->type != REDIS_REPLY_STRING ||
        payload->len > subscription_->max_message_bytes) {
      return;
    }
    subscription_->on_message(std::string_view(payload->str, payload->len));
  } else if (kind == "subscribe" && !link.ready) {
    // Told before connected() turns true, so that whoever waits for that sees its effects.
    subscription_->on_subscribed();
    MarkReady(link.shared_from_this());
  }
}

void Connection::OnReply(Link& link, const redisReply* reply) {
  if (link.dead || link.pending.empty()) return;
  Pending pending = std::move(link.pending.front());
  link.pending.pop_front();
  // A null reply: hiredis is freeing the context with this command unanswered.
  pending.done(reply != nullptr ? CommandError::kOk : CommandError::kDisconnected, reply);
  if (draining_) MaybeFinishDrain();
}

void Connection::OnConnected(Link& link, bool ok) {
  // On failure hiredis frees the context right after this callback.
  if (!ok) LinkDied(link, CommandError::kDisconnected, /*free_context=*/false);
}

void Connection::OnDisconnected(Link& link) {
  // hiredis has run every pending callback with a null reply already, and frees the context next.
  LinkDied(link, CommandError::kDisconnected, /*free_context=*/false);
}

void Connection::LinkDied(Link& link, CommandError error, bool free_context) {
  if (link.dead) return;
  link.dead = true;
  std::shared_ptr<Link> keep = link.shared_from_this();
  bool current = link_ == keep;
  if (current) {
    ready_.store(false, std::memory_order_release);
    link_.reset();
  }
  SteadyTime now = std::chrono::steady_clock::now();
  std::deque<Pending> pending = std::move(link.pending);
  link.pending.clear();
  for (Pending& p : pending) {
    p.done(
        error == CommandError::kTimeout && p.deadline > now ? CommandError::kDisconnected : error,
        nullptr);
  }
  if (free_context) {
    // Never inside a hiredis callback: the free runs from the io_context (a Link outlives its
    // Connection there, so this needs no Post).
    boost::asio::post(io_, [keep] {
      if (keep->ac != nullptr) redisAsyncFree(keep->ac);
    });
  }
  if (current && draining_) {
    MaybeFinishDrain();  // a draining connection does not come back
  } else if (current && !stopping_) {
    if (was_connected_) {
      common::LogWarning(absl::StrCat(
          "redis: lost the connection to ", EndpointForLog(options_.endpoint),
          error == CommandError::kTimeout ? " (a command timed out)" : "", "; reconnecting"));
    }
    was_connected_ = false;
    ScheduleReconnect();
  }
}

void Connection::ScheduleReconnect() {
  if (stopping_) return;
  backoff_timer_.expires_after(backoff_);
  backoff_ = std::min<std::chrono::nanoseconds>(backoff_ * 2, ToChrono(options_.backoff_max));
  backoff_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) StartConnect();
  });
}

void Connection::Tick() {
  if (stopping_) return;
  if (std::shared_ptr<Link> link = link_) {
    SteadyTime now = std::chrono::steady_clock::now();
    if (!link->ready && now >= link->connect_deadline) {
      LinkDied(*link, CommandError::kDisconnected, /*free_context=*/true);
    } else if (!link->pending.empty() && now >= link->pending.front().deadline) {
      LinkDied(*link, CommandError::kTimeout, /*free_context=*/true);
    }
  }
  tick_timer_.expires_after(tick_period_);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

}  // namespace rendezvous::redis
