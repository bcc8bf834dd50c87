#!/usr/bin/env bash
# servers.sh — throwaway PostgreSQL 15, MariaDB 10.11 and Redis 7 servers
# for the libshard tests. They listen on 127.0.0.1 only, on private ports,
# with all their data under one run folder that `start` wipes, so every run
# is fresh.
#
#   scripts/servers.sh start    # (re)start all three, create users and databases
#   scripts/servers.sh stop     # stop them; fine if they are not running
#   scripts/servers.sh status   # exit 0 when all three answer
#
# LIBSHARD_RUN_DIR     run folder           (default /tmp/libshard-servers)
# LIBSHARD_PG_PORT     PostgreSQL port      (default 55432)
# LIBSHARD_MYSQL_PORT  MariaDB port         (default 53306)
# LIBSHARD_REDIS_PORT  Redis port           (default 56379; the shared cache tier)
#
# `start` writes $LIBSHARD_RUN_DIR/env.sh with the coordinates the tests read
# (see tests/support/test_cluster.h); `source` it before running ctest.
# For tests only: fsync is off, Redis keeps nothing on disk, and
# authentication is trust / a fixed password.
set -euo pipefail

RUN_DIR=${LIBSHARD_RUN_DIR:-/tmp/libshard-servers}
PG_PORT=${LIBSHARD_PG_PORT:-55432}
MYSQL_PORT=${LIBSHARD_MYSQL_PORT:-53306}
REDIS_PORT=${LIBSHARD_REDIS_PORT:-56379}
HOST=127.0.0.1  # never any other address

# Databases created on both servers (tests/support/test_cluster.h).
DATABASES=(ls_catalog ls_catalog2 ls_catalog10 ls_idx0 ls_idx1)
for i in 0 1 2 3 4 5 6 7 8 9; do DATABASES+=("ls_s$i"); done

PG_BIN=/usr/lib/postgresql/15/bin
PG_DATA=$RUN_DIR/pg
PG_LOG=$RUN_DIR/postgresql.log
MY_DATA=$RUN_DIR/mysql
MY_SOCK=$RUN_DIR/mysqld.sock
MY_PID=$RUN_DIR/mysqld.pid
MY_LOG=$RUN_DIR/mariadb.log   # written by mariadbd itself (as $MY_USER)
MY_OUT=$RUN_DIR/mariadbd.out  # its stdout/stderr before the log opens
REDIS_BIN=/usr/bin/redis-server
REDIS_DATA=$RUN_DIR/redis
REDIS_PID=$RUN_DIR/redis.pid
REDIS_LOG=$RUN_DIR/redis.log
# A password, so that the tests see a URL with one and check it is never
# printed (RedactUrl).
REDIS_PASSWORD=libshard-redis-pw
ENV_FILE=$RUN_DIR/env.sh

