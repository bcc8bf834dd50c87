// The connection string of a shared cache server:
//   redis://[[user]:password@]host[:port][/db]     (port 6379, db 0 by default)
// Parsed for the config's validation (an error names what is wrong, never
// the password) and by SharedTier to connect.
#pragma once

#include <string>
#include <string_view>

#include "libshard/status.h"

namespace libshard::cache {

struct RedisEndpoint {
  std::string host;  // a name or an IPv4/IPv6 address ([…] in the URL)
  int port = 6379;
  std::string user;      // "" = the default user
  std::string password;  // "" = no AUTH
  int db = 0;
};

// kInvalidConfig with a message that quotes nothing secret.
Result<RedisEndpoint> ParseRedisUrl(std::string_view url);

}  // namespace libshard::cache
