// shardctl output conventions (PRODUCT.md "shardctl contract"):
//   - results on stdout, one JSON value per line;
//   - an error is exactly one line "shardctl: error: …" on stderr;
//   - the exit status says what kind of failure it was (ExitCode below);
//   - no connection string or password ever reaches either stream.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "libshard/config.h"
#include "libshard/status.h"

namespace shardctl {

// Exit statuses scripts rely on.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // corruption, internal errors, write failures
  kExitUsage = 2,        // bad command line, bad input, bad config
  kExitNotFound = 3,
  kExitConflict = 4,     // version mismatch or unique violation
  kExitUnavailable = 5,  // a database could not be reached
};

int ExitCodeFor(libshard::Code code);

// A failed command: carries the Status that decides the message and the
// exit status. Commands throw it (through Check/Unwrap); main reports it.
class CommandError : public std::exception {
 public:
  explicit CommandError(libshard::Status status) : status_(std::move(status)) {}
  const libshard::Status& status() const { return status_; }
  const char* what() const noexcept override { return status_.message().c_str(); }

 private:
  libshard::Status status_;
};

inline void Check(const libshard::Status& status) {
  if (!status.ok()) throw CommandError(status);
}

template <typename T>
T Unwrap(libshard::Result<T>&& result) {
  if (!result.ok()) throw CommandError(result.status());
  return std::move(result).value();
}

// --- stdout ----------------------------------------------------------------

// Buffers stdout fully when it is not a terminal (exports are large).
void InitOutput();
// Writes `json` and a newline to stdout.
void PrintLine(std::string_view json);
// True once a write to stdout has failed (e.g. the disk is full).
bool OutputFailed();
// Flushes stdout; reports a write failure and returns kExitFailure, else
// kExitOk.
int FinishOutput();

// An ID as a JSON value: a string when the bytes are valid UTF-8, otherwise
// {"$bytes":"<base64>"} (the Document JSON form of bytes).
std::string IdToJson(std::string_view id);
bool IsValidUtf8(std::string_view text);

// --- stderr ----------------------------------------------------------------

// Remembers the connection strings and passwords of `config` so that no
// message can print them (they are replaced by the redacted URL or "***").
void RegisterSecrets(const libshard::ClusterConfig& config);
// One line, secrets removed.
std::string Sanitize(std::string_view message);

// Prints "shardctl: error: <message>" and returns `exit_code`.
int ReportError(std::string_view message, int exit_code);
// Prints the status as an error and returns its exit status.
int ReportStatus(const libshard::Status& status);

// An informational line "shardctl: <message>" (progress, summaries).
void Note(std::string_view message);
// Rewrites the current terminal line (carriage-return progress). The next
// Note or error first ends it.
void NoteInPlace(std::string_view message);
// Ends an in-place progress line, if one is showing.
void EndNoteInPlace();

}  // namespace shardctl
