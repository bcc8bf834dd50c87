// Statement timeouts against a frozen server: a shard reached through a
// TcpProxy that stops forwarding looks, to the client, like a stopped VM
// or a SIGSTOPped server. Every call on it must fail with kUnavailable
// within Options::statement_timeout_ms (not hang), and the shard must work
// again once the server answers. PostgreSQL and MariaDB shards only (SQLite
// has no link; its waits are bounded by the busy handler).
#include <chrono>
#include <string>

#include "conformance/conformance.h"
#include "support/tcp_proxy.h"

using namespace conformance;  // NOLINT
using libshard::testing::TcpProxy;

TEST_CASE("timeout: a frozen server fails calls with kUnavailable within the statement timeout") {
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  // The first networked shard goes through the proxy.
  DatabaseConfig* target = nullptr;
  for (const std::string& shard : tc.config.shards) {
    for (DatabaseConfig& db : tc.config.databases) {
      if (db.name == shard && db.backend != Backend::kSqlite && target == nullptr) target = &db;
    }
  }
  if (target == nullptr) {
    MESSAGE("no PostgreSQL or MariaDB shard on this backend: nothing to freeze");
    return;
  }
  const int port = libshard::testing::PortOfUrl(target->url);
  REQUIRE(port > 0);
  TcpProxy proxy(port);
  target->url = libshard::testing::WithPort(target->url, proxy.port());
  const std::string frozen_shard = target->name;
  Options options;
  options.statement_timeout_ms = 1000;
  REQUIRE_OK(Store::Init(tc.config, options));
  Result<std::unique_ptr<Store>> opened = Store::Open(tc.config, options);
  REQUIRE_OK(opened);
  Store& store = **opened;
  const std::string items = tc.Entity("items");
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    std::string candidate = "k" + std::to_string(i);
    if (store.Locate(candidate).shard == frozen_shard) id = candidate;
  }
  REQUIRE_OK(store.Put(items, id, Document::FromJson(R"({"n":1})").value()));

  proxy.Freeze(true);
  // The put runs on the connection the first put left in the pool; the get
  // then needs a new one, whose handshake the frozen server never answers.
  for (const std::string call : {"put", "get"}) {
    CAPTURE(call);
    const auto start = std::chrono::steady_clock::now();
    Status s = call == "get"
                   ? store.Get(items, id).status()
                   : store.Put(items, id, Document::FromJson(R"({"n":2})").value()).status();
    const auto took = std::chrono::steady_clock::now() - start;
    MESSAGE(call << " on a frozen server: " << s.ToString() << " after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(s.code() == Code::kUnavailable);
    // One timeout (a read may retry once on a fresh connection, which then
    // waits for its connect_timeout-bounded handshake): well under the 30 s
    // default and the connect timeout of 5 s plus the statement timeout.
    CHECK(took < std::chrono::seconds(8));
  }
  proxy.Freeze(false);
  // The server answers again: a fresh connection serves the same record.
  Status back;
  for (int attempt = 0; attempt < 60; ++attempt) {
    back = store.Get(items, id).status();
    if (back.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_OK(back);
  Result<Record> rec = store.Get(items, id);
  REQUIRE_OK(rec);
  CHECK(rec->version == 1);  // the put on the frozen server never committed
}
