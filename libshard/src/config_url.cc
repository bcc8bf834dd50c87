// Connection strings: ${VAR} substitution, backend selection, SQLite path
// resolution and password redaction.
//
// The strings are SOCI's "backend://settings" form, where settings are
// space-separated key=value pairs whose values may be quoted. We parse just
// enough of that to find the SQLite db path and password-like values; the
// rest goes to SOCI untouched.

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && StartsWithNoCase(a, b);
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal number from `min` to `max` (digits only, no sign).
bool IsNumberIn(std::string_view s, unsigned long min, unsigned long max) {
  if (!IsAllDigits(s) || s.size() > 9) return false;
  const unsigned long n = std::stoul(std::string(s));
  return n >= min && n <= max;
}

bool IsPasswordKey(std::string_view key) {
  return EqualsNoCase(key, "password") || EqualsNoCase(key, "passwd") ||
         EqualsNoCase(key, "pass") || EqualsNoCase(key, "pwd");
}

// One key=value setting of a connection string.
struct Setting {
  std::string key;
  std::string value;
};

// How a backend quotes values.
struct SettingSyntax {
  std::string_view quotes;      // characters that open a quoted value
  bool escapes_unquoted = false;  // a backslash escapes the next character
                                  // outside quotes too (libpq)
};
constexpr SettingSyntax kLibpqSyntax{"'", true};
constexpr SettingSyntax kSociMysqlSyntax{"'\"", false};

// How a message names setting `index` (1-based) without printing a value.
// Right after an unquoted password the "key" may be the rest of a password
// that contains a space, so it is not quoted then either.
std::string SettingName(size_t index, std::string_view key, bool after_bare_password) {
  std::string name = "setting " + std::to_string(index);
  if (after_bare_password) {
    return name + " (after an unquoted password; quote a password that contains spaces)";
  }
  const bool printable =
      !key.empty() && key.size() <= 32 && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
      });
  return printable ? name + " ('" + std::string(key) + "')" : name;
}

// Splits "key=value key = 'quoted value'" as libpq and SOCI's MySQL
// backend read it: blanks around '=' are allowed, and a value runs to the
// next blank unless quoted. Messages never quote a value.
Result<std::vector<Setting>> SplitSettings(std::string_view s, const SettingSyntax& syntax) {
  std::vector<Setting> out;
  bool after_bare_password = false;
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
    if (pos >= s.size()) return out;
    const size_t index = out.size() + 1;
    size_t key_end = pos;
    while (key_end < s.size() && !IsSpace(s[key_end]) && s[key_end] != '=') ++key_end;
    Setting setting;
    setting.key = std::string(s.substr(pos, key_end - pos));
    size_t eq = key_end;
    while (eq < s.size() && IsSpace(s[eq])) ++eq;
    if (setting.key.empty() || eq >= s.size() || s[eq] != '=') {
      return Status::InvalidConfig(SettingName(index, setting.key, after_bare_password) +
                                   " is not key=value (quote values that contain spaces)");
    }
    pos = eq + 1;
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
    bool quoted = false;
    if (pos < s.size() && syntax.quotes.find(s[pos]) != std::string_view::npos) {
      const char quote = s[pos++];
      quoted = true;
      while (pos < s.size() && s[pos] != quote) {
        if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
        setting.value += s[pos++];
      }
      if (pos >= s.size()) {
        return Status::InvalidConfig(SettingName(index, setting.key, after_bare_password) +
                                     " has a quote that is never closed");
      }
      ++pos;
    } else {
      while (pos < s.size() && !IsSpace(s[pos])) {
        if (syntax.escapes_unquoted && s[pos] == '\\' && pos + 1 < s.size()) ++pos;
        setting.value += s[pos++];
      }
    }
    after_bare_password = IsPasswordKey(setting.key) && !quoted;
    out.push_back(std::move(setting));
  }
}

// --- SQLite ----------------------------------------------------------------

