#!/usr/bin/env bash
# test.sh — every test, from a fresh machine:
#   1. install the Debian packages (scripts/setup.sh)
#   2. build and install with the server tests on (scripts/build.sh)
#   3. start throwaway PostgreSQL and MariaDB on 127.0.0.1 (scripts/servers.sh;
#      stopped again on exit, whatever happens)
#   4. run the whole CTest suite (unit, conformance per backend, shardctl)
#   5. build examples/ against the INSTALLED library and run it on a fresh
#      SQLite cluster (smoke test of find_package(libshard))
#   6. run the benchmark in quick mode, when it is built (smoke test)
# Exits non-zero on the first failure and ends with a short summary.
#
#   scripts/test.sh
set -euo pipefail

cd "$(dirname "$0")/.."   # the repository root
export BUILD_DIR=${BUILD_DIR:-build}
export INSTALL_DIR=${INSTALL_DIR:-$PWD/_install}
export LIBSHARD_RUN_DIR=${LIBSHARD_RUN_DIR:-/tmp/libshard-servers}

summary=()       # one line per finished step
current="start"  # the step running now, for the failure message
step_start=$SECONDS
ctest_log=$BUILD_DIR/ctest.log
rm -f "$ctest_log"

step() {
  current=$*
  step_start=$SECONDS
  printf '\n== %s\n' "$*"
}
done_step() { summary+=("$(printf '%-34s ok  %4d s' "$current" $((SECONDS - step_start)))"); }

finish() {
  local rc=$?
  scripts/servers.sh stop >/dev/null 2>&1 || true
  printf '\n== summary\n'
  printf '%s\n' "${summary[@]}"
  if ((rc != 0)); then
    echo "test.sh: FAILED during: $current (exit $rc)"
  fi
  # "100% tests passed, 0 tests failed out of 57" -> "ctest: 57 passed, 0 failed"
  [[ -f $ctest_log ]] && awk '/tests passed, .* tests failed out of/ {
    printf "ctest: %d passed, %d failed\n", $NF - $4, $4 }' "$ctest_log"
  exit "$rc"
}
trap finish EXIT

step "install packages"
scripts/setup.sh
done_step

step "build and install"
scripts/build.sh -DLIBSHARD_SERVER_TESTS=ON
done_step

step "start test servers"
scripts/servers.sh start
# shellcheck source=/dev/null
source "$LIBSHARD_RUN_DIR/env.sh"
done_step

step "ctest"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 900 --no-tests=error |
  tee "$ctest_log"
done_step

step "example against the installed library"
cmake -S examples -B "$BUILD_DIR/examples" -DCMAKE_PREFIX_PATH="$INSTALL_DIR"
cmake --build "$BUILD_DIR/examples" -j"$(nproc)"
smoke=$BUILD_DIR/example-smoke
rm -rf "$smoke"
mkdir -p "$smoke"
cp schemas/sqlite.yaml "$smoke/libshard.yaml"
# First run creates the cluster (create_if_missing); the second reuses it.
"$BUILD_DIR/examples/user_service" "$smoke/libshard.yaml"
"$BUILD_DIR/examples/user_service" "$smoke/libshard.yaml"
done_step

if [[ -x $BUILD_DIR/bench/shard-bench ]]; then
  step "benchmark smoke (shard-bench --quick)"
  "$BUILD_DIR/bench/shard-bench" --quick
  done_step
else
  summary+=("benchmark smoke                    skipped (no $BUILD_DIR/bench/shard-bench)")
fi
