#!/usr/bin/env bash
# crash_loop.sh — the crash loop of tests/cli/crash_loop_test.cc, for as
# long as you like: writer processes (ack_writer: seeded puts and put_many
# batches, logging every acknowledged write) are SIGKILLed at random moments
# while `shardctl index drop` / `index build` of one index run and are
# killed too; then every acknowledged write must be in `shardctl export`
# with at least its version, and `shardctl index verify` must report 0
# missing for every index.
#
#   scripts/crash_loop.sh [--iterations N] [--seed S] [--index-cycles C]
#                         [--writers W] [--work-dir DIR]
#                         [--config FILE --entity E --index I [--stable-index J]…]
#
# --iterations  writer processes to kill (default 1000)
# --seed        replays a run (the seed is printed first as seed=…)
# --index-cycles  drop (killed) + drop + build (killed) + build cycles of
#               the index (default: one per 50 iterations)
# --config      an initialized cluster to run on. The loop WRITES records
#               k0…k1999 of ENTITY (documents {n, tag, grp, w}) and DROPS and
#               REBUILDS index I: use a scratch entity whose config declares I
#               (and J) as string indexes on "tag" / "grp". Without --config,
#               a fresh 4-shard SQLite cluster is made in the work dir.
# --work-dir    logs and outputs (default: a new folder under /tmp)
#
#   scripts/crash_loop.sh --moves [--iterations N] [--seed S] [--work-dir DIR]
#
# --moves       the move crash loop instead (tests/cli/move_crash_test.cc,
#               tests/support/move_crash_loop.h): a fresh 4-shard cluster
#               gets 2 spare shards while writers run, the rebalancer is
#               SIGKILLed 20 times (at copy, catch-up, switch, cleanup and at
#               random moments), then run to the end, and the records, the
#               shards' ownership rows and the index are checked. Runs it
#               --iterations times (default 10), each with a new seed (or
#               once with --seed), on LIBSHARD_TEST_BACKEND (sqlite unless
#               set; postgres/mariadb need `source …/env.sh` of
#               scripts/servers.sh). Stops at the first failure and keeps
#               that run's files under the work dir.
#
# BUILD_DIR     build tree holding shardctl, ack_writer and crash_loop
#               (default: build); they are built there first.
# Exit status: 0 when every check held, 1 when one failed, 2 on usage errors.
set -euo pipefail

cd "$(dirname "$0")/.."   # the repository root
BUILD_DIR=${BUILD_DIR:-build}

iterations="" seed="" cycles="" writers=2 work="" config="" entity="" index="" moves=0
stable=()
die() { echo "crash_loop.sh: $*" >&2; exit 2; }
while (($# > 0)); do
  if [[ $1 == --moves ]]; then
    moves=1
    shift
    continue
  fi
  (($# >= 2)) || die "missing value for $1"
  case $1 in
    --iterations) iterations=$2 ;;
    --seed) seed=$2 ;;
    --index-cycles) cycles=$2 ;;
    --writers) writers=$2 ;;
    --work-dir) work=$2 ;;
    --config) config=$2 ;;
    --entity) entity=$2 ;;
    --index) index=$2 ;;
    --stable-index) stable+=("$2") ;;
    *) die "unknown option $1 (see the top of $0)" ;;
  esac
  shift 2
done
if ((moves)); then
  [[ -z $config && -z $cycles ]] || die "--moves makes its own cluster: no --config or --index-cycles"
  [[ -n $iterations ]] || iterations=10
else
  [[ -n $iterations ]] || iterations=1000
fi
[[ $iterations =~ ^[0-9]+$ ]] && ((iterations > 0)) || die "--iterations must be a positive number"
[[ -z $cycles ]] && cycles=$(((iterations + 49) / 50))
if [[ -n $config ]]; then
  [[ -f $config ]] || die "no config file $config"
  [[ -n $entity && -n $index ]] || die "--config needs --entity and --index"
  config=$(realpath "$config")
fi

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIBSHARD_BUILD_BENCH=OFF
fi

if ((moves)); then
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target libshard_cli_tests rebalancer ack_writer shardctl
  tests=$(realpath "$BUILD_DIR/tests/libshard_cli_tests")
  [[ -n $work ]] || work=$(mktemp -d /tmp/libshard-move-crash.XXXXXX)
  mkdir -p "$work"
  work=$(realpath "$work")
  [[ -n $seed ]] && iterations=1
  echo "crash_loop.sh: move crash loop, $iterations run(s) on ${LIBSHARD_TEST_BACKEND:-sqlite}, work dir $work" >&2
  for ((i = 1; i <= iterations; i++)); do
    run=$work/run$i
    mkdir -p "$run"
    # The test's temp dirs (cluster, logs) go under $run, kept on failure.
    if env TMPDIR="$run" LIBSHARD_KEEP_TMP=1 ${seed:+LIBSHARD_TEST_SEED="$seed"} \
        "$tests" --test-case="move crash*" >"$run/output.txt" 2>&1; then
      echo "run $i: $(grep -m1 -o 'seed=[0-9]*' "$run/output.txt"): OK" >&2
      rm -rf "$run"
    else
      grep -E 'ERROR|seed=' "$run/output.txt" | head -40
      echo "crash_loop.sh: run $i FAILED: output and files in $run" >&2
      exit 1
    fi
  done
  exit 0
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target shardctl ack_writer crash_loop
shardctl=$(realpath "$BUILD_DIR/tools/shardctl/shardctl")
writer=$(realpath "$BUILD_DIR/tests/ack_writer")
loop=$(realpath "$BUILD_DIR/tests/crash_loop")

[[ -n $work ]] || work=$(mktemp -d /tmp/libshard-crash-loop.XXXXXX)
mkdir -p "$work"
work=$(realpath "$work")

if [[ -z $config ]]; then
  config=$work/cluster.yaml
  cat >"$config" <<'EOF'
# Scratch cluster of scripts/crash_loop.sh (SQLite files next to this file).
cluster: {buckets: 1024, hash_seed: 0}
catalog: catalog
databases:
  catalog: "sqlite3://db=data/catalog.db"
  s0: "sqlite3://db=data/s0.db"
  s1: "sqlite3://db=data/s1.db"
  s2: "sqlite3://db=data/s2.db"
  s3: "sqlite3://db=data/s3.db"
  idx0: "sqlite3://db=data/idx0.db"
shards: [s0, s1, s2, s3]
entities:
  - name: crash
    indexes:
      - {name: by_grp, databases: [idx0], columns: [{name: grp, type: string, field: grp}]}
      - {name: by_tag, databases: [idx0], columns: [{name: tag, type: string, field: tag}]}
EOF
  entity=crash index=by_tag stable=(by_grp)
  "$shardctl" -c "$config" init >/dev/null
fi

args=(--shardctl "$shardctl" --writer "$writer" --config "$config" --entity "$entity"
  --index "$index" --work-dir "$work" --iterations "$iterations" --index-cycles "$cycles"
  --writers "$writers")
for s in "${stable[@]}"; do args+=(--stable-index "$s"); done
[[ -n $seed ]] && args+=(--seed "$seed")
echo "crash_loop.sh: work dir $work" >&2
exec "$loop" "${args[@]}"