log() { echo "servers.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Servers refuse to run as root: as root, run PostgreSQL as `postgres` and
# MariaDB as `mysql`; as any other user, run both as that user. Redis would
# run as root, but as root it runs as `redis` (Debian's package user) too.
if [[ $(id -u) -eq 0 ]]; then
  PG_USER=postgres MY_USER=mysql
  as_pg() { runuser -u postgres -- "$@"; }
  if id -u redis >/dev/null 2>&1; then
    REDIS_USER=redis
    as_redis() { runuser -u redis -- "$@"; }
  else
    REDIS_USER=root
    as_redis() { "$@"; }
  fi
else
  PG_USER=$(id -un) MY_USER=$(id -un) REDIS_USER=$(id -un)
  as_pg() { "$@"; }
  as_redis() { "$@"; }
fi

# Client commands. --no-defaults keeps /etc/mysql/*.cnf (the system server's
# socket and paths) out of the way; the socket connects as the OS user, which
# mariadb-install-db gave a unix_socket account.
my_admin() { mariadb-admin --no-defaults --socket="$MY_SOCK" "$@"; }
my_sql() { mariadb --no-defaults --socket="$MY_SOCK" "$@"; }
# The password through the environment, not the command line (ps shows that).
redis_cli() { REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h "$HOST" -p "$REDIS_PORT" "$@"; }

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
my_running() { [[ -S $MY_SOCK ]] && my_admin ping >/dev/null 2>&1; }
redis_running() { [[ -f $REDIS_PID ]] && [[ $(redis_cli ping 2>/dev/null) == PONG ]]; }

tail_log() { [[ -f $1 ]] && { log "last lines of $1:"; tail -n 25 "$1" >&2; }; return 0; }

# True while process $1 runs (a zombie, which nobody may reap here, is not running).
alive() { [[ -n $1 && -r /proc/$1/stat ]] && [[ $(cut -d" " -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

stop_servers() {
  if pg_running; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m fast -w >/dev/null
  fi
  if my_running; then
    log "stopping MariaDB"
    my_admin shutdown || true
  fi
  # A MariaDB whose socket is gone (or that ignores shutdown) still has its
  # pid file: end that one process and wait for it.
  if [[ -f $MY_PID ]]; then
    local pid
    pid=$(cat "$MY_PID" 2>/dev/null || true)
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      local waited=0
      while alive "$pid" && ((waited++ < 300)); do sleep 0.1; done
    fi
  fi
  # Redis: SHUTDOWN NOSAVE (nothing to keep), then the same pid-file fallback.
  if redis_running; then
    log "stopping Redis"
    redis_cli shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -f $REDIS_PID ]]; then
    local rpid
    rpid=$(cat "$REDIS_PID" 2>/dev/null || true)
    if alive "$rpid"; then
      local waited=0
      while alive "$rpid" && ((waited++ < 50)); do sleep 0.1; done
      if alive "$rpid"; then
        kill -TERM "$rpid" 2>/dev/null || true
        waited=0
        while alive "$rpid" && ((waited++ < 300)); do sleep 0.1; done
      fi
    fi
  fi
}

start_postgres() {
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL 15 not found in $PG_BIN (run scripts/setup.sh)"
  log "starting PostgreSQL on $HOST:$PG_PORT"
  install -d -m 0700 -o "$PG_USER" "$PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U postgres \
    --no-sync >"$RUN_DIR/initdb.log" 2>&1 || { tail_log "$RUN_DIR/initdb.log"; die "initdb failed"; }
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start -o \
    "-c listen_addresses=$HOST -p $PG_PORT -k $RUN_DIR -c fsync=off -c synchronous_commit=off -c max_connections=300" \
    >/dev/null || { tail_log "$PG_LOG"; die "PostgreSQL did not start"; }
  local db
  for db in "${DATABASES[@]}"; do echo "CREATE DATABASE $db;"; done |
    psql -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -U postgres -d postgres >/dev/null
}

start_mariadb() {
  command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] ||
    die "mariadbd not found (run scripts/setup.sh)"
  log "starting MariaDB on $HOST:$MYSQL_PORT"
  install -d -m 0750 -o "$MY_USER" "$MY_DATA"
  mariadb-install-db --no-defaults --user="$MY_USER" --datadir="$MY_DATA" \
    --auth-root-authentication-method=socket --skip-test-db \
    >"$RUN_DIR/install-db.log" 2>&1 || { tail_log "$RUN_DIR/install-db.log"; die "mariadb-install-db failed"; }
  # In the background, in its own session, with no tie to our stdout (so
  # a caller reading our output does not wait for the server to exit).
  setsid /usr/sbin/mariadbd --no-defaults --user="$MY_USER" --datadir="$MY_DATA" \
    --bind-address="$HOST" --port="$MYSQL_PORT" --socket="$MY_SOCK" \
    --pid-file="$MY_PID" --log-error="$MY_LOG" --skip-log-bin --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=0 --max-connections=300 \
    </dev/null >"$MY_OUT" 2>&1 &
  local server=$! deadline=$((SECONDS + 60))
  until my_admin ping >/dev/null 2>&1; do
    if ! alive "$server"; then
      tail_log "$MY_OUT"; tail_log "$MY_LOG"; die "MariaDB exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      tail_log "$MY_OUT"; tail_log "$MY_LOG"; die "MariaDB did not answer within 60 s"
    fi
    sleep 0.2
  done
  local db sql=""
  for host in "$HOST" localhost; do
    sql+="CREATE USER 'libshard'@'$host' IDENTIFIED BY 'libshard';"
    sql+="GRANT ALL PRIVILEGES ON *.* TO 'libshard'@'$host';"
  done
  for db in "${DATABASES[@]}"; do
    sql+="CREATE DATABASE $db CHARACTER SET utf8mb4;"
  done
  my_sql -e "$sql"
}

start_redis() {
  [[ -x $REDIS_BIN ]] || die "redis-server not found at $REDIS_BIN (run scripts/setup.sh)"
  log "starting Redis on $HOST:$REDIS_PORT"
  install -d -m 0750 -o "$REDIS_USER" "$REDIS_DATA"
  # No persistence (--save '' --appendonly no), a bounded memory that evicts
  # like a production cache (allkeys-lru: evictions exercise the fill
  # leases); --daemonize writes the pid file, which `stop` falls back on.
  # The password is on the command line here only: a throwaway test server.
  as_redis "$REDIS_BIN" --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
    --dir "$REDIS_DATA" --save '' --appendonly no \
    --requirepass "$REDIS_PASSWORD" \
    --maxmemory 256mb --maxmemory-policy allkeys-lru \
    --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" \
    </dev/null >"$RUN_DIR/redis.out" 2>&1 || { tail_log "$RUN_DIR/redis.out"; tail_log "$REDIS_LOG"; die "redis-server failed"; }
  local deadline=$((SECONDS + 30))
  until [[ $(redis_cli ping 2>/dev/null) == PONG ]]; do
    if ((SECONDS >= deadline)); then
      tail_log "$REDIS_LOG"; die "Redis did not answer within 30 s"
    fi
    sleep 0.1
  done
}

write_env() {
  cat >"$ENV_FILE" <<EOF
# Written by scripts/servers.sh start: coordinates of the test servers.
export LIBSHARD_PG_PORT=$PG_PORT
export PGUSER=postgres
export LIBSHARD_MYSQL_PORT=$MYSQL_PORT
export LIBSHARD_MYSQL_USER=libshard
export LIBSHARD_MYSQL_PASSWORD=libshard
export LIBSHARD_REDIS_PORT=$REDIS_PORT
export LIBSHARD_CACHE_URL=redis://:$REDIS_PASSWORD@$HOST:$REDIS_PORT/0
# Tests that stop and restart a cache server start their own with this.
export LIBSHARD_REDIS_SERVER=$REDIS_BIN
EOF
  chmod 0644 "$ENV_FILE"
}

case ${1:-} in
  start)
    started=$SECONDS
    [[ -n $RUN_DIR && $RUN_DIR != / ]] || die "refusing LIBSHARD_RUN_DIR='$RUN_DIR'"
    stop_servers          # a previous run's servers, if any
    rm -rf "$RUN_DIR"     # fresh data every run
    # World-writable (sticky) so both server users can put sockets here.
    install -d -m 1777 "$RUN_DIR"
    # The two servers start side by side (about 2 s saved).
    start_postgres &
    pg_job=$!
    start_mariadb
    start_redis
    wait "$pg_job" || die "PostgreSQL setup failed"
    write_env
    log "all three servers up in $((SECONDS - started)) s; data in $RUN_DIR"
    cat "$ENV_FILE"
    ;;
  stop)
    stop_servers
    log "stopped"
    ;;
  status)
    rc=0
    if pg_running; then echo "postgresql: running on $HOST:$PG_PORT"; else echo "postgresql: stopped"; rc=1; fi
    if my_running; then echo "mariadb: running on $HOST:$MYSQL_PORT"; else echo "mariadb: stopped"; rc=1; fi
    if redis_running; then echo "redis: running on $HOST:$REDIS_PORT"; else echo "redis: stopped"; rc=1; fi
    exit $rc
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
