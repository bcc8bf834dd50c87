// Store::Query: secondary-index queries (the engine is indexer/query.cc).
#include "indexer/query.h"
#include "store_impl.h"

namespace libshard {

Result<QueryPage> Store::Query(std::string_view entity, const struct Query& query) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  if (!impl_->indexes) return Status::Internal("the index registry of this store is not open");
  return indexer::RunQuery(*impl_, *impl_->indexes, entity, query);
}

}  // namespace libshard
