// Session: what every command needs from the global options — the loaded
// cluster config, an open Store, and ID arguments turned into ID bytes.
// Each step is done once, on first use, so `--help` and usage errors never
// touch the config or a database.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "libshard/config.h"
#include "libshard/id.h"
#include "libshard/options.h"
#include "libshard/store.h"

namespace shardctl {

// Options that come before (or, thanks to fallthrough, after) the command.
struct GlobalOptions {
  std::string config;           // -c; empty = $LIBSHARD_CONFIG, then ./libshard.yaml
  int connect_timeout = 5;      // seconds, Options::connect_timeout_seconds
  std::string id_format = "text";  // text | hex | uuid | u64
};

class Session {
 public:
  explicit Session(const GlobalOptions& options) : options_(options) {}

  // The config file the session reads: -c, else $LIBSHARD_CONFIG, else
  // ./libshard.yaml.
  std::string ConfigPath() const;

  // Loads and validates the config (once). Every failure is a config
  // problem (exit 2). Throws CommandError.
  const libshard::ClusterConfig& Config();

  // InvalidArgument (exit 2) unless `entity` is declared in the config.
  void RequireEntity(std::string_view entity);

  // Opens the store (once). Throws CommandError.
  libshard::Store& Store();

  // Store options derived from the global options.
  libshard::Options StoreOptions() const;

  // An ID argument as ID bytes, per --id-format. Throws CommandError.
  libshard::Id ParseId(std::string_view text) const;

 private:
  GlobalOptions options_;
  std::unique_ptr<libshard::ClusterConfig> config_;
  std::unique_ptr<libshard::Store> store_;
};

}  // namespace shardctl
