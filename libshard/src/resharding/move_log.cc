#include "resharding/move_log.h"

namespace libshard::resharding {

std::optional<MoveState> ReadMove(soci::session& sql, uint32_t bucket) {
  int b = static_cast<int>(bucket);
  MoveState m;
  long long updated = 0;
  sql << "SELECT source, target, state, error, updated FROM ls_moves WHERE bucket = :b",
      soci::into(m.from), soci::into(m.to), soci::into(m.state), soci::into(m.error),
      soci::into(updated), soci::use(b);
  if (!sql.got_data()) return std::nullopt;
  m.bucket = bucket;
  m.updated_us = updated;
  return m;
}

std::vector<MoveState> ReadMoves(soci::session& sql) {
  std::vector<MoveState> out;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT bucket, source, target, state, error, updated FROM ls_moves "
                      "ORDER BY bucket");
  for (const soci::row& r : rows) {
    MoveState m;
    m.bucket = static_cast<uint32_t>(r.get<int>(0));
    m.from = r.get<std::string>(1);
    m.to = r.get<std::string>(2);
    m.state = r.get<std::string>(3);
    m.error = r.get<std::string>(4);
    m.updated_us = r.get<long long>(5);
    out.push_back(std::move(m));
  }
  return out;
}

void InsertMove(soci::session& sql, uint32_t bucket, const std::string& source,
                const std::string& target, int64_t now_us) {
  int b = static_cast<int>(bucket);
  std::string state = kCopying, error;
  long long now = now_us;
  sql << "INSERT INTO ls_moves (bucket, source, target, state, error, updated) "
         "VALUES (:b, :s, :t, :st, :e, :u)",
      soci::use(b), soci::use(source), soci::use(target), soci::use(state), soci::use(error),
      soci::use(now);
}

void SetMoveState(soci::session& sql, uint32_t bucket, const std::string& state,
                  int64_t now_us) {
  int b = static_cast<int>(bucket);
  long long now = now_us;
  std::string error;
  sql << "UPDATE ls_moves SET state = :s, error = :e, updated = :u WHERE bucket = :b",
      soci::use(state), soci::use(error), soci::use(now), soci::use(b);
}

void SetMoveError(soci::session& sql, uint32_t bucket, const std::string& error,
                  int64_t now_us) {
  int b = static_cast<int>(bucket);
  long long now = now_us;
  // Long messages are cut: the catalog column is for an operator's eye.
  std::string e = error.substr(0, 1000);
  sql << "UPDATE ls_moves SET error = :e, updated = :u WHERE bucket = :b", soci::use(e),
      soci::use(now), soci::use(b);
}

void DeleteMove(soci::session& sql, uint32_t bucket) {
  int b = static_cast<int>(bucket);
  sql << "DELETE FROM ls_moves WHERE bucket = :b", soci::use(b);
}

std::string CatalogOwner(soci::session& sql, uint32_t bucket) {
  int b = static_cast<int>(bucket);
  std::string shard;
  sql << "SELECT shard FROM ls_buckets WHERE bucket = :b", soci::into(shard), soci::use(b);
  return shard;
}

void SwitchCatalog(soci::session& sql, uint32_t bucket, const std::string& target,
                   int64_t now_us) {
  std::string epoch_text;
  std::string name = "epoch";
  sql << "SELECT value FROM ls_meta WHERE name = :n", soci::into(epoch_text), soci::use(name);
  long long epoch = (sql.got_data() ? std::stoll(epoch_text) : 1) + 1;
  std::string next = std::to_string(epoch);
  sql << "UPDATE ls_meta SET value = :v WHERE name = :n", soci::use(next), soci::use(name);
  int b = static_cast<int>(bucket);
  sql << "UPDATE ls_buckets SET shard = :s, epoch = :e WHERE bucket = :b", soci::use(target),
      soci::use(epoch), soci::use(b);
  SetMoveState(sql, bucket, kCleanup, now_us);
}

std::vector<std::string> IndexesBeingBuilt(soci::session& sql) {
  std::vector<std::string> out;
  std::string state = "write_only";
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT entity, name FROM ls_indexes WHERE state = :s", soci::use(state));
  for (const soci::row& r : rows) out.push_back(r.get<std::string>(0) + "." + r.get<std::string>(1));
  return out;
}

}  // namespace libshard::resharding
