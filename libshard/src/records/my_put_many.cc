#include "records/my_put_many.h"

#include <mysql.h>
#include <soci/mysql/soci-mysql.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "backend/session.h"
#include "records/record_table.h"

namespace libshard::records {
namespace {

// The SIGNAL texts the statement raises for an outcome that is not an error.
constexpr std::string_view kDeclined = "libshard: batch declined";
constexpr int kSignalException = 1644;  // ER_SIGNAL_EXCEPTION

void AppendHex(std::string* out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out->append("X'");
  const size_t at = out->size();
  out->resize(at + 2 * bytes.size());
  char* p = out->data() + at;
  for (unsigned char c : bytes) {
    *p++ = kDigits[c >> 4];
    *p++ = kDigits[c & 15];
  }
  out->push_back('\'');
}

void AppendInt(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

// The cluster id goes into the text as a quoted literal: it is generated
// (hex) and read back from the catalog, and anything else is refused here
// rather than quoted.
bool PlainId(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '-';
  });
}

std::string BuildText(std::string_view entity, const std::string& cluster_id,
                      const std::vector<PutManyItem>& items,
                      const std::vector<uint32_t>& buckets, int64_t now_us, int64_t deadline_ms,
                      size_t reserve) {
  const std::string table = TableName(entity);
  std::string t;
  t.reserve(reserve);
  t += "BEGIN NOT ATOMIC\n"
       "DECLARE own BIGINT;\n"
       "DECLARE t0 DATETIME(6) DEFAULT SYSDATE(6);\n"
       "DECLARE wait_s BIGINT DEFAULT @@innodb_lock_wait_timeout;\n"
       "DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK;"
       " SET innodb_lock_wait_timeout = wait_s; RESIGNAL; END;\n"
       "START TRANSACTION;\n"
       "SET innodb_lock_wait_timeout = 0;\n"
       "SELECT SUM(state = 1) INTO own FROM ls_owner WHERE cluster_id = '";
  t += cluster_id;
  t += "' AND bucket IN (";
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (i) t += ',';
    AppendInt(&t, buckets[i]);
  }
  t += ") LOCK IN SHARE MODE;\n"
       "SET innodb_lock_wait_timeout = wait_s;\n"
       "IF own IS NULL OR own <> ";
  AppendInt(&t, buckets.size());
  t += " THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '";
  t += kDeclined;
  t += "'; END IF;\n";

  auto values = [&](bool (*want)(const PutManyItem&)) {
    bool first = true;  // (each caller has at least one item it wants)
    for (const PutManyItem& it : items) {
      if (!want(it)) continue;
      t += first ? "(" : ",(";
      first = false;
      AppendHex(&t, it.id);
      t += ',';
      AppendInt(&t, it.bucket);
      t += ",1,";
      AppendInt(&t, static_cast<uint64_t>(now_us));
      t += ',';
      AppendHex(&t, it.body);
      t += ')';
    }
  };
  auto plain = [](const PutManyItem& it) { return !it.expect.has_value(); };
  auto create = [](const PutManyItem& it) { return it.expect == uint64_t{0}; };
  const bool creates = std::any_of(items.begin(), items.end(), create);
  if (creates) {
    // Known before writing: an id that must not exist does. (One inserted
    // by a racing writer meanwhile is a duplicate-key error below.)
    t += "IF EXISTS (SELECT 1 FROM " + table + " WHERE id IN (";
    bool first = true;
    for (const PutManyItem& it : items) {
      if (!create(it)) continue;
      if (!first) t += ',';
      first = false;
      AppendHex(&t, it.id);
    }
    t += ")) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '";
    t += kDeclined;
    t += "'; END IF;\n";
  }
  if (std::any_of(items.begin(), items.end(), plain)) {
    t += "INSERT INTO " + table + " (id, bucket, version, updated, body) VALUES ";
    values(plain);
    t += " ON DUPLICATE KEY UPDATE version = version + 1,"
         " updated = GREATEST(updated, VALUES(updated)), body = VALUES(body)"
         " RETURNING id, version;\n";
  }
  if (creates) {
    t += "INSERT INTO " + table + " (id, bucket, version, updated, body) VALUES ";
    values(create);
    t += ";\n";
  }
  for (const PutManyItem& it : items) {
    if (!it.expect || *it.expect == 0) continue;
    t += "UPDATE " + table + " SET version = version + 1, updated = GREATEST(updated, ";
    AppendInt(&t, static_cast<uint64_t>(now_us));
    t += "), body = ";
    AppendHex(&t, it.body);
    t += " WHERE id = ";
    AppendHex(&t, it.id);
    t += " AND version = ";
    AppendInt(&t, *it.expect);
    t += ";\nIF ROW_COUNT() <> 1 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '";
    t += kDeclined;
    t += "'; END IF;\n";
  }
  t += "IF SYSDATE(6) >= t0 + INTERVAL ";
  AppendInt(&t, static_cast<uint64_t>(std::max<int64_t>(deadline_ms, 0)) * 1000);
  t += " MICROSECOND THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT ="
       " 'libshard: the batch outlasted its index-state lease'; END IF;\n"
       "COMMIT;\n"
       "END";
  return t;
}

