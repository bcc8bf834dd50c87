#!/usr/bin/env bash
# setup.sh — install every Debian package libshard needs to build, test,
# benchmark and run its demo. Everything comes from Debian's own packages;
# nothing is downloaded from anywhere else.
#
#   scripts/setup.sh          (as root, or as a user with sudo)
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake make pkg-config ca-certificates
  ccache  # compiler cache: local rebuilds of unchanged sources are near-instant
  # fuzzing (scripts/fuzz.sh): clang, libFuzzer + sanitizer runtimes, llvm-symbolizer
  clang-14 libclang-rt-14-dev llvm-14
  # libraries the library and its tests use
  libsoci-dev libxxhash-dev libmsgpack-cxx-dev libboost-dev libyaml-cpp-dev
  doctest-dev nlohmann-json3-dev libcli11-dev
  # backends: SQLite (embedded), PostgreSQL 15, MariaDB 10.11 (client + server)
  libsqlite3-dev sqlite3
  libpq-dev postgresql
  default-libmysqlclient-dev mariadb-server mariadb-client
  # the shared cache tier: Redis 7 (server and redis-cli) and its C client, hiredis
  redis-server libhiredis-dev
  # benchmark plots
  gnuplot-nox
)

# Run as root directly; otherwise through sudo when there is one.
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup.sh: error: must run as root (or have sudo) to install packages" >&2
  exit 1
fi

echo "setup.sh: installing ${#PACKAGES[@]} Debian packages" >&2
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "setup.sh: done" >&2
