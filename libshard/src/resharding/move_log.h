// The catalog's record of bucket moves (ls_moves) and the catalog steps of
// a move: the bucket map row of one bucket and the index states a move
// must respect. Functions take the catalog session; SOCI errors are thrown
// for Cluster::WithConnection to classify.
//
// ls_moves(bucket PK, source, target, state, error, updated): one row per
// move that has not finished. States, in order (mover.h):
//   copying   records are being copied to the target (target "incoming")
//   switched  the source handed the bucket over (its ownership row says
//             "moved to target"); the target is made owner next
//   cleanup   the catalog map names the target; the source's leftover
//             copies are being deleted
// The row is deleted when cleanup is done. `error` keeps the last failure
// (shown by `shardctl rebalance status`), cleared by the next step.
#pragma once

#include <soci/soci.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/dialect.h"
#include "libshard/rebalance.h"

namespace libshard::resharding {

inline constexpr const char* kCopying = "copying";
inline constexpr const char* kSwitched = "switched";
inline constexpr const char* kCleanup = "cleanup";

std::optional<MoveState> ReadMove(soci::session& sql, uint32_t bucket);
std::vector<MoveState> ReadMoves(soci::session& sql);

// Inserts the row of a new move (state copying). The caller's statement
// fails with a unique violation when another process recorded one first.
void InsertMove(soci::session& sql, uint32_t bucket, const std::string& source,
                const std::string& target, int64_t now_us);
void SetMoveState(soci::session& sql, uint32_t bucket, const std::string& state, int64_t now_us);
// Records a failure (the state stays); a no-op when the row is gone.
void SetMoveError(soci::session& sql, uint32_t bucket, const std::string& error, int64_t now_us);
void DeleteMove(soci::session& sql, uint32_t bucket);

// The catalog map's owner of one bucket.
std::string CatalogOwner(soci::session& sql, uint32_t bucket);
// Points the catalog map at `target`, bumps the map epoch and moves the
// move row to `cleanup`; one transaction (the caller's).
void SwitchCatalog(soci::session& sql, uint32_t bucket, const std::string& target,
                   int64_t now_us);

// "entity.index" of every index being built (state write_only).
std::vector<std::string> IndexesBeingBuilt(soci::session& sql);

}  // namespace libshard::resharding
