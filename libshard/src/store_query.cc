// Store::Query: secondary-index queries (the engine is indexer/query.cc).
#include "indexer/query.h"
#include "store_impl.h"

namespace libshard {

Result<QueryPage> Store::Query(std::string_view entity, const struct Query& query) {
  if (Status s = impl_->CheckEntity(entity); !s.ok()) return s;
  return indexer::RunQuery(*impl_, entity, query);
}

}  // namespace libshard
