#include "output.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "libshard/document.h"

namespace shardctl {
namespace {

// Strings that must never be printed, each with what to print instead.
std::vector<std::pair<std::string, std::string>>& Secrets() {
  static std::vector<std::pair<std::string, std::string>> secrets;
  return secrets;
}

bool g_in_place_line = false;  // a "\r" progress line is showing on stderr
bool g_output_failed = false;
int g_output_errno = 0;

void ReplaceAll(std::string* text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::size_t pos = 0;
  while ((pos = text->find(from, pos)) != std::string::npos) {
    text->replace(pos, from.size(), to);
    pos += to.size();
  }
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Values of password-like keys in a SOCI connection string
// ("password=x", "pass=x", "password='x y'").
void CollectPasswords(std::string_view url, std::vector<std::string>* out) {
  static constexpr std::string_view kKeys[] = {"password=", "pass=", "pwd="};
  for (std::string_view key : kKeys) {
    std::size_t pos = 0;
    while ((pos = url.find(key, pos)) != std::string_view::npos) {
      const bool at_word_start =
          pos == 0 || IsSpace(url[pos - 1]) || url[pos - 1] == '/' ||
          url[pos - 1] == '&' || url[pos - 1] == '?' || url[pos - 1] == ';';
      pos += key.size();
      if (!at_word_start) continue;
      std::string value;
      if (pos < url.size() && (url[pos] == '\'' || url[pos] == '"')) {
        const char quote = url[pos++];
        while (pos < url.size() && url[pos] != quote) {
          if (url[pos] == '\\' && pos + 1 < url.size()) ++pos;
          value += url[pos++];
        }
      } else {
        while (pos < url.size() && !IsSpace(url[pos]) && url[pos] != '&' &&
               url[pos] != ';') {
          value += url[pos++];
        }
      }
      if (!value.empty()) out->push_back(std::move(value));
    }
  }
}

void WriteStderr(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace

int ExitCodeFor(libshard::Code code) {
  using libshard::Code;
  switch (code) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kVersionConflict:
    case Code::kUniqueViolation:
      return kExitConflict;
    case Code::kInvalidArgument:
    case Code::kInvalidConfig:
      return kExitUsage;
    case Code::kUnavailable:
    case Code::kOutcomeUnknown:  // a database link broke mid-COMMIT
      return kExitUnavailable;
    case Code::kCorruption:
    case Code::kInternal:
      return kExitFailure;
  }
  return kExitFailure;
}

// --- stdout ----------------------------------------------------------------

void InitOutput() {
  if (!isatty(STDOUT_FILENO)) {
    static char buffer[1 << 16];
    std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  }
}

void PrintLine(std::string_view json) {
  if (g_output_failed) return;
  if (std::fwrite(json.data(), 1, json.size(), stdout) != json.size() ||
      std::fputc('\n', stdout) == EOF) {
    g_output_failed = true;
    g_output_errno = errno;
  }
}

bool OutputFailed() { return g_output_failed; }

int FinishOutput() {
  if (!g_output_failed && std::fflush(stdout) != 0) {
    g_output_failed = true;
    g_output_errno = errno;
  }
  if (g_output_failed) {
    return ReportError(std::string("writing to stdout: ") +
                           std::strerror(g_output_errno ? g_output_errno : EIO),
                       kExitFailure);
  }
  return kExitOk;
}

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte, overlong lead (C0/C1) or > F4
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;  // overlong, out of range, or a surrogate
    }
    i += len;
  }
  return true;
}

std::string IdToJson(std::string_view id) {
  if (IsValidUtf8(id)) return libshard::Document(id).ToJson();
  return libshard::Document::FromBytes(std::string(id)).ToJson();
}

// --- stderr ----------------------------------------------------------------

void RegisterSecrets(const libshard::ClusterConfig& config) {
  auto& secrets = Secrets();
  for (const libshard::DatabaseConfig& db : config.databases) {
    const std::string redacted = db.RedactedUrl();
    if (!db.url.empty() && db.url != redacted) {
      secrets.emplace_back(db.url, redacted);
    }
    std::vector<std::string> passwords;
    CollectPasswords(db.url, &passwords);
    for (std::string& p : passwords) secrets.emplace_back(std::move(p), "***");
  }
  // Longest first, so a URL is replaced whole before its password is.
  std::stable_sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) {
    return a.first.size() > b.first.size();
  });
}

std::string Sanitize(std::string_view message) {
  std::string out(message);
  for (const auto& [secret, replacement] : Secrets()) {
    ReplaceAll(&out, secret, replacement);
  }
  // One line: newlines and tabs become spaces, runs of spaces collapse.
  std::string line;
  line.reserve(out.size());
  for (char c : out) {
    if (IsSpace(c)) {
      if (!line.empty() && line.back() != ' ') line += ' ';
    } else {
      line += c;
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

int ReportError(std::string_view message, int exit_code) {
  EndNoteInPlace();
  std::string line = "shardctl: error: ";
  line += Sanitize(message);
  line += '\n';
  WriteStderr(line);
  std::fflush(stderr);
  return exit_code;
}

int ReportStatus(const libshard::Status& status) {
  return ReportError(status.ToString(), ExitCodeFor(status.code()));
}

void Note(std::string_view message) {
  EndNoteInPlace();
  std::string line = "shardctl: ";
  line += Sanitize(message);
  line += '\n';
  WriteStderr(line);
  std::fflush(stderr);
}

void NoteInPlace(std::string_view message) {
  std::string line = "\rshardctl: ";
  line += Sanitize(message);
  line += "\x1b[K";  // clear what is left of a longer previous line
  WriteStderr(line);
  std::fflush(stderr);
  g_in_place_line = true;
}

void EndNoteInPlace() {
  if (!g_in_place_line) return;
  g_in_place_line = false;
  WriteStderr("\n");
}

}  // namespace shardctl