// The settings SOCI 4.0.3's sqlite3 backend reads; it ignores any other key
// silently, so a misspelt one ("timout=5") is refused here instead.
Status CheckSqliteSetting(std::string_view key, std::string_view value) {
  if (key == "timeout") {
    if (!IsNumberIn(value, 0, 86400)) {
      return Status::InvalidConfig("sqlite3 setting 'timeout' must be a number of seconds "
                                   "from 0 to 86400");
    }
    return Status::OK();
  }
  if (key == "synchronous") {
    for (std::string_view ok : {"off", "normal", "full", "extra", "0", "1", "2", "3"}) {
      if (EqualsNoCase(value, ok)) return Status::OK();
    }
    return Status::InvalidConfig(
        "sqlite3 setting 'synchronous' must be off, normal, full or extra");
  }
  if (key == "readonly" || key == "shared_cache" || key == "vfs") return Status::OK();
  const bool printable = key.size() <= 32 && std::all_of(key.begin(), key.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
                         });
  return Status::InvalidConfig(
      (printable ? "unknown sqlite3 setting '" + std::string(key) + "'"
                 : std::string("an unknown sqlite3 setting")) +
      " (known: db, timeout, synchronous, readonly, shared_cache, vfs)");
}

// A SQLite settings string taken apart: the db path as written and the
// other settings as written.
struct SqliteSettings {
  std::string path;
  std::string rest;
};

// SOCI reads "db=PATH" or "dbname=PATH", or the whole string as the path
// when it has no '='.
Result<SqliteSettings> ParseSqliteSettings(std::string_view settings) {
  SqliteSettings out;
  bool found = false;
  if (settings.find('=') == std::string_view::npos) {
    size_t b = 0, e = settings.size();
    while (b < e && IsSpace(settings[b])) ++b;
    while (e > b && IsSpace(settings[e - 1])) --e;
    out.path = std::string(settings.substr(b, e - b));
    found = !out.path.empty();
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
        out.path = std::move(value.text);  // SOCI lets the last one win; so do we
        found = true;
      } else {
        if (Status s = CheckSqliteSetting(key, value.text); !s.ok()) return s;
        if (!out.rest.empty()) out.rest += ' ';
        out.rest.append(settings.substr(pos, value.end - pos));
      }
      pos = value.end;
    }
  }
  if (!found || out.path.empty()) {
    return Status::InvalidConfig(
        "a sqlite3 connection string needs a database file: "
        "sqlite3://db=PATH");
  }
  return out;
}

// The SQLite settings string with its db path made absolute; we always
// produce the db= form so that settings can be appended.
Result<std::string> ResolveSqliteSettings(std::string_view settings, const std::string& base_dir) {
  Result<SqliteSettings> parsed = ParseSqliteSettings(settings);
  if (!parsed.ok()) return parsed.status();
  std::string path = parsed->path;
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
  if (!parsed->rest.empty()) out += " " + parsed->rest;
  return out;
}

// The file a SQLite db setting opens, absolute with symbolic links
// resolved; empty for an in-memory database (each connection has its own).
std::string SqliteFile(std::string path) {
  if (path.rfind("file:", 0) == 0) {
    // A URI: file:PATH?query or file://[localhost]/PATH?query.
    std::string_view uri(path);
    const size_t question = uri.find('?');
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : uri.substr(question + 1);
    if (query.find("mode=memory") != std::string_view::npos) return "";
    std::string_view rest = uri.substr(5, question == std::string_view::npos
                                              ? std::string_view::npos
                                              : question - 5);
    if (rest.substr(0, 2) == "//") {
      const size_t slash = rest.find('/', 2);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
    path = std::string(rest);
  }
  if (path.empty() || path == ":memory:") return "";
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.is_relative()) p = std::filesystem::current_path(ec) / p;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : canonical.string();
}

// --- PostgreSQL --------------------------------------------------------------

// Every keyword this libpq knows (PQconninfoParse of an empty string lists
// them all, with no values and without reading the environment).
const std::set<std::string>& LibpqKeywords() {
  static const std::set<std::string> keywords = [] {
    std::set<std::string> out;
    char* error = nullptr;
    if (PQconninfoOption* options = PQconninfoParse("", &error)) {
      for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) out.insert(o->keyword);
      PQconninfoFree(options);
    }
    if (error != nullptr) PQfreemem(error);
    return out;
  }();
  return keywords;
}

