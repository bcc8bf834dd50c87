// Store's index lifecycle methods: thin wrappers over indexer/builder.h
// (status, build, drop) and indexer/verify.h (verify, repair).
#include <string>

#include "indexer/builder.h"
#include "indexer/verify.h"
#include "libshard/store.h"
#include "store_impl.h"

namespace libshard {

Result<std::vector<IndexStatus>> Store::IndexStatuses() {
  return indexer::IndexStatuses(*impl_);
}

Status Store::BuildIndex(std::string_view entity, std::string_view index,
                         const BuildOptions& options) {
  // Checked here, at the public entry: NaN passes a clamp (every comparison
  // with it is false) and would reach the pacing sleep as a NaN duration.
  if (!(options.duty > 0.0 && options.duty <= 1.0)) {
    return Status::InvalidArgument("BuildOptions::duty must be a number in (0, 1], got " +
                                   std::to_string(options.duty));
  }
  if (options.chunk < 1) {
    return Status::InvalidArgument("BuildOptions::chunk must be at least 1, got " +
                                   std::to_string(options.chunk));
  }
  return indexer::BuildIndex(*impl_, impl_->indexes.get(), entity, index, options);
}

Result<VerifyReport> Store::VerifyIndex(std::string_view entity, std::string_view index) {
  return indexer::VerifyIndex(*impl_, entity, index);
}

Result<VerifyReport> Store::RepairIndex(std::string_view entity, std::string_view index) {
  return indexer::RepairIndex(*impl_, entity, index);
}

Status Store::DropIndex(std::string_view entity, std::string_view index) {
  return indexer::DropIndex(*impl_, impl_->indexes.get(), entity, index);
}

}  // namespace libshard
