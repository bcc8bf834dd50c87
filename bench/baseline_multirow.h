// The hand-written batched put on PostgreSQL and MariaDB (issue 9 item 2):
// one multi-row upsert statement per shard per batch, as an engineer who
// knows the server would write it:
//
//   PostgreSQL  INSERT INTO ls_rec_x AS r (id, bucket, version, updated, body)
//               SELECT decode(x.id,'hex'), x.bucket, 1, :now, decode(x.body,'hex')
//               FROM unnest(CAST(:ids AS text[]), CAST(:buckets AS int[]),
//                           CAST(:bodies AS text[])) AS x(id, bucket, body)
//               ON CONFLICT (id) DO UPDATE SET version = r.version + 1,
//                 updated = GREATEST(r.updated, EXCLUDED.updated), body = EXCLUDED.body
//               RETURNING version
//   MariaDB     INSERT INTO ls_rec_x (id, bucket, version, updated, body)
//               VALUES (:i0, :b0, 1, :u0, :d0), (…), …
//               ON DUPLICATE KEY UPDATE version = version + 1,
//                 updated = GREATEST(updated, VALUES(updated)), body = VALUES(body)
//               RETURNING version
//
// The same version semantics as libshard (1 on create, +1 per write,
// `updated` never decreasing), the new versions returned in item order.
// The statement is its own transaction (autocommit): atomic per shard
// without BEGIN/COMMIT round trips, the strongest form of the baseline.
// Rows go in id order (every writer locks in the same order: no deadlock
// between two batches). What it leaves out, compared with PutMany: per-item
// if_version, a repeated id within one batch (ON CONFLICT cannot touch a
// row twice), deletes, index maintenance, the bucket-ownership fence of
// resharding, size checks and chunking under max_allowed_packet.
#pragma once

#include <soci/soci.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/baseline.h"

namespace bench {

class BaselineMultirow {
 public:
  BaselineMultirow(Baseline& b, const std::string& entity);
  ~BaselineMultirow();
  // Encodes every body, groups by shard, one statement per shard;
  // `versions` gets the new versions in item order. `parallel`: the
  // shards' statements on one thread each (libshard's fan-out, by hand),
  // else one after another.
  void PutBatch(const std::vector<std::string>& ids,
                const std::vector<const libshard::Document*>& docs,
                std::vector<uint64_t>* versions, bool parallel);

 private:
  struct Shard;
  void RunPostgres(Shard& s, const std::vector<size_t>& items,
                   const std::vector<std::string>& ids, const std::vector<std::string>& bodies,
                   const std::vector<uint32_t>& buckets, int64_t now,
                   std::vector<uint64_t>* versions);
  void RunMariadb(Shard& s, const std::vector<size_t>& items,
                  const std::vector<std::string>& ids, const std::vector<std::string>& bodies,
                  const std::vector<uint32_t>& buckets, int64_t now,
                  std::vector<uint64_t>* versions);

  Baseline& b_;
  std::string table_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace bench
