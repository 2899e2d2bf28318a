#!/bin/sh
# meson install step: copy the built man pages (their names come from the
# command table, so meson cannot list them). Usage: install-man.sh OUTDIR MANDIR
set -eu
out=$1 mandir=${DESTDIR:-}$2
for f in "$out"/*.[0-9]; do
	sec=${f##*.}
	install -D -m 0644 "$f" "$mandir/man$sec/$(basename "$f")"
done
