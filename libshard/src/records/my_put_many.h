// A shard batch of puts on MariaDB in one round trip, the counterpart of
// records/pg_put_many.h: the general path (store_write.cc,
// ShardWriter::ApplyMany) makes five or more (BEGIN, fence, lock read, the
// writes, COMMIT). All or nothing, like PostgreSQL's: every item written
// with the versions the general path would give, or nothing written and the
// caller runs the general path, which finds out exactly what is wrong (a
// version conflict, a moved bucket) or succeeds against whatever changed.
//
// MariaDB has no data-modifying CTEs, so the batch is one anonymous
// compound statement (BEGIN NOT ATOMIC … END), sent as text on the
// session's native MYSQL* (SOCI's MySQL backend reads one result per
// statement; this one returns the versions as a result set, then its OK):
//   1. START TRANSACTION; the fence — the batch's ownership rows read
//      LOCK IN SHARE MODE with innodb_lock_wait_timeout 0 (NOWAIT is not
//      allowed in a compound statement), held until COMMIT; all must be
//      there and owned, else SIGNAL "declined" (nothing written yet);
//   2. the writes, each kind in id order:
//        - no if_version: one INSERT … ON DUPLICATE KEY UPDATE version =
//          version + 1, `updated` never decreasing … RETURNING id, version
//          (the row's new version: the answer);
//        - if_version 0: none of the ids may exist (else SIGNAL
//          "declined"), then one plain multi-row INSERT (a row a racing
//          writer inserted meanwhile is a duplicate-key error: the handler
//          rolls everything back);
//        - if_version v: one UPDATE … WHERE id = … AND version = v per
//          item, ROW_COUNT() checked (else SIGNAL "declined", rolled back);
//   3. the index-state lease (indexer/index_registry.h): the server's clock
//      still within `deadline_ms` of the statement's start, else SIGNAL
//      (rolled back) — no round trip is left to check it before COMMIT;
//   4. COMMIT.
// Any error inside runs the EXIT handler: ROLLBACK, the lock wait timeout
// put back, RESIGNAL. Values are hex literals (X'…'): byte-exact, nothing
// to escape; identifiers are the validated table name and the cluster id
// as a quoted literal of its validated characters.
#pragma once

#include <soci/soci.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "records/put_many_item.h"

namespace libshard::records {

// The statement's length for `items`, before building it (the caller
// keeps it below the server's packet limit).
size_t MyPutManyBytes(const std::vector<PutManyItem>& items, size_t bucket_count);

// `items` sorted by id, each id once; `buckets` their distinct buckets,
// sorted. Throws soci::mysql_soci_error when the statement failed — the
// whole batch undone, or, for a connection error, its outcome unknown.
// Runs the session's hooks (FaultEnv, the statement timeout) around it.
PutManyOutcome RunMyPutMany(soci::session& sql, std::string_view entity,
                              const std::string& cluster_id,
                              const std::vector<PutManyItem>& items,
                              const std::vector<uint32_t>& buckets, int64_t now_us,
                              int64_t deadline_ms, std::vector<uint64_t>* versions);

}  // namespace libshard::records
