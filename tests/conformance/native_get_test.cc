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

#include <algorithm>
#include <string>
#include <vector>

#include "backend/mysql_statement.h"
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

// The first database of `backend` in the cluster (a record shard when
// `shard`), or null — said in the test's output: the caller has nothing to
// check on this backend then.
DatabaseConfig* FirstDatabase(TestCluster& tc, Backend backend, bool shard) {
  for (DatabaseConfig& db : tc.config.databases) {
    const bool is_shard = std::find(tc.config.shards.begin(), tc.config.shards.end(), db.name) !=
                          tc.config.shards.end();
    if (db.backend == backend && (is_shard || !shard)) return &db;
  }
  MESSAGE("no " << std::string(BackendName(backend)) << (shard ? " shard" : " database")
                << " on this backend: nothing to check");
  return nullptr;
}

// A plain session (no hooks) to `db`.
libshard::backend::Session OpenPlain(const DatabaseConfig& db) {
  libshard::backend::RegisterBackendsOnce();
  return libshard::backend::OpenSession(db.backend, db.url, nullptr);
}

void CheckGetsAfterCuts(Backend backend, bool auto_reconnect) {
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  DatabaseConfig* target = FirstDatabase(tc, backend, /*shard=*/true);
  if (target == nullptr) return;
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
  const DatabaseConfig* mysql = FirstDatabase(tc, Backend::kMysql, /*shard=*/false);
  if (mysql == nullptr) return;
  // A server-wide limit: other clients of the test server prepare nothing
  // else, and the point get falls back for them too while it is 0.
  libshard::backend::Session admin = OpenPlain(*mysql);
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
  // every value must still be the one bound when the statement runs. (A
  // pointer into a buffer freed by that growth is read inside libpq, which
  // is not instrumented; ASan reports it through its interceptors, and
  // without ASan the value arrives wrong or right by luck.)
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  const DatabaseConfig* pg = FirstDatabase(tc, Backend::kPostgres, /*shard=*/false);
  if (pg == nullptr) return;
  libshard::backend::Session session = OpenPlain(*pg);
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

TEST_CASE("native get: PostgreSQL's statements are deallocated when dropped, not when their "
          "connection closes") {
  // Dropped after an error (Connection::ForgetStatements) on a connection
  // that stays: DEALLOCATE, or every such error would leave one behind on
  // the server. Dropped with a closing connection (ConnectionClosing): no
  // round trip, the session takes them along.
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  const DatabaseConfig* pg = FirstDatabase(tc, Backend::kPostgres, /*shard=*/false);
  if (pg == nullptr) return;
  libshard::backend::Session session = OpenPlain(*pg);
  auto count = [&] {
    int n = -1;
    *session.sql << "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE "
                    "'libshard_native_%'",
        soci::into(n);
    return n;
  };
  const int before = count();
  {
    libshard::backend::PgStatement st(*session.sql, "SELECT 1");
    CHECK(count() == before + 1);
  }
  CHECK(count() == before);
  {
    libshard::backend::PgStatement st(*session.sql, "SELECT 2");
    st.ConnectionClosing();
  }
  CHECK(count() == before + 1);
}

TEST_CASE("native get: MariaDB's statement gives back a result buffer grown past 64 KiB") {
  AnnounceBackend();
  TestCluster tc = MakeCluster(BackendFromEnv(), Spec({"items"}));
  const DatabaseConfig* mysql = FirstDatabase(tc, Backend::kMysql, /*shard=*/false);
  if (mysql == nullptr) return;
  libshard::backend::Session session = OpenPlain(*mysql);
  libshard::backend::MysqlStatement st(*session.sql, "SELECT REPEAT('x', ?)");
  const size_t start = st.buffer_bytes();
  for (const int64_t n : {int64_t{10}, int64_t{300}, int64_t{200000}, int64_t{5}}) {
    CAPTURE(n);
    {
      libshard::backend::MysqlStatement::Reader reader(st);
      st.BindInt(1, n);
      REQUIRE(st.Execute());
      CHECK(st.Bytes(0) == std::string(static_cast<size_t>(n), 'x'));
      CHECK_FALSE(st.Fetch());
    }
    // Read back whole, then given back when it grew past 64 KiB; a value
    // that fits keeps the buffer it needed.
    CHECK(st.buffer_bytes() <= std::max(start, size_t{300}));
  }
}
