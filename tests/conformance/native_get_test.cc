// The point get on the servers runs on the native client libraries, not
// through SOCI's statements: on MariaDB a server-side prepared statement
// (backend/mysql_statement.h), on PostgreSQL a prepared statement with
// binary results (backend/pg_statement.h). What they must keep: byte-exact
// bodies of any length (MariaDB's result buffers grow; PostgreSQL's bytes
// are no longer hex), and a link that breaks — on MariaDB with or without
// the client library's auto-reconnect, which silently forgets the
// connection's prepared statements — costs one retried read, never a
// failed or wrong one. When MariaDB's prepared statements run out, the
// text statement does the read. The first shard of the backend under test
// is reached through a TcpProxy that can cut every link at once.
#include <soci/soci.h>

#include <string>
#include <vector>

#include "backend/pg_statement.h"
#include "backend/session.h"
#include "conformance/conformance.h"
#include "support/tcp_proxy.h"

using namespace conformance;  // NOLINT
using libshard::testing::TcpProxy;

namespace {

// A body whose `text` field is `n` bytes with NULs and high bytes in it.
Document Body(size_t n, int seed) {
  std::string text(n, '\0');
  for (size_t i = 0; i < n; ++i) text[i] = static_cast<char>((i * 31 + seed) % 256);
  return Document::MakeObject({{"text", Document(text)}, {"seed", int64_t{seed}}});
}

void CheckGetsAfterCuts(Backend backend, bool auto_reconnect) {
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  DatabaseConfig* target = nullptr;
  for (const std::string& shard : tc.config.shards) {
    for (DatabaseConfig& db : tc.config.databases) {
      if (db.name == shard && db.backend == backend && target == nullptr) target = &db;
    }
  }
  if (target == nullptr) {
    MESSAGE("no " << std::string(BackendName(backend)) << " shard on this backend: nothing to check");
    return;
  }
  const int port = libshard::testing::PortOfUrl(target->url);
  REQUIRE(port > 0);
  TcpProxy proxy(port);
  target->url = libshard::testing::WithPort(target->url, proxy.port());
  if (auto_reconnect) target->url += " reconnect=1";
  const std::string shard = target->name;
  REQUIRE_OK(Store::Init(tc.config, {}));
  Result<std::unique_ptr<Store>> opened = Store::Open(tc.config, {});
  REQUIRE_OK(opened);
  Store& store = **opened;
  const std::string items = tc.Entity("items");

  // Ids on the proxied shard; bodies from empty-ish to larger than any
  // buffer the statement starts with, in an order that grows and shrinks.
  const std::vector<size_t> sizes = {0, 5, 300, 100000, 7, 4096, 1};
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < sizes.size(); ++i) {
    std::string id = std::string("m\0", 2) + std::to_string(i);
    if (store.Locate(id).shard == shard) ids.push_back(id);
  }
  for (size_t k = 0; k < ids.size(); ++k) {
    REQUIRE_OK(store.Put(items, ids[k], Body(sizes[k], static_cast<int>(k))));
  }
  auto check_all = [&](const char* when) {
    CAPTURE(when);
    for (size_t k = 0; k < ids.size(); ++k) {
      CAPTURE(k);
      Result<Record> r = store.Get(items, ids[k]);
      REQUIRE_OK(r);
      CHECK(r->id == ids[k]);
      CHECK(r->version == 1);
      CHECK(r->doc == Body(sizes[k], static_cast<int>(k)));
    }
    CHECK_CODE(store.Get(items, ids[0] + "absent"), Code::kNotFound);
  };
  check_all("first reads");
  check_all("second reads, statements prepared");
  for (int cut = 0; cut < 3; ++cut) {
    CAPTURE(cut);
    proxy.CutAll();
    check_all("after every link was cut");
  }
}

}  // namespace

TEST_CASE("native get: MariaDB's prepared point gets stay byte-exact and survive cut links") {
  CheckGetsAfterCuts(Backend::kMysql, false);
}

TEST_CASE("native get: MariaDB's prepared point gets survive cut links with the client's "
          "auto-reconnect on") {
  CheckGetsAfterCuts(Backend::kMysql, true);
}

