#!/bin/bash
# Layer tarballs in and out, against the Go CLI: the same tarballs (plain,
# gzip, zstd; whiteouts, hard links, symlinks, devices, long names, xattrs)
# imported by both on vfs and overlay give the same records, and `diff` of
# an unchanged layer gives back the tarball byte for byte, whichever side
# applied it and whichever side reads it (tar-split written by one, read by
# the other).
. "$(dirname "$0")/../lib.sh"

make_tars() { # make_tars DIR: writes DIR/*.tar(.gz|.zst)
	local d=$1
	mkdir -p "$d/a/etc" "$d/a/usr/bin" "$d/a/deep/$(printf 'n%.0s' {1..120})/x" "$d/b/etc"
	echo hello >"$d/a/etc/hello"
	echo gone >"$d/a/etc/gone"
	head -c 300000 /dev/urandom >"$d/a/usr/bin/blob"
	ln "$d/a/usr/bin/blob" "$d/a/usr/bin/hardlink"
	ln -s ../etc/hello "$d/a/usr/bin/symlink"
	mkfifo "$d/a/fifo"
	mknod "$d/a/null" c 1 3
	echo deep >"$d/a/deep/$(printf 'n%.0s' {1..120})/x/file"
	setfattr -n user.test -v value "$d/a/etc/hello" 2>/dev/null || true
	touch -d '2020-01-02 03:04:05.123456789' "$d/a/etc/hello"
	tar --xattrs -C "$d/a" -cf "$d/base.tar" .
	gzip -k -9 "$d/base.tar"
	zstd -q -k "$d/base.tar" -o "$d/base.tar.zst"
	tar --format=pax -C "$d/a" -cf "$d/pax.tar" .
	# A child: whiteouts (file and opaque dir), new content.
	echo new >"$d/b/etc/new"
	touch "$d/b/etc/.wh.gone"
	mkdir -p "$d/b/usr/bin"
	touch "$d/b/usr/bin/.wh..wh..opq"
	echo only >"$d/b/usr/bin/only"
	tar -C "$d/b" -cf "$d/child.tar" .
}

records() { # records CLI ARGS: layers --json without ids, dates, parents
	"$@" layers --json | python3 -c '
import json, sys
for l in json.load(sys.stdin):
    print(json.dumps({k: v for k, v in sorted(l.items()) if k not in ("id", "created", "parent", "names")}))'
}

both_drivers() {
	local drv=$1
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	command -v zstd >/dev/null || skip "zstd is not installed"
	[ "$drv" = overlay ] && ! grep -qw overlay /proc/filesystems && skip "no overlay filesystem"
	local s; s=$(t_store)
	make_tars "$s"
	local C="$CSTOR -g $s/g -R $s/r -s $drv" G="$GO_CS -g $s/g -R $s/r -s $drv"
	for t in base.tar base.tar.gz base.tar.zst pax.tar; do
		local cid gid
		cid=$($C import-layer -f "$s/$t" | head -1)
		gid=$($G import-layer -f "$s/$t" | head -1)
		local want; want=$(sha256sum <"$s/${t%%.tar*}.tar" | cut -d' ' -f1)
		[ "$t" = pax.tar ] && want=$(sha256sum <"$s/pax.tar" | cut -d' ' -f1)
		for id in "$cid" "$gid"; do
			expect_eq "$($C diff -u "$id" | sha256sum | cut -d' ' -f1)" "$want" "cstor diff of $t ($id)"
			expect_eq "$($G diff -u "$id" | sha256sum | cut -d' ' -f1)" "$want" "Go diff of $t ($id)"
		done
		# The default output compression is the input's.
		case $t in *.gz) $C diff "$cid" | gzip -t || die "diff of a gzip layer is not gzip";; esac
		# Same files on disk (content, modes, owners).
		local cm gm
		cm=$($C mount "$cid"); gm=$($G mount "$gid")
		(cd "$cm" && find . -printf '%p %y %m %U %G %s %l\n' | sort) >"$s/c.tree"
		(cd "$gm" && find . -printf '%p %y %m %U %G %s %l\n' | sort) >"$s/g.tree"
		diff "$s/g.tree" "$s/c.tree" >&2 || die "trees of $t differ (< Go, > cstor)"
		$C unmount "$cid" >/dev/null; $G unmount "$gid" >/dev/null
	done
	# Records: digests, sizes, compression, owners, as Go records them.
	records $C >"$s/c.rec"
	# Each record appears twice (cstor's and Go's import); all pairs equal.
	expect_eq "$(sort "$s/c.rec" | uniq -c | awk '{print $1}' | sort -u)" 2 "records differ: $(sort "$s/c.rec" | uniq -c)"
	# A child with whiteouts, applied by each, diffed by both.
	local cp gp cc gc
	cp=$($C import-layer -f "$s/base.tar" | head -1)
	cc=$($C import-layer -f "$s/child.tar" "$cp" | head -1)
	gp=$($G import-layer -f "$s/base.tar" | head -1)
	gc=$($G import-layer -f "$s/child.tar" "$gp" | head -1)
	local want; want=$(sha256sum <"$s/child.tar" | cut -d' ' -f1)
	for id in "$cc" "$gc"; do
		expect_eq "$($C diff -u "$id" | sha256sum | cut -d' ' -f1)" "$want" "cstor diff of the child"
		expect_eq "$($G diff -u "$id" | sha256sum | cut -d' ' -f1)" "$want" "Go diff of the child"
		expect_eq "$($C changes "$id" | sort)" "$($G changes "$id" | sort)" "changes of the child"
		expect_eq "$($C diffsize "$id")" "$($G diffsize "$id")" "diffsize of the child"
	done
	local cm gm
	cm=$($C mount "$cc"); gm=$($G mount "$gc")
	[ ! -e "$cm/etc/gone" ] || die "whiteout not applied (cstor)"
	expect_eq "$(ls "$cm/usr/bin")" only "opaque directory (cstor)"
	expect_eq "$(ls "$gm/usr/bin")" only "opaque directory (Go)"
	$C unmount "$cc" >/dev/null; $G unmount "$gc" >/dev/null
}

test_vfs() { both_drivers vfs; }
test_overlay() { both_drivers overlay; }

t_begin
t_run test_vfs
t_run test_overlay
t_end
