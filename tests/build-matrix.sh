#!/bin/bash
# Build cstor warning-free (-Dwerror=true) in one configuration of the CI
# matrix, from scratch, in a temporary build directory removed afterwards.
#
#   tests/build-matrix.sh COMPILER BUILDTYPE      e.g. gcc release, clang-14 plain
#   tests/build-matrix.sh --list                  the configurations CI builds
#
# release: what a user gets from `meson setup b --buildtype=release`.
# plain:   what a Debian package build does: meson --buildtype=plain with the
#          flags of dpkg-buildflags (DEB_BUILD_MAINT_OPTIONS=hardening=+all)
#          in CFLAGS, CPPFLAGS and LDFLAGS.
# With clang the thread-safety analysis is fatal (-Werror=thread-safety);
# clang before 19 checks function annotations only (src/libcstor/util/tsa.h).
#
# Every target is built (the library, the command, tests, tools): a
# distribution's `ninja` builds them all too. Exit 77 (skip) when the
# compiler or dpkg-buildflags is missing; the last line says why.
set -eu
cd "$(dirname "$0")/.."

if [ "${1:-}" = --list ]; then
	for cc in gcc clang-14 clang-19; do
		for bt in release plain; do echo "$cc $bt"; done
	done
	exit 0
fi
[ $# -eq 2 ] || { echo "usage: $0 COMPILER release|plain" >&2; exit 2; }
cc=$1 buildtype=$2

command -v "$cc" >/dev/null || { echo "$cc is not installed"; exit 77; }

cflags="" cppflags="" ldflags=""
case $buildtype in
release) ;;
plain)
	command -v dpkg-buildflags >/dev/null || { echo "dpkg-buildflags (dpkg-dev) is not installed"; exit 77; }
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	cflags=$(dpkg-buildflags --get CFLAGS)
	cppflags=$(dpkg-buildflags --get CPPFLAGS)
	ldflags=$(dpkg-buildflags --get LDFLAGS)
	;;
*) echo "unknown build type $buildtype" >&2; exit 2 ;;
esac
case $cc in
clang*) cflags="$cflags -Werror=thread-safety" ;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/cstor-matrix-$cc-$buildtype.XXXXXX")
trap 'rm -rf "$dir"' EXIT

echo "CC=$cc CFLAGS=$cflags CPPFLAGS=$cppflags LDFLAGS=$ldflags"
# The caller's own flags must not leak into the configuration under test.
env -u CFLAGS -u CPPFLAGS -u LDFLAGS -u CC \
	CC="$cc" ${cflags:+CFLAGS="$cflags"} ${cppflags:+CPPFLAGS="$cppflags"} ${ldflags:+LDFLAGS="$ldflags"} \
	meson setup "$dir" --buildtype="$buildtype" -Dwerror=true
start=$SECONDS
ninja -C "$dir"
echo "built $cc $buildtype in $((SECONDS - start))s"
