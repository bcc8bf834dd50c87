// Following a bucket that moved.
//
// Every record shard keeps an ownership row per bucket (ls_owner, see
// records/bucket_owner.h). Each write transaction reads its bucket's row
// with a shared lock and each read checks it in the same statement, so a
// shard that no longer owns a bucket refuses the operation and says where
// the bucket went. RouteRetry turns that refusal into the next attempt:
// it corrects this process's route for the bucket and, while a switch is
// in progress (the new owner is still receiving the bucket), waits a
// little. The operation gives up with kUnavailable after
// Options::move_wait_ms.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "libshard/status.h"

namespace libshard::cluster {

class Cluster;

// A shard's ownership row for one bucket.
struct BucketOwner {
  enum State : int {
    kNotOwned = 0,
    kOwned = 1,
    kIncoming = 2,
    kSwitching = 3,  // never stored: a move holds the row (the switch)
  };
  int state = kNotOwned;
  std::string peer;  // kNotOwned: where it moved ("" if never here);
                     // kIncoming: the shard it is coming from
  bool owned() const { return state == kOwned; }
};

class RouteRetry {
 public:
  // `what` names the operation for the give-up message ("users/ada get_many").
  RouteRetry(Cluster& cluster, std::string what);
  // One record's operation: described (DescribeRecord) only when giving up,
  // not on every point get and put. `entity` and `id` must outlive this.
  RouteRetry(Cluster& cluster, std::string_view entity, std::string_view id);

  // Shard `shard` refused `bucket` with `owner`. Points the bucket at the
  // next shard to try (waiting when a switch is in progress) and returns
  // OK to try again; kUnavailable (or the error of learning a new shard)
  // to give up.
  Status Refused(uint32_t bucket, size_t shard, const BucketOwner& owner);

 private:
  Cluster& cluster_;
  std::string what_;
  std::string_view entity_, id_;  // with the record constructor
  std::chrono::steady_clock::time_point start_;
  int hops_ = 0;
  int waits_ = 0;
};

}  // namespace libshard::cluster
