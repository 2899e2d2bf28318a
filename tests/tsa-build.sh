#!/bin/bash
# Build everything with clang and -Wthread-safety as an error (the lock
# annotations of util/tsa.h are checked here). Skips without clang-19.
set -eu
cd "$(dirname "$0")/.."
CLANG=${CLANG:-clang-19}
command -v "$CLANG" >/dev/null || { echo "$CLANG is not installed"; exit 77; }
dir=build-clang-tsa
[ -f "$dir/build.ninja" ] || CC=$CLANG meson setup "$dir" -Dc_args=-Werror=thread-safety
ninja -C "$dir"
