// ParseRedisUrl: strict, so that a typo in a config fails at load time and
// not as a cache that silently never connects. Messages never quote the
// URL: a mistyped URL may put the password where the host or port is
// expected (a missing '@'), so only what is wrong is named, never a part.
#include "cache/redis_url.h"

#include <charconv>
#include <string>

namespace libshard::cache {
namespace {

constexpr std::string_view kScheme = "redis://";

Status Bad(std::string_view what) {
  return Status::InvalidConfig("redis URL (redis://[[user]:password@]host[:port][/db]): " +
                               std::string(what));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX → the byte; false on a '%' not followed by two hex digits.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_';
}

bool IsIpv6Char(char c) { return HexValue(c) >= 0 || c == ':' || c == '.'; }

// Digits only (no sign, no spaces), at most `max_digits`, in [lo, hi].
bool ParseNumber(std::string_view s, size_t max_digits, int lo, int hi, int* out) {
  if (s.empty() || s.size() > max_digits) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  if (url.substr(0, kScheme.size()) != kScheme) return Bad("must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisEndpoint ep;

  // The userinfo ends at the LAST '@': a host, port or db never holds one,
  // and a password may (as '/', '?' or '#' too), percent-encoded or not.
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return Bad("the part before '@' must be [user]:password");
    }
    if (!PercentDecode(userinfo.substr(0, colon), &ep.user)) {
      return Bad("the user has a '%' not followed by two hex digits");
    }
    if (!PercentDecode(userinfo.substr(colon + 1), &ep.password)) {
      return Bad("the password has a '%' not followed by two hex digits");
    }
    if (ep.password.empty()) return Bad("the password before '@' is empty");
  }

  // host, [IPv6] or name/IPv4, then :port, then /db.
  std::string_view after;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Bad("an IPv6 host needs its closing ']'");
    std::string_view host = rest.substr(1, close - 1);
    if (host.empty() || host.find(':') == std::string_view::npos) {
      return Bad("the IPv6 address between [ ] is not valid");
    }
    for (char c : host) {
      if (!IsIpv6Char(c)) return Bad("the IPv6 address between [ ] is not valid");
    }
    ep.host = std::string(host);
    after = rest.substr(close + 1);
  } else {
    size_t end = 0;
    while (end < rest.size() && IsHostNameChar(rest[end])) ++end;
    if (end == 0) return Bad("the host is missing or has a character not allowed in a host name");
    ep.host = std::string(rest.substr(0, end));
    after = rest.substr(end);
  }

  if (!after.empty() && after[0] == ':') {
    size_t end = after.find('/');
    std::string_view port = after.substr(1, end == std::string_view::npos ? end : end - 1);
    if (!ParseNumber(port, 5, 1, 65535, &ep.port)) {
      return Bad("the port must be a number from 1 to 65535");
    }
    after = end == std::string_view::npos ? std::string_view() : after.substr(end);
  }
  if (!after.empty() && after[0] == '/') {
    if (!ParseNumber(after.substr(1), 2, 0, 15, &ep.db)) {
      return Bad("the database after '/' must be a number from 0 to 15");
    }
    after = {};
  }
  if (!after.empty()) {
    return Bad("unexpected text after the host (a query string or options are not accepted)");
  }
  return ep;
}

}  // namespace libshard::cache
