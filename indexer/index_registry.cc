#include "indexer/index_registry.h"

#include <algorithm>

#include "backend/errors.h"

namespace libshard::indexer {

const std::vector<LiveIndex>& IndexView::For(std::string_view entity) const {
  static const std::vector<LiveIndex> kNone;
  auto it = by_entity.find(entity);
  return it == by_entity.end() ? kNone : it->second;
}

const LiveIndex* IndexView::Find(std::string_view entity, std::string_view name) const {
  for (const LiveIndex& li : For(entity)) {
    if (li.def->name == name) return &li;
  }
  return nullptr;
}

IndexRegistry::IndexRegistry(cluster::ConnectionPool& catalog, const ClusterConfig& config,
                             std::shared_ptr<cluster::Env> env)
    : catalog_(catalog), env_(std::move(env)), timings_(env_->lease()), config_(config) {
  auto empty = std::make_shared<IndexView>();
  empty->env = env_.get();  // never fresh: expires at the epoch
  view_ = std::move(empty);
  for (const EntityConfig& e : config.entities) {
    for (const IndexConfig& i : e.indexes) {
      if (i.map) code_maps_[e.name + "." + i.name] = i.map;
    }
  }
}

IndexRegistry::~IndexRegistry() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

Status IndexRegistry::Refresh() {
  std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
  auto view = std::make_shared<IndexView>();
  view->env = env_.get();
  view->read_at = env_->SteadyNow();
  view->expires = view->read_at + timings_.lease;
  Result<cluster::ConnectionPool::Lease> lease = catalog_.Acquire();
  if (!lease.ok()) return lease.status();
  std::vector<CatalogIndexRow> rows;
  try {
    rows = LoadIndexRows((*lease)->sql());
  } catch (const soci::soci_error& e) {
    lease->Discard();
    return backend::ToStatus(e, catalog_.name(), "read index states");
  }
  std::map<std::string, std::shared_ptr<const IndexDef>> parsed;
  for (const CatalogIndexRow& row : rows) {
    std::string key = row.entity + '\0' + row.name + '\0' + row.definition;
    std::shared_ptr<const IndexDef> def;
    if (auto it = parsed_.find(key); it != parsed_.end()) {
      def = it->second;  // same text: same definition, problem and map function
    } else {
      IndexDef d = ParseIndexRow(row);
      if (d.problem.ok()) d.problem = CheckDatabasesKnown(d, config_);
      if (d.code) {
        auto m = code_maps_.find(d.FullName());
        if (m != code_maps_.end()) d.map = m->second;
      }
      def = std::make_shared<const IndexDef>(std::move(d));
    }
    view->by_entity[def->entity].push_back({def, row.state});
    parsed.emplace(std::move(key), std::move(def));
  }
  parsed_ = std::move(parsed);  // drops definitions no longer in the catalog
  std::lock_guard<std::mutex> lock(mu_);
  view_ = std::move(view);
  return Status::OK();
}

void IndexRegistry::StartBackgroundRefresh() {
  if (refresher_.joinable()) return;
  refresher_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      stop_cv_.wait_for(lock, timings_.refresh);
      if (stopping_) break;
      lock.unlock();
      (void)Refresh();  // failures age the view; writers see it expire
      lock.lock();
    }
  });
}

Result<std::shared_ptr<const IndexView>> IndexRegistry::Current() {
  std::shared_ptr<const IndexView> view;
  {
    std::lock_guard<std::mutex> lock(mu_);
    view = view_;
  }
  // Fresh enough unless the background refresh has missed a beat.
  if (env_->SteadyNow() - view->read_at < 2 * timings_.refresh) return view;
  Status s = Refresh();
  std::lock_guard<std::mutex> lock(mu_);
  if (!view_->Fresh()) {
    return Status::Unavailable("cannot confirm index states: the catalog has not been readable "
                               "for over " + std::to_string(timings_.lease.count()) + " ms (" +
                               s.message() + ")");
  }
  return view_;
}

namespace {

// The indexes of an entity a writer maintains, by name and definition
// (cache_key hashes the definition): what the lease argument is about.
std::vector<std::pair<std::string, std::string>> Maintained(const IndexView& view,
                                                             std::string_view entity) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const LiveIndex& li : view.For(entity)) {
    if (li.maintained()) out.emplace_back(li.def->name, li.def->cache_key);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Status IndexRegistry::Reconfirm(std::string_view entity, const IndexView& used) {
  Result<std::shared_ptr<const IndexView>> now = Current();
  if (!now.ok()) {
    return Status::Unavailable("index states could not be refreshed from the catalog in time; "
                               "the write was rolled back (" + now.status().message() + ")");
  }
  if (Maintained(**now, entity) != Maintained(used, entity)) {
    return Status::Unavailable("the indexes of '" + std::string(entity) +
                               "' changed while the write ran; the write was rolled back");
  }
  return Status::OK();
}

}  // namespace libshard::indexer
