#!/bin/sh
# SPDX-License-Identifier: MIT
# build.sh [DIR [cmake options...]] - configure and build mailroom into DIR
# (default: build/). Installs missing build dependencies first.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
[ $# -gt 0 ] && shift
scripts/deps.sh build
cmake -S . -B "$dir" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null || cmake --build "$dir" -j1
