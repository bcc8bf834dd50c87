// user_service: a small "user service" built on libshard, the way a C++
// service would use the installed library (see CMakeLists.txt beside this).
//
//   user_service path/to/libshard.yaml
//
// The config must declare the entities `users` and `posts` (as
// schemas/sqlite.yaml does). The cluster is created on first use
// (Options::create_if_missing). Running it again is fine: it overwrites its
// own users, adds one more post and keeps counting logins.
//
// It shows: typed records (a plain struct with MSGPACK_DEFINE_MAP), dynamic
// Documents, a compare-and-set update loop run from several threads,
// create-only writes, GetMany, Delete and Locate. Any unexpected error ends
// the program with exit code 1 and the Status message.
#include <libshard/libshard.h>
#include <libshard/typed.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using libshard::Code;
using libshard::Document;
using libshard::Result;
using libshard::Status;
using libshard::Store;

constexpr const char* kUsers = "users";
constexpr const char* kPosts = "posts";

// A user as the service sees it. The stored body is the MessagePack map
// {"name":…, "email":…, …}, so the same record reads as a Document too, and
// YAML-declared indexes (e.g. users.by_email) see its fields.
struct User {
  std::string name;
  std::string email;
  int age = 0;
  int64_t logins = 0;
  std::vector<std::string> roles;
  MSGPACK_DEFINE_MAP(name, email, age, logins, roles);
};

[[noreturn]] void Fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "user_service: error: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  std::exit(1);
}

// The value of `result`, or exit with its error.
template <typename T>
T Check(Result<T> result, const std::string& what) {
  if (!result.ok()) Fail(what, result.status());
  return std::move(result).value();
}

void Check(const Status& status, const std::string& what) {
  if (!status.ok()) Fail(what, status);
}

