// Connection strings: ${VAR} substitution, backend selection, SQLite path
// resolution and password redaction.
//
// The strings are SOCI's "backend://settings" form, where settings are
// space-separated key=value pairs whose values may be quoted. We parse just
// enough of that to find the SQLite db path and password-like values; the
// rest goes to SOCI untouched.

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "config_internal.h"
#include "libshard/config.h"

namespace libshard {
namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool IsEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// One value in a settings string: it ends just before `end` (after any
// closing quote); `text` is the value without its quotes.
struct ValueSpan {
  size_t end = 0;
  std::string text;
};

// Reads the value starting at `pos`: 'quoted' or "quoted" (a backslash
// escapes the next character, as libpq allows) or up to whitespace. An
// unterminated quote runs to the end, so redaction errs on hiding too much.
ValueSpan ReadValue(std::string_view s, size_t pos) {
  ValueSpan v;
  if (pos < s.size() && (s[pos] == '\'' || s[pos] == '"')) {
    char quote = s[pos++];
    while (pos < s.size() && s[pos] != quote) {
      if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
      v.text += s[pos++];
    }
    v.end = pos < s.size() ? pos + 1 : pos;
    return v;
  }
  while (pos < s.size() && !IsSpace(s[pos])) v.text += s[pos++];
  v.end = pos;
  return v;
}

// The SQLite settings string with its db path made absolute. SOCI reads
// "db=PATH" or "dbname=PATH", or the whole string as the path when it has no
// '='; we always produce the db= form so that settings can be appended.
Result<std::string> ResolveSqliteSettings(std::string_view settings, const std::string& base_dir) {
  std::string rest;  // everything but the db setting
  ValueSpan db;
  bool found = false;
  if (settings.find('=') == std::string_view::npos) {
    size_t b = 0, e = settings.size();
    while (b < e && IsSpace(settings[b])) ++b;
    while (e > b && IsSpace(settings[e - 1])) --e;
    db.text = std::string(settings.substr(b, e - b));
    found = !db.text.empty();
  } else {
    size_t pos = 0;
    while (pos < settings.size()) {
      if (IsSpace(settings[pos])) {
        ++pos;
        continue;
      }
      size_t eq = settings.find('=', pos);
      size_t space = pos;
      while (space < settings.size() && !IsSpace(settings[space])) ++space;
      if (eq == std::string_view::npos || eq > space) {
        return Status::InvalidConfig(
            "expected key=value settings after sqlite3:// (quote paths that "
            "contain spaces)");
      }
      std::string_view key = settings.substr(pos, eq - pos);
      ValueSpan value = ReadValue(settings, eq + 1);
      if (key == "db" || key == "dbname") {
        db = std::move(value);  // SOCI lets the last one win; so do we
        found = true;
      } else {
        if (!rest.empty()) rest += ' ';
        rest.append(settings.substr(pos, value.end - pos));
      }
      pos = value.end;
    }
  }
  if (!found || db.text.empty()) {
    return Status::InvalidConfig(
        "a sqlite3 connection string needs a database file: "
        "sqlite3://db=PATH");
  }

  std::string path = db.text;
  // ":memory:" and "file:" URIs are not file paths; leave them to SQLite.
  if (path != ":memory:" && path.rfind("file:", 0) != 0) {
    std::filesystem::path p(path);
    if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
    path = p.lexically_normal().string();
  }
  bool needs_quotes = false;
  for (char c : path) needs_quotes = needs_quotes || IsSpace(c);
  // SOCI's sqlite3 backend understands double quotes only.
  std::string out = "db=" + (needs_quotes ? "\"" + path + "\"" : path);
  if (!rest.empty()) out += " " + rest;
  return out;
}

struct Scheme {
  std::string_view prefix;
  Backend backend;
};

// Aliases map to the name SOCI registers the backend under.
constexpr Scheme kSchemes[] = {
    {"sqlite3://", Backend::kSqlite},    {"postgresql://", Backend::kPostgres},
    {"postgres://", Backend::kPostgres}, {"mysql://", Backend::kMysql},
    {"mariadb://", Backend::kMysql},
};

// Where a setting can start: after whitespace (key=value strings), "://",
// or a URI query's '?' / '&'.
bool IsBoundary(char c) {
  return IsSpace(c) || c == ';' || c == '?' || c == '&' || c == '/' || c == ',';
}

// Replaces the value of every password-like key=value setting with ***.
std::string RedactSettings(std::string_view s) {
  // Longest first: "pass" is a prefix of the others.
  static constexpr std::string_view kKeys[] = {"password", "passwd", "pass", "pwd"};
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (i == 0 || IsBoundary(s[i - 1])) {
      for (std::string_view key : kKeys) {
        if (!StartsWithNoCase(s.substr(i), key)) continue;
        size_t pos = i + key.size();
        while (pos < s.size() && s[pos] == ' ') ++pos;
        if (pos >= s.size() || s[pos] != '=') continue;
        ++pos;
        while (pos < s.size() && s[pos] == ' ') ++pos;
        out.append(s.substr(i, key.size()));
        out += "=***";
        i = ReadValue(s, pos).end;
        break;
      }
      if (i >= s.size()) break;
    }
    out += s[i++];
  }
  return out;
}

