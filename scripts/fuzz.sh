#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets in fuzz/ with clang and run each one
# for a fixed time against a copy of its seed corpus.
#
#   scripts/fuzz.sh [TARGET…]        (default: every target)
#
# FUZZ_SECONDS  run time per target          (default: 60)
# FUZZ_JOBS     targets run at the same time (default: 2)
# FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (default: 10)
# FUZZ_RSS_MB   memory limit per target, MB  (default: 2048)
# BUILD_DIR     the main build tree; fuzz targets go to "$BUILD_DIR-fuzz" (default: build)
# CXX_FUZZ      the clang++ to use           (default: clang++-14, else clang++)
#
# Exits 0 when no target crashed, leaked, hung or ran out of memory;
# otherwise 1, naming each failing target, its log and the saved input.
# The committed corpus (fuzz/corpus/) is never written: new inputs go to a
# scratch copy under "$BUILD_DIR-fuzz/run/". Needs the packages of
# scripts/setup.sh (clang-14, libclang-rt-14-dev, llvm-14).
set -euo pipefail

cd "$(dirname "$0")/.."   # the repository root
ALL_TARGETS=(config json_document msgpack_document query_where query_cursor)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_DIR="${BUILD_DIR:-build}-fuzz"
if [[ -z ${CXX_FUZZ:-} ]]; then
  CXX_FUZZ=$(command -v clang++-14 || command -v clang++ || true)
fi
if [[ -z $CXX_FUZZ ]]; then
  echo "fuzz.sh: error: clang++ not found (run scripts/setup.sh)" >&2
  exit 1
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")
for name in "${targets[@]}"; do
  if [[ ! -d fuzz/corpus/$name ]]; then
    echo "fuzz.sh: error: unknown target '$name' (known: ${ALL_TARGETS[*]})" >&2
    exit 1
  fi
done

# --- build ---------------------------------------------------------------
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_FUZZ" "${launcher[@]}" -DLIBSHARD_FUZZ=ON \
  -DLIBSHARD_BUILD_TESTS=OFF -DLIBSHARD_BUILD_TOOLS=OFF -DLIBSHARD_BUILD_BENCH=OFF >/dev/null
cmake --build "$FUZZ_DIR" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

# Symbolized stack traces when llvm-symbolizer is installed (package llvm-14).
for s in /usr/lib/llvm-14/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [[ -n $s && -x $s ]]; then export ASAN_SYMBOLIZER_PATH=$s; break; fi
done
# Leaks count as failures (libFuzzer's -detect_leaks=1 is the default and
# needs LSan, part of ASan); UBSan reports abort (-fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# --- run -----------------------------------------------------------------
RUN_DIR="$FUZZ_DIR/run"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"

# Runs one target; its exit status is libFuzzer's (0: nothing found).
run_one() {
  local name=$1 dir="$RUN_DIR/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "fuzz/corpus/$name/." "$dir/corpus/"
  # -max_total_time bounds the run; -timeout flags one slow input as a hang;
  # -rss_limit_mb / -malloc_limit_mb flag runaway memory as a crash. The
  # outer timeout is a backstop should the target itself never exit (a
  # leak check of a huge heap can take minutes): CI must not hang.
  timeout --kill-after=30 $((FUZZ_SECONDS + 4 * FUZZ_TIMEOUT + 120)) \
    "$FUZZ_DIR/fuzz/fuzz_$name" "$dir/corpus" \
    -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
    -rss_limit_mb="$FUZZ_RSS_MB" -malloc_limit_mb="$FUZZ_RSS_MB" \
    -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
    >"$dir/log" 2>&1
}

declare -A pids=()
failed=()
# Waits for one running target and records whether it failed (wait -n -p:
# bash 5.1+, Debian 12 has 5.2).
reap_one() {
  local pid="" rc=0 name
  wait -n -p pid "${!pids[@]}" || rc=$?
  name=${pids[$pid]}
  unset "pids[$pid]"
  if [[ $rc -eq 0 ]]; then
    echo "fuzz.sh: $name: ok ($(grep -m1 -o 'number_of_executed_units: *[0-9]*' \
      "$RUN_DIR/$name/log" | grep -o '[0-9]*$' || echo '?') inputs)" >&2
  else
    failed+=("$name")
    echo "fuzz.sh: $name: FAILED (exit status $rc)" >&2
  fi
}

echo "fuzz.sh: ${#targets[@]} target(s), ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time" >&2
for name in "${targets[@]}"; do
  while [[ ${#pids[@]} -ge $FUZZ_JOBS ]]; do reap_one; done
  run_one "$name" &
  pids[$!]=$name
done
while [[ ${#pids[@]} -gt 0 ]]; do reap_one; done

if [[ ${#failed[@]} -gt 0 ]]; then
  for name in "${failed[@]}"; do
    dir="$RUN_DIR/$name"
    echo "---- $name: $dir/log (last lines)" >&2
    tail -n 30 "$dir/log" >&2
    for f in "$dir"/artifacts/*; do
      [[ -e $f ]] && echo "fuzz.sh: $name: input saved as $f (replay: $FUZZ_DIR/fuzz/fuzz_$name $f)" >&2
    done
  done
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) passed" >&2
