#include "session.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "output.h"

namespace shardctl {

using libshard::Status;

std::string Session::ConfigPath() const {
  if (!options_.config.empty()) return options_.config;
  if (const char* env = std::getenv("LIBSHARD_CONFIG"); env && *env) return env;
  return "./libshard.yaml";
}

const libshard::ClusterConfig& Session::Config() {
  if (config_) return *config_;
  const std::string path = ConfigPath();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::string hint;
    if (options_.config.empty()) {
      hint = " (pass -c CONFIG or set LIBSHARD_CONFIG)";
    }
    throw CommandError(Status::InvalidConfig(
        "cannot read config " + path + ": no such file" + hint));
  }
  libshard::Result<libshard::ClusterConfig> loaded =
      libshard::ClusterConfig::Load(path);
  if (!loaded.ok()) {
    Status status = loaded.status();
    // Whatever went wrong reading the config, it is a config problem for the
    // operator (exit 2), not an internal failure.
    if (status.code() != libshard::Code::kInvalidConfig) {
      status = Status::InvalidConfig(status.message());
    }
    throw CommandError(status);
  }
  config_ = std::make_unique<libshard::ClusterConfig>(std::move(loaded).value());
  RegisterSecrets(*config_);
  return *config_;
}

void Session::RequireEntity(std::string_view entity) {
  const libshard::ClusterConfig& config = Config();
  if (config.FindEntity(entity) != nullptr) return;
  std::string known;
  for (const libshard::EntityConfig& e : config.entities) {
    known += known.empty() ? "" : ", ";
    known += e.name;
  }
  throw CommandError(Status::InvalidArgument(
      "unknown entity '" + std::string(entity) + "' (the config declares: " +
      (known.empty() ? "none" : known) + ")"));
}

libshard::Options Session::StoreOptions() const {
  libshard::Options options;
  options.connect_timeout_seconds = options_.connect_timeout;
  return options;
}

libshard::Store& Session::Store() {
  if (store_) return *store_;
  const libshard::ClusterConfig& config = Config();
  store_ = Unwrap(libshard::Store::Open(config, StoreOptions()));
  return *store_;
}

libshard::Id Session::ParseId(std::string_view text) const {
  namespace ids = libshard::ids;
  const std::string& format = options_.id_format;
  if (format == "hex") {
    libshard::Result<std::string> bytes = ids::FromHex(text);
    if (!bytes.ok()) {
      throw CommandError(Status::InvalidArgument(
          "ID '" + std::string(text) + "' is not hex: " + bytes.status().message()));
    }
    return std::move(bytes).value();
  }
  if (format == "uuid") {
    libshard::Result<libshard::Id> id = ids::ParseUuid(text);
    if (!id.ok()) {
      throw CommandError(Status::InvalidArgument(
          "ID '" + std::string(text) + "' is not a UUID: " + id.status().message()));
    }
    return std::move(id).value();
  }
  if (format == "u64") {
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
      throw CommandError(Status::InvalidArgument(
          "ID '" + std::string(text) + "' is not an unsigned 64-bit integer"));
    }
    return ids::FromU64(value);
  }
  return ids::FromString(text);  // "text": the UTF-8 bytes as they are
}

}  // namespace shardctl
