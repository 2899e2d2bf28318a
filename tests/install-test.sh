#!/bin/bash
# meson install into a staging root, then build examples/*.c against the
# installed headers and library with pkg-config, and run them.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
stage=$(mktemp -d /tmp/cstor-install.XXXXXX)
trap 'rm -rf "$stage"' EXIT
meson install -C "$B" --destdir "$stage" --no-rebuild >/dev/null
prefix=$(meson introspect "$B" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$B" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
root="$stage$prefix"
pc="$root/$libdir/pkgconfig"
test -f "$pc/libcstor.pc"
test -x "$root/bin/cstor"
test -f "$root/include/cstor/cstor.h"
# Shell completions, and the man pages when the build had scdoc.
test -f "$root/share/bash-completion/completions/cstor"
test -f "$root/share/zsh/site-functions/_cstor"
test -f "$root/share/fish/vendor_completions.d/cstor.fish"
if [ -d "$B/docs/man/pages" ]; then
	test -f "$root/share/man/man1/cstor.1"
	test -f "$root/share/man/man1/cstor-import.1"
	test -f "$root/share/man/man5/cstor-storage.conf.5"
fi
for ex in examples/*.c; do
	exe="$stage/$(basename "$ex" .c)"
	cc -Wall -Wextra -Werror -o "$exe" "$ex" \
		$(PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$stage" pkg-config --cflags --libs libcstor)
	LD_LIBRARY_PATH="$root/$libdir" "$exe" "$stage/store"
done