// The settings as libpq parses them (keyword -> value, only those given).
// libpq's own message is not passed on: it may quote part of a password.
Result<std::map<std::string, std::string>> ParseLibpqSettings(std::string_view settings) {
  Result<std::vector<Setting>> split = SplitSettings(settings, kLibpqSyntax);
  if (!split.ok()) return split.status();
  const std::set<std::string>& keywords = LibpqKeywords();
  bool after_bare_password = false;
  for (size_t i = 0; i < split->size(); ++i) {
    const Setting& setting = (*split)[i];
    if (!keywords.empty() && !keywords.count(setting.key)) {
      return Status::InvalidConfig(
          "unknown PostgreSQL (libpq) " + SettingName(i + 1, setting.key, after_bare_password) +
          "; e.g. host, port, dbname, user, password, connect_timeout, sslmode");
    }
    after_bare_password = IsPasswordKey(setting.key);
  }
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
      PQconninfoParse(std::string(settings).c_str(), &error), PQconninfoFree);
  if (error != nullptr) PQfreemem(error);
  if (!options) {
    return Status::InvalidConfig("libpq cannot parse the settings (key=value pairs; quote "
                                 "values with single quotes)");
  }
  std::map<std::string, std::string> values;
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) values[o->keyword] = o->val;
  }
  // libpq checks these only when it connects; refusing them here turns an
  // "unreachable" at the first query into a config error.
  if (auto it = values.find("port"); it != values.end()) {
    std::string_view ports = it->second;  // "5432" or "5432,5433" (several hosts)
    while (true) {
      const size_t comma = ports.find(',');
      const std::string_view port = ports.substr(0, comma);
      if (!port.empty() && !IsNumberIn(port, 1, 65535)) {
        return Status::InvalidConfig("PostgreSQL setting 'port' must be a number from 1 to 65535");
      }
      if (comma == std::string_view::npos) break;
      ports.remove_prefix(comma + 1);
    }
  }
  if (auto it = values.find("connect_timeout"); it != values.end() && !it->second.empty()) {
    if (!IsNumberIn(it->second, 0, 86400)) {
      return Status::InvalidConfig(
          "PostgreSQL setting 'connect_timeout' must be a number of seconds");
    }
  }
  return values;
}

// --- MySQL / MariaDB ---------------------------------------------------------

// The keys SOCI 4.0.3's MySQL backend accepts (any other key, a repeated
// one or a bad number makes it throw "Malformed connection string." when
// connecting), each mapped to the setting it sets.
const std::map<std::string_view, std::string_view>& SociMysqlKeys() {
  static const std::map<std::string_view, std::string_view> keys = {
      {"host", "host"},
      {"user", "user"},
      {"pass", "password"},
      {"password", "password"},
      {"db", "db"},
      {"dbname", "db"},
      {"service", "db"},
      {"port", "port"},
      {"unix_socket", "unix_socket"},
      {"sslca", "sslca"},
      {"sslcert", "sslcert"},
      {"sslkey", "sslkey"},
      {"local_infile", "local_infile"},
      {"charset", "charset"},
      {"reconnect", "reconnect"},
      {"connect_timeout", "connect_timeout"},
      {"read_timeout", "read_timeout"},
      {"write_timeout", "write_timeout"},
  };
  return keys;
}