// Increments ada's login counter with compare-and-set: read the record and
// its version, change it, write it back only if nobody wrote in between;
// on Code::kVersionConflict read again and retry.
void CountLogin(Store& store, const std::string& id,
                std::atomic<int>& conflicts) {
  for (;;) {
    auto current = Check(libshard::GetObject<User>(store, kUsers, id), "get " + id);
    current.value.logins += 1;
    libshard::WriteOptions cas;
    cas.if_version = current.version;
    auto written = libshard::PutObject(store, kUsers, id, current.value, cas);
    if (written.ok()) return;
    if (written.status().code() != Code::kVersionConflict) {
      Fail("compare-and-set " + id, written.status());
    }
    conflicts.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml\n", argv[0]);
    return 2;
  }

  // --- open the cluster ----------------------------------------------------
  auto config = Check(libshard::ClusterConfig::Load(argv[1]), "load config");
  for (const char* entity : {kUsers, kPosts}) {
    if (config.FindEntity(entity) == nullptr) {
      Fail("config", Status::InvalidConfig(std::string(argv[1]) +
                                           " declares no entity '" + entity + "'"));
    }
  }
  libshard::Options options;
  options.create_if_missing = true;  // first run: create tables, bucket map
  std::unique_ptr<Store> store =
      Check(Store::Open(config, options), "open cluster");
  std::printf("opened %s: %zu shards, %u buckets\n", argv[1],
              config.shards.size(), config.buckets);

  // --- a typed record: a plain struct ---------------------------------------
  const std::string ada_id = "example:ada";
  User ada{"Ada Lovelace", "ada@example.org", 36, 0, {"admin", "author"}};
  // Keep the login count of earlier runs: read it first if the user exists.
  if (auto old = libshard::GetObject<User>(*store, kUsers, ada_id); old.ok()) {
    ada.logins = old->value.logins;
  } else if (!old.status().IsNotFound()) {
    Fail("get " + ada_id, old.status());
  }
  uint64_t version =
      Check(libshard::PutObject(*store, kUsers, ada_id, ada), "put " + ada_id);
  auto ada_back =
      Check(libshard::GetObject<User>(*store, kUsers, ada_id), "get " + ada_id);
  std::printf("typed put %s -> version %llu; read back: %s <%s>, age %d\n",
              ada_id.c_str(), static_cast<unsigned long long>(version),
              ada_back.value.name.c_str(), ada_back.value.email.c_str(),
              ada_back.value.age);

  // The same record seen as a dynamic Document.
  auto ada_doc = Check(store->Get(kUsers, ada_id), "get " + ada_id);
  std::printf("  as a document: %s\n", ada_doc.doc.ToJson().c_str());

  // --- a dynamic Document, nested fields included -----------------------------
  const std::string grace_id = "example:grace";
  Document grace = Document::MakeObject(
      {{"name", "Grace Hopper"}, {"email", "grace@example.org"}, {"age", 85}});
  grace["roles"] = Document::MakeArray({"admiral"});
  grace["address"]["city"] = "Arlington";  // creates the nested object
  version = Check(store->Put(kUsers, grace_id, grace), "put " + grace_id);
  auto grace_back = Check(store->Get(kUsers, grace_id), "get " + grace_id);
  const Document* city = grace_back.doc.FindPath("address.city");
  std::printf("document put %s -> version %llu; city %s\n", grace_id.c_str(),
              static_cast<unsigned long long>(version),
              city != nullptr && city->is_string() ? city->as_string().c_str() : "?");

  // --- create-only: if_version 0 means "must not exist" -----------------------
  libshard::WriteOptions create_only;
  create_only.if_version = 0;
  auto again = store->Put(kUsers, grace_id, grace, create_only);
  if (again.ok() || again.status().code() != Code::kVersionConflict) {
    Fail("create-only put of an existing user should conflict",
         again.ok() ? Status::Internal("it succeeded") : again.status());
  }
  std::printf("create-only put %s -> conflict, as expected\n", grace_id.c_str());

  // --- compare-and-set from several threads -----------------------------------
  constexpr int kThreads = 4, kPerThread = 25;
  const int64_t logins_before = ada_back.value.logins;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) CountLogin(*store, ada_id, conflicts);
    });
  }
  for (auto& w : workers) w.join();
  auto ada_after =
      Check(libshard::GetObject<User>(*store, kUsers, ada_id), "get " + ada_id);
  const int64_t expected = logins_before + kThreads * kPerThread;
  std::printf("compare-and-set: %d threads x %d logins -> logins %lld "
              "(expected %lld), %d conflicts retried, version %llu\n",
              kThreads, kPerThread, static_cast<long long>(ada_after.value.logins),
              static_cast<long long>(expected), conflicts.load(),
              static_cast<unsigned long long>(ada_after.version));
  if (ada_after.value.logins != expected) {
    Fail("compare-and-set", Status::Internal("an increment was lost"));
  }

  // --- a post with a time-ordered UUIDv7 id -----------------------------------
  const libshard::Id post_id = libshard::ids::NewUuidV7();
  Document post = Document::MakeObject(
      {{"author", ada_id},
       {"created", static_cast<int64_t>(std::time(nullptr))},
       {"title", "Notes on the Analytical Engine"},
       {"tags", Document::MakeArray({"math", "history"})}});
  Check(store->Put(kPosts, post_id, post), "put post");
  const std::string post_text =
      Check(libshard::ids::FormatUuid(post_id), "format uuid");
  std::printf("post %s by %s stored\n", post_text.c_str(), ada_id.c_str());

  // --- GetMany: missing ids are left out, request order is kept ---------------
  const std::vector<libshard::Id> wanted = {grace_id, "example:nobody", ada_id};
  auto found = Check(store->GetMany(kUsers, wanted), "get_many");
  std::printf("get_many of %zu ids -> %zu found:", wanted.size(), found.size());
  for (const auto& record : found) {
    const Document* name = record.doc.Find("name");
    std::printf(" %s (%s)", record.id.c_str(),
                name != nullptr && name->is_string() ? name->as_string().c_str() : "?");
  }
  std::printf("\n");
  if (found.size() != 2 || found[0].id != grace_id || found[1].id != ada_id) {
    Fail("get_many", Status::Internal("unexpected records or order"));
  }

  // --- Delete: true when a record went away, false when there was none --------
  const std::string temp_id = "example:temp";
  Check(store->Put(kUsers, temp_id, Document::MakeObject({{"name", "Temp"}})),
        "put " + temp_id);
  const bool deleted = Check(store->Delete(kUsers, temp_id), "delete " + temp_id);
  const bool deleted_again =
      Check(store->Delete(kUsers, temp_id), "delete " + temp_id);
  std::printf("delete %s -> %s, again -> %s\n", temp_id.c_str(),
              deleted ? "deleted" : "none", deleted_again ? "deleted" : "none");
  if (!deleted || deleted_again) {
    Fail("delete", Status::Internal("unexpected delete results"));
  }

  // --- Locate: where each id lives (pure computation) -------------------------
  for (const std::string& id : {ada_id, grace_id}) {
    libshard::Location where = store->Locate(id);
    std::printf("locate %s -> bucket %u on shard %s\n", id.c_str(), where.bucket,
                where.shard.c_str());
  }
  // --- Metrics: what a /metrics endpoint serves ------------------------------
  // PrometheusText() is RenderPrometheus(store->Metrics()): counters of this
  // process per database (operations, errors by code, retries, latency
  // histogram, pool) and per index. A service serves it from its HTTP
  // server, e.g. with cpp-httplib:
  //
  //   server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
  //     res.set_content(store->PrometheusText(), "text/plain; version=0.0.4; charset=utf-8");
  //   });
  //
  // Here the operation counts are printed instead (the full text is long).
  const libshard::MetricsSnapshot metrics = store->Metrics();
  uint64_t operations = 0, errors = 0;
  for (const libshard::DatabaseMetrics& db : metrics.databases) {
    operations += db.operations;
    for (const auto& [code, n] : db.errors_by_code) errors += n;
  }
  const std::string text = store->PrometheusText();
  std::printf("metrics: %llu database operations, %llu errors; /metrics would serve %zu bytes\n",
              static_cast<unsigned long long>(operations), static_cast<unsigned long long>(errors),
              text.size());
  if (operations == 0 || text.find("libshard_db_operations_total") == std::string::npos) {
    Fail("metrics", Status::Internal("no operations counted"));
  }

  std::printf("user_service: ok\n");
  return 0;
}