[[noreturn]] void ThrowError(MYSQL* conn) {
  throw soci::mysql_soci_error(mysql_error(conn), static_cast<int>(mysql_errno(conn)));
}

}  // namespace

size_t MyPutManyBytes(const std::vector<PutManyItem>& items, size_t bucket_count) {
  size_t n = 1024 + 12 * bucket_count;
  for (const PutManyItem& it : items) {
    n += 2 * (it.id.size() + it.body.size()) + 64;
    if (it.expect && *it.expect == 0) n += 2 * it.id.size() + 4;  // its existence check
    if (it.expect && *it.expect > 0) n += 256;  // its UPDATE and check
  }
  return n;
}

PutManyOutcome RunMyPutMany(soci::session& sql, std::string_view entity,
                              const std::string& cluster_id,
                              const std::vector<PutManyItem>& items,
                              const std::vector<uint32_t>& buckets, int64_t now_us,
                              int64_t deadline_ms, std::vector<uint64_t>* versions) {
  if (!PlainId(cluster_id)) return PutManyOutcome::kDeclined;
  const std::string text = BuildText(entity, cluster_id, items, buckets, now_us, deadline_ms,
                                     MyPutManyBytes(items, buckets.size()));
  versions->assign(items.size(), 0);
  // The versions the statement does not return: 1 for a create, v + 1 for
  // a compare-and-set. Upserts' come back in VALUES order (id order).
  std::vector<size_t> upserts;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].expect) {
      upserts.push_back(i);
    } else {
      (*versions)[i] = *items[i].expect + 1;
    }
  }
  auto* conn = static_cast<MYSQL*>(backend::NativeMysqlHandle(sql));
  backend::SessionHooks* hooks = backend::HooksOf(sql);
  constexpr backend::SqlOp kOp = backend::SqlOp::kExecute;
  bool malformed = false;
  size_t returned = 0;
  try {
    if (hooks) hooks->Before(kOp, text);
    if (mysql_real_query(conn, text.data(), text.size()) != 0) ThrowError(conn);
    for (;;) {
      if (MYSQL_RES* res = mysql_store_result(conn)) {
        while (MYSQL_ROW row = mysql_fetch_row(res)) {
          const unsigned long* len = mysql_fetch_lengths(res);
          uint64_t v = 0;
          const bool ok = returned < upserts.size() && row[0] && row[1] &&
                          std::string_view(row[0], len[0]) == items[upserts[returned]].id &&
                          std::from_chars(row[1], row[1] + len[1], v).ec == std::errc() && v > 0;
          if (ok) (*versions)[upserts[returned]] = v;
          malformed |= !ok;
          ++returned;
        }
        mysql_free_result(res);
      } else if (mysql_field_count(conn) != 0) {
        ThrowError(conn);  // a result that could not be read
      }
      const int next = mysql_next_result(conn);
      if (next > 0) ThrowError(conn);
      if (next < 0) break;
    }
  } catch (const soci::mysql_soci_error& e) {
    if (e.err_num_ == kSignalException && std::string_view(e.what()).find(kDeclined) !=
                                              std::string_view::npos) {
      if (hooks) hooks->After(kOp, text);  // an answer, not a failure
      return PutManyOutcome::kDeclined;
    }
    if (hooks) hooks->Failed(kOp, text);  // may throw a replacement (a timeout)
    throw;
  } catch (const soci::soci_error&) {
    if (hooks) hooks->Failed(kOp, text);  // a fault injected by Before
    throw;
  }
  if (hooks) hooks->After(kOp, text);
  if (malformed || returned != upserts.size()) return PutManyOutcome::kMalformed;
  return PutManyOutcome::kWritten;
}

}  // namespace libshard::records