// The settings by canonical name (password, db, …).
Result<std::map<std::string, std::string>> ParseMysqlSettings(std::string_view settings) {
  Result<std::vector<Setting>> split = SplitSettings(settings, kSociMysqlSyntax);
  if (!split.ok()) return split.status();
  std::map<std::string, std::string> values;
  bool after_bare_password = false;
  for (size_t i = 0; i < split->size(); ++i) {
    const Setting& setting = (*split)[i];
    const std::string name = SettingName(i + 1, setting.key, after_bare_password);
    after_bare_password = IsPasswordKey(setting.key);
    auto known = SociMysqlKeys().find(setting.key);
    if (known == SociMysqlKeys().end()) {
      return Status::InvalidConfig(
          "unknown MySQL " + name +
          " (known: host, port, user, password, db, unix_socket, charset, sslca, sslcert, "
          "sslkey, local_infile, reconnect, connect_timeout, read_timeout, write_timeout)");
    }
    const std::string canonical(known->second);
    if (!values.emplace(canonical, setting.value).second) {
      return Status::InvalidConfig("MySQL " + name + " sets '" + canonical +
                                   "' a second time (pass/password and db/dbname/service "
                                   "are the same setting)");
    }
    const std::string_view v = setting.value;
    if (canonical == "port" && !IsNumberIn(v, 0, 65535)) {
      return Status::InvalidConfig("MySQL setting 'port' must be a number from 0 to 65535");
    }
    if (canonical == "local_infile" && v != "0" && v != "1") {
      return Status::InvalidConfig("MySQL setting 'local_infile' must be 0 or 1");
    }
    if (canonical == "reconnect" && v != "1") {
      return Status::InvalidConfig("MySQL setting 'reconnect' may only be 1");
    }
    if ((canonical == "connect_timeout" || canonical == "read_timeout" ||
         canonical == "write_timeout") &&
        !IsNumberIn(v, 0, 86400)) {
      return Status::InvalidConfig("MySQL setting '" + canonical +
                                   "' must be a number of seconds");
    }
  }
  return values;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
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

Status CheckSettings(Backend backend, std::string_view settings) {
  switch (backend) {
    case Backend::kSqlite:
      return ParseSqliteSettings(settings).status();
    case Backend::kPostgres:
      return ParseLibpqSettings(settings).status();
    case Backend::kMysql:
      return ParseMysqlSettings(settings).status();
  }
  return Status::OK();
}

DatabaseTarget TargetOf(Backend backend, std::string_view url) {
  const std::string scheme = std::string(BackendName(backend)) + "://";
  if (url.compare(0, scheme.size(), scheme) != 0) return {};
  const std::string_view settings = url.substr(scheme.size());
  DatabaseTarget target;
  switch (backend) {
    case Backend::kSqlite: {
      Result<SqliteSettings> parsed = ParseSqliteSettings(settings);
      if (!parsed.ok()) return {};
      const std::string file = SqliteFile(parsed->path);
      if (file.empty()) return {};
      target.key = "sqlite3\n" + file;
      target.description = "SQLite file " + file;
      return target;
    }
    case Backend::kPostgres: {
      Result<std::map<std::string, std::string>> values = ParseLibpqSettings(settings);
      if (!values.ok()) return {};
      auto get = [&](const char* key, const char* env, std::string fallback) {
        auto it = values->find(key);
        return it != values->end() && !it->second.empty() ? it->second : EnvOr(env, fallback);
      };
      // A service file or an unknown default database: cannot be told.
      if (!get("service", "PGSERVICE", "").empty()) return {};
      std::string host = get("hostaddr", "PGHOSTADDR", "");
      if (host.empty()) host = get("host", "PGHOST", "");
      const std::string port = get("port", "PGPORT", "5432");
      std::string dbname = get("dbname", "PGDATABASE", "");
      if (dbname.empty()) dbname = get("user", "PGUSER", "");
      if (dbname.empty()) return {};
      host = host.empty() ? "the default socket" : Lower(host);
      target.key = "postgresql\n" + host + "\n" + port + "\n" + dbname;
      target.description = "PostgreSQL database '" + dbname + "' on " + host + " port " + port;
      return target;
    }
    case Backend::kMysql: {
      Result<std::map<std::string, std::string>> values = ParseMysqlSettings(settings);
      if (!values.ok()) return {};
      auto get = [&](const char* key, std::string fallback) {
        auto it = values->find(key);
        return it != values->end() && !it->second.empty() ? it->second : fallback;
      };
      const std::string db = get("db", "");
      if (db.empty()) return {};
      std::string host = Lower(get("host", "localhost"));
      // libmysqlclient reaches "localhost" through the Unix socket and
      // ignores the port then.
      std::string server = host == "localhost"
                               ? "the socket " + get("unix_socket", "(default)")
                               : host + " port " + get("port", "3306");
      target.key = "mysql\n" + server + "\n" + db;
      target.description = "MySQL database '" + db + "' on " + server;
      return target;
    }
  }
  return {};
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
    size_t after = token_end;  // "host = h" has its '=' after a blank
    while (after < settings.size() && IsSpace(settings[after])) ++after;
    if (first < settings.size() &&
        settings.substr(first, token_end - first).find('=') == std::string_view::npos &&
        (after >= settings.size() || settings[after] != '=')) {
      return Status::InvalidConfig("expected key=value settings after " + canonical + ", e.g. " +
                                   canonical + "host=127.0.0.1 port=5432");
    }
    // The rest of the string is checked as the backend will read it, so a
    // malformed one is a config error now rather than "unreachable" later.
    if (Status s = CheckSettings(scheme.backend, settings); !s.ok()) return s;
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