// Replaces the password of every "scheme://user:password@host" with ***.
std::string RedactUserInfo(std::string_view s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = pos;
    while (end < s.size() && !IsSpace(s[end])) ++end;
    std::string_view token = s.substr(pos, end - pos);
    size_t at = token.rfind('@');
    size_t scheme =
        at == std::string_view::npos ? std::string_view::npos : token.substr(0, at).rfind("://");
    size_t colon =
        scheme == std::string_view::npos ? std::string_view::npos : token.find(':', scheme + 3);
    if (colon != std::string_view::npos && colon < at) {
      out.append(token.substr(0, colon + 1));
      out += "***";
      out.append(token.substr(at));
    } else {
      out.append(token);
    }
    while (end < s.size() && IsSpace(s[end])) out += s[end++];
    pos = end;
  }
  return out;
}

}  // namespace

namespace config_internal {

Result<std::string> SubstituteEnv(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return Status::InvalidConfig("unterminated \"${\" (write \"$${\" for a literal \"${\")");
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::string_view fallback;
    bool has_fallback = false;
    if (size_t dash = inner.find(":-"); dash != std::string_view::npos) {
      name = inner.substr(0, dash);
      fallback = inner.substr(dash + 2);
      has_fallback = true;
    }
    if (!IsEnvName(name)) {
      return Status::InvalidConfig("\"" + std::string(name) +
                                   "\" is not an environment variable name");
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (value != nullptr && (*value != '\0' || !has_fallback)) {
      out += value;
    } else if (has_fallback) {
      out += fallback;
    } else {
      return Status::InvalidConfig("environment variable " + std::string(name) + " is not set");
    }
    i = close + 1;
  }
  return out;
}

Result<ParsedUrl> NormalizeDatabaseUrl(std::string_view url, const std::string& base_dir) {
  for (const Scheme& scheme : kSchemes) {
    if (!StartsWithNoCase(url, scheme.prefix)) continue;
    std::string_view settings = url.substr(scheme.prefix.size());
    ParsedUrl parsed;
    parsed.backend = scheme.backend;
    std::string canonical = std::string(BackendName(scheme.backend)) + "://";
    if (scheme.backend == Backend::kSqlite) {
      Result<std::string> resolved = ResolveSqliteSettings(settings, base_dir);
      if (!resolved.ok()) return resolved.status();
      parsed.url = canonical + *resolved;
      return parsed;
    }
    // libpq and SOCI's MySQL backend both take key=value pairs here; a
    // URI ("user:pw@host/db") would only fail later, at connect time.
    size_t first = 0;
    while (first < settings.size() && IsSpace(settings[first])) ++first;
    size_t token_end = first;
    while (token_end < settings.size() && !IsSpace(settings[token_end])) {
      ++token_end;
    }
    if (first < settings.size() &&
        settings.substr(first, token_end - first).find('=') == std::string_view::npos) {
      return Status::InvalidConfig("expected key=value settings after " + canonical + ", e.g. " +
                                   canonical + "host=127.0.0.1 port=5432");
    }
    parsed.url = canonical + std::string(settings);
    return parsed;
  }
  return Status::InvalidConfig(
      "unknown or missing scheme: expected sqlite3://, postgresql:// or mysql://");
}

}  // namespace config_internal

std::string RedactUrl(std::string_view url) { return RedactUserInfo(RedactSettings(url)); }

std::string DatabaseConfig::RedactedUrl() const { return RedactUrl(url); }

}  // namespace libshard
