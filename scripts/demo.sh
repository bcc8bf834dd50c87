#!/usr/bin/env bash
# demo.sh — the main job, from a fresh machine to a working cluster:
#   1. install the Debian packages (scripts/setup.sh)
#   2. build and install libshard into _install/ (scripts/build.sh)
#   3. create the embedded SQLite cluster of schemas/sqlite.yaml in demo/
#   4. generate a sample data set (10,000 users, 20,000 posts) and import it
#   5. build the example service against the installed library and run it
# and print what it did, with counts and timings.
#
#   scripts/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."   # the repository root
export BUILD_DIR=${BUILD_DIR:-build}
export INSTALL_DIR=${INSTALL_DIR:-$PWD/_install}
DEMO=demo
CONFIG=$DEMO/libshard.yaml
SHARDCTL=$INSTALL_DIR/bin/shardctl
USERS=10000
POSTS=20000

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

step "install packages"
scripts/setup.sh

step "build and install into $INSTALL_DIR"
t=$(now)
scripts/build.sh
build_s=$(since "$t")

step "create the SQLite cluster in $DEMO/"
rm -rf "$DEMO"
mkdir -p "$DEMO"
cp schemas/sqlite.yaml "$CONFIG"   # SQLite paths resolve against demo/
"$SHARDCTL" -c "$CONFIG" init

step "generate $USERS users and $POSTS posts (JSONL)"
# A fixed seed makes the same data set every time. Emails are unique (the
# users.by_email index is unique); post authors are existing users.
awk -v n="$USERS" 'BEGIN {
  srand(42)
  split("Ada Alan Barbara Claude Donald Edsger Frances Grace John Katherine Linus Margaret", first, " ")
  split("Lovelace Turing Liskov Shannon Knuth Dijkstra Allen Hopper Backus Johnson Torvalds Hamilton", last, " ")
  for (i = 1; i <= n; i++) {
    f = first[1 + int(rand() * 12)]; l = last[1 + int(rand() * 12)]
    printf "{\"id\":\"u%05d\",\"doc\":{\"name\":\"%s %s\",\"email\":\"%s.%s.%d@example.com\",\"age\":%d}}\n",
      i, f, l, tolower(f), tolower(l), i, 18 + int(rand() * 60)
  }
}' >"$DEMO/users.jsonl"
awk -v n="$POSTS" -v users="$USERS" 'BEGIN {
  srand(7)
  split("cpp databases sharding sqlite postgres mariadb msgpack yaml indexes ops", tag, " ")
  for (i = 1; i <= n; i++) {
    a = 1 + int(rand() * 10); b = 1 + (a + int(rand() * 9)) % 10   # two distinct tags
    printf "{\"id\":\"p%06d\",\"doc\":{\"author\":\"u%05d\",\"created\":%.0f,\"title\":\"Post %d about %s\",\"tags\":[\"%s\",\"%s\"]}}\n",
      i, 1 + int(rand() * users), 1700000000 + i * 600 + int(rand() * 600), i, tag[a], tag[a], tag[b]
  }
}' >"$DEMO/posts.jsonl"
wc -l "$DEMO/users.jsonl" "$DEMO/posts.jsonl"

step "import"
t=$(now)
users_imported=$("$SHARDCTL" -c "$CONFIG" import users "$DEMO/users.jsonl")
users_s=$(since "$t")
t=$(now)
posts_imported=$("$SHARDCTL" -c "$CONFIG" import posts "$DEMO/posts.jsonl")
posts_s=$(since "$t")
echo "imported $users_imported users in ${users_s}s, $posts_imported posts in ${posts_s}s"

step "a few shardctl reads"
"$SHARDCTL" -c "$CONFIG" get users u00042 --meta
"$SHARDCTL" -c "$CONFIG" locate users u00042
"$SHARDCTL" -c "$CONFIG" mget posts p000001 p000002

step "stats (records per shard and entity)"
"$SHARDCTL" -c "$CONFIG" stats

step "build the example service against the installed library"
cmake -S examples -B "$BUILD_DIR/examples" -DCMAKE_PREFIX_PATH="$INSTALL_DIR" >/dev/null
cmake --build "$BUILD_DIR/examples" -j"$(nproc)"

step "run the example service on $CONFIG"
t=$(now)
"$BUILD_DIR/examples/user_service" "$CONFIG"
example_s=$(since "$t")

step "summary"
cat <<EOF
build + install:   ${build_s}s  ($INSTALL_DIR)
cluster:           $CONFIG  (SQLite files under $DEMO/)
imported users:    $users_imported in ${users_s}s
imported posts:    $posts_imported in ${posts_s}s
example service:   ok in ${example_s}s  ($BUILD_DIR/examples/user_service)
try:               $SHARDCTL -c $CONFIG get users u00001
EOF
