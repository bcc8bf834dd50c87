#!/usr/bin/env bash
# build.sh — configure, build and install libshard (library, shardctl,
# shard-bench, tests) with CMake.
#
#   scripts/build.sh [extra cmake -D options…]
#
# BUILD_DIR   build tree      (default: build)
# INSTALL_DIR install prefix  (default: $PWD/_install)
# Extra arguments go to the configure step, e.g. -DLIBSHARD_SERVER_TESTS=ON.
set -euo pipefail

cd "$(dirname "$0")/.."   # the repository root
BUILD_DIR=${BUILD_DIR:-build}
INSTALL_DIR=${INSTALL_DIR:-$PWD/_install}

# ccache, when installed (scripts/setup.sh installs it), makes rebuilds of
# unchanged sources near-instant.
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX="$INSTALL_DIR" "${LAUNCHER[@]}" "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"
cmake --install "$BUILD_DIR"
