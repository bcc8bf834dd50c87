// RedisConn: one synchronous hiredis connection, ready for the shared
// tier: connected with a timeout (which also bounds every command),
// authenticated, on its database, with the tier's Lua scripts loaded.
//
// Run() pipelines commands (binary-safe arguments, one round trip) and
// tells a broken link (I/O error, EOF, timeout, protocol error: the
// connection is then unusable and must be freed) from error replies
// (e.g. OOM or NOSCRIPT: the connection stays good).
//
// Writing to a socket the server closed raises SIGPIPE, which would end a
// service that did not ignore it. RedisConn sends with MSG_NOSIGNAL itself
// (hiredis 0.14 would write()), so the process's and the thread's signal
// settings are left alone and a call costs no signal-mask system calls.
//
// Not thread-safe: one thread at a time (SharedTier pools them).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/redis_url.h"

struct redisContext;
struct redisReply;

namespace libshard::cache {

struct ReplyFree {
  void operator()(redisReply* r) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// One command: its arguments, binary-safe (they must outlive Run()).
using Command = std::vector<std::string_view>;

class RedisConn {
 public:
  // Connects, AUTHs, SELECTs and loads `scripts` (their SHA1s are then
  // sha(i)). nullptr with `error` set when any step fails; `error` names
  // the server by host:port/db and never holds the password.
  static std::unique_ptr<RedisConn> Open(const RedisEndpoint& endpoint,
                                         std::chrono::milliseconds timeout,
                                         const std::vector<std::string_view>& scripts,
                                         std::string* error);
  ~RedisConn();
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;

  // Sends all commands, then reads one reply per command into `replies`.
  // False when the link broke (`error` set; broken() from then on).
  bool Run(const std::vector<Command>& commands, std::vector<ReplyPtr>* replies,
           std::string* error);
  // Run in two halves, for a caller that overlaps the round trip with other
  // work (a write's invalidation with its COMMIT): Send() writes the
  // commands, Receive() reads `n` replies. Between them the connection
  // belongs to that caller; a connection with replies unread must be freed,
  // not reused.
  bool Send(const std::vector<Command>& commands, std::string* error);
  bool Receive(size_t n, std::vector<ReplyPtr>* replies, std::string* error);
  // Loads script `i` again (after NOSCRIPT: the server's script cache was
  // flushed). False when the link broke or the server refused.
  bool Reload(size_t i, std::string* error);

  const std::string& sha(size_t i) const { return shas_[i]; }
  std::string_view script(size_t i) const { return scripts_[i]; }
  bool broken() const { return broken_; }

 private:
  explicit RedisConn(redisContext* c) : c_(c) {}
  redisContext* c_;
  bool broken_ = false;
  std::vector<std::string_view> scripts_;
  std::vector<std::string> shas_;
};

// The text of an error reply ("" when `r` is not one).
std::string_view ErrorReplyText(const redisReply* r);

}  // namespace libshard::cache
