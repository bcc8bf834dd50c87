// RedisConn over hiredis 0.14's synchronous API (see redis_conn.h).
#include "cache/redis_conn.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace libshard::cache {
namespace {

// Sends the whole buffer on the connection's socket. MSG_NOSIGNAL: writing
// to a socket the server closed gives EPIPE instead of raising SIGPIPE,
// which would end a service that does not ignore it; hiredis 0.14 would
// write() (see redis_conn.h). The socket is blocking with hiredis's send
// timeout (SO_SNDTIMEO), so a stalled server ends in EAGAIN.
bool SendAll(int fd, const char* data, size_t len, std::string* error) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = (errno == EAGAIN || errno == EWOULDBLOCK) ? std::string("timed out")
                                                         : std::string(std::strerror(errno));
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// hiredis reports a socket timeout as an I/O error with EAGAIN's text.
std::string LinkError(const redisContext* c) {
  if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return "timed out";
  }
  if (c->err == REDIS_ERR_EOF) return "the server closed the connection";
  return c->errstr[0] != '\0' ? std::string(c->errstr) : std::string("I/O error");
}

// A server message, with the password cut out should the server ever echo
// it (Redis does not today; this keeps it so).
std::string Scrub(std::string_view text, const std::string& password) {
  std::string out(text);
  if (password.empty()) return out;
  for (size_t p = out.find(password); p != std::string::npos; p = out.find(password, p + 3)) {
    out.replace(p, password.size(), "***");
  }
  return out;
}

}  // namespace

void ReplyFree::operator()(redisReply* r) const { freeReplyObject(r); }

std::string_view ErrorReplyText(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return {};
  return std::string_view(r->str, r->len);
}

std::unique_ptr<RedisConn> RedisConn::Open(const RedisEndpoint& ep,
                                           std::chrono::milliseconds timeout,
                                           const std::vector<std::string_view>& scripts,
                                           std::string* error) {
  const timeval tv = ToTimeval(timeout);
  redisContext* c = redisConnectWithTimeout(ep.host.c_str(), ep.port, tv);
  if (c == nullptr) {
    *error = "cannot allocate a connection";
    return nullptr;
  }
  std::unique_ptr<RedisConn> conn(new RedisConn(c));
  if (c->err != 0) {
    *error = "cannot connect: " + LinkError(c);
    return nullptr;
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    *error = "cannot set the socket timeout: " + LinkError(c);
    return nullptr;
  }
  // All setup in one round trip: AUTH, SELECT, SCRIPT LOAD × n.
  const std::string db = std::to_string(ep.db);
  std::vector<Command> cmds;
  std::vector<std::string> what;
  if (!ep.password.empty()) {
    if (ep.user.empty()) {
      cmds.push_back({"AUTH", ep.password});
    } else {
      cmds.push_back({"AUTH", ep.user, ep.password});  // Redis 6+ ACL user
    }
    what.push_back("AUTH");
  }
  if (ep.db != 0) {
    cmds.push_back({"SELECT", db});
    what.push_back("SELECT " + db);
  }
  for (std::string_view s : scripts) {
    cmds.push_back({"SCRIPT", "LOAD", s});
    what.push_back("SCRIPT LOAD");
  }
  std::vector<ReplyPtr> replies;
  if (!conn->Run(cmds, &replies, error)) return nullptr;
  for (size_t i = 0; i < replies.size(); ++i) {
    std::string_view err = ErrorReplyText(replies[i].get());
    if (!err.empty()) {
      *error = what[i] + " refused: " + Scrub(err, ep.password);
      return nullptr;
    }
  }
  conn->scripts_ = scripts;
  const size_t first_script = replies.size() - scripts.size();
  for (size_t i = first_script; i < replies.size(); ++i) {
    const redisReply* r = replies[i].get();
    if (r->type != REDIS_REPLY_STRING) {
      *error = "SCRIPT LOAD gave an unexpected reply";
      return nullptr;
    }
    conn->shas_.emplace_back(r->str, r->len);
  }
  return conn;
}

RedisConn::~RedisConn() { redisFree(c_); }

bool RedisConn::Run(const std::vector<Command>& commands, std::vector<ReplyPtr>* replies,
                    std::string* error) {
  replies->clear();
  return Send(commands, error) && Receive(commands.size(), replies, error);
}

bool RedisConn::Send(const std::vector<Command>& commands, std::string* error) {
  if (broken_) {
    *error = "the connection is broken";
    return false;
  }
  // The commands are formatted here and sent with SendAll, so hiredis's
  // output buffer stays empty and redisGetReply only reads.
  std::string out;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Command& cmd : commands) {
    argv.clear();
    lens.clear();
    for (std::string_view a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    char* formatted = nullptr;
    const int n =
        redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (n < 0) {
      *error = "cannot format a command";  // out of memory; the link is still good
      return false;
    }
    out.append(formatted, static_cast<size_t>(n));
    redisFreeCommand(formatted);
  }
  if (!SendAll(c_->fd, out.data(), out.size(), error)) {
    broken_ = true;
    return false;
  }
  return true;
}

bool RedisConn::Receive(size_t n, std::vector<ReplyPtr>* replies, std::string* error) {
  replies->clear();
  if (broken_) {
    *error = "the connection is broken";
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK || r == nullptr) {
      broken_ = true;
      *error = LinkError(c_);
      replies->clear();
      return false;
    }
    replies->emplace_back(static_cast<redisReply*>(r));
  }
  return true;
}

bool RedisConn::Reload(size_t i, std::string* error) {
  std::vector<ReplyPtr> replies;
  if (!Run({{"SCRIPT", "LOAD", scripts_[i]}}, &replies, error)) return false;
  const redisReply* r = replies[0].get();
  if (r->type != REDIS_REPLY_STRING) {
    *error = "SCRIPT LOAD refused: " + std::string(ErrorReplyText(r));
    return false;
  }
  shas_[i].assign(r->str, r->len);
  return true;
}

}  // namespace libshard::cache
