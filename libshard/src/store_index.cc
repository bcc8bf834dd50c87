// Store's index lifecycle methods: thin wrappers over indexer/builder.h
// (status, build, drop) and indexer/verify.h (verify, repair).
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
  return indexer::BuildIndex(*impl_, entity, index, options);
}

Result<VerifyReport> Store::VerifyIndex(std::string_view entity, std::string_view index) {
  return indexer::VerifyIndex(*impl_, entity, index);
}

Result<VerifyReport> Store::RepairIndex(std::string_view entity, std::string_view index) {
  return indexer::RepairIndex(*impl_, entity, index);
}

Status Store::DropIndex(std::string_view entity, std::string_view index) {
  return indexer::DropIndex(*impl_, entity, index);
}

}  // namespace libshard