TEST_CASE("native get: PostgreSQL's binary point gets stay byte-exact and survive cut links") {
  CheckGetsAfterCuts(Backend::kPostgres, false);
}

TEST_CASE("native get: when MariaDB refuses more prepared statements, point gets use the "
          "text statement") {
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  const DatabaseConfig* mysql = nullptr;
  for (const DatabaseConfig& db : tc.config.databases) {
    if (db.backend == Backend::kMysql && mysql == nullptr) mysql = &db;
  }
  if (mysql == nullptr) {
    MESSAGE("no MariaDB database on this backend: nothing to check");
    return;
  }
  // A server-wide limit: other clients of the test server prepare nothing
  // else, and the point get falls back for them too while it is 0.
  libshard::backend::RegisterBackendsOnce();
  libshard::backend::Session admin =
      libshard::backend::OpenSession(Backend::kMysql, mysql->url, nullptr);
  int limit = 0;
  *admin.sql << "SELECT @@GLOBAL.max_prepared_stmt_count", soci::into(limit);
  *admin.sql << "SET GLOBAL max_prepared_stmt_count = 0";
  struct Restore {
    soci::session& sql;
    int limit;
    ~Restore() { sql << "SET GLOBAL max_prepared_stmt_count = " + std::to_string(limit); }
  } restore{*admin.sql, limit};

  REQUIRE_OK(Store::Init(tc.config, {}));
  Result<std::unique_ptr<Store>> opened = Store::Open(tc.config, {});
  REQUIRE_OK(opened);
  Store& store = **opened;
  const std::string items = tc.Entity("items");
  for (int i = 0; i < 40; ++i) {  // every shard, the MariaDB ones included
    const std::string id = "p" + std::to_string(i);
    REQUIRE_OK(store.Put(items, id, Body(static_cast<size_t>(i * 50), i)));
    Result<Record> r = store.Get(items, id);
    REQUIRE_OK(r);
    CHECK(r->doc == Body(static_cast<size_t>(i * 50), i));
  }
  CHECK_CODE(store.Get(items, "absent"), Code::kNotFound);
}

TEST_CASE("native get: PostgreSQL's statement sends every bound value, its first execution "
          "included") {
  // Parameters bound in increasing order grow the statement's buffers;
  // every value must still be the one bound when the statement runs. (Run
  // under ASan with max_free_fill_size, a value read from a buffer freed
  // by that growth arrives as 0x55 bytes: libpq is not instrumented, so
  // only its result shows it.)
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  const DatabaseConfig* pg = nullptr;
  for (const DatabaseConfig& db : tc.config.databases) {
    if (db.backend == Backend::kPostgres && pg == nullptr) pg = &db;
  }
  if (pg == nullptr) {
    MESSAGE("no PostgreSQL database on this backend: nothing to check");
    return;
  }
  libshard::backend::RegisterBackendsOnce();
  libshard::backend::Session session =
      libshard::backend::OpenSession(Backend::kPostgres, pg->url, nullptr);
  libshard::backend::PgStatement st(
      *session.sql, "SELECT $1::bytea, $2::text, $3::bigint, $4::text, $5::bigint");
  for (int run = 0; run < 3; ++run) {
    CAPTURE(run);
    const std::string bytes("a\0b", 3);
    const std::string text = "short-" + std::to_string(run);  // in the string's own buffer
    const std::string longer(100, static_cast<char>('k' + run));  // on the heap
    libshard::backend::PgStatement::Reader reader(st);
    st.BindBytes(1, bytes);
    st.BindText(2, text);
    st.BindInt(3, -5 - run);
    st.BindText(4, longer);
    st.BindInt(5, int64_t{1} << 40);
    REQUIRE(st.Execute());
    CHECK(st.Bytes(0) == bytes);
    CHECK(st.Bytes(1) == text);
    CHECK(st.Int(2) == -5 - run);
    CHECK(st.Bytes(3) == longer);
    CHECK(st.Int(4) == int64_t{1} << 40);
    CHECK_FALSE(st.Fetch());
  }
}
