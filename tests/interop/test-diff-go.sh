#!/bin/bash
# Changes, diff sizes and diff tar streams of layers match containers/storage
# (the Go CLI): the layers are built with the Go CLI (vfs: mount and edit the
# layer directory; overlay: import tars with whiteouts and opaque
# directories, then mount a child and edit the merged view), and
# tests/cstor-changes computes the same from the directories.
. "$(dirname "$0")/../lib.sh"
TOOL=${CSTOR_BUILD:-$(dirname "$CSTOR")/../..}/tests/cstor-changes

# Byte comparison of two tars where naive whiteout members (".wh.<name>",
# no owner names) have their clock-dependent mtime and checksum masked.
cat >"$T_TMP/tarcmp.py" <<'PY'
import sys

def members(data):
    data = bytearray(data)
    off, out = 0, []
    while off + 512 <= len(data):
        blk = bytes(data[off:off + 512])
        if blk == bytes(512):
            off += 512
            continue
        name = blk[0:100].split(b'\0')[0]
        typ = blk[156:157]
        size = int(blk[124:136].split(b'\0')[0].strip() or b'0', 8)
        base = name.rsplit(b'/', 1)[-1]
        if (typ == b'0' and base.startswith(b'.wh.') and not base.startswith(b'.wh..wh.')
                and blk[265:297].strip(b'\0') == b''):
            data[off + 136:off + 156] = b'X' * 20
        out.append((off, name))
        off += 512
        if typ in (b'0', b'\0', b'7', b'x', b'g'):
            off += (size + 511) // 512 * 512
    return bytes(data), out

a, am = members(open(sys.argv[1], 'rb').read())
b, bm = members(open(sys.argv[2], 'rb').read())
if a != b:
    n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    where = [m for m in am if m[0] <= n][-1:] or [(0, b'?')]
    print("tar streams differ at byte %d (lengths %d, %d), member %r at %d"
          % (n, len(a), len(b), where[0][1], where[0][0]))
    sys.exit(1)
PY

need_tools() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	[ -x "$TOOL" ] || skip "$TOOL is not built"
	command -v python3 >/dev/null || skip "python3 is not installed"
	command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
}

# Compare everything Go reports about layer $1 (against $2, default its
# parent) with cstor-changes run on the directories "${@:3}" (mode first).
# $S: scratch dir, gocs: the Go CLI with the store's flags.
compare() {
	local id=$1 from=$2; shift 2
	gocs changes "$id" ${from:+"$from"} | sort >"$S/go.changes"
	"$TOOL" "$@" | sort >"$S/c.changes"
	diff -u "$S/go.changes" "$S/c.changes" || die "changes of $id differ (- Go, + cstor)"
	[ -s "$S/go.changes" ] || die "no changes at all: the test built nothing"
	expect_eq "$("$TOOL" --size "$@")" "$(gocs diffsize "$id" ${from:+"$from"})" "diff size of $id"
	gocs diff -u -f "$S/go.tar" "$id" ${from:+"$from"}
	"$TOOL" --tar "$@" >"$S/c.tar"
	if ! python3 "$T_TMP/tarcmp.py" "$S/go.tar" "$S/c.tar"; then
		tar -tvvf "$S/go.tar" >"$S/go.list"
		tar -tvvf "$S/c.tar" >"$S/c.list"
		diff -u "$S/go.list" "$S/c.list" || true
		die "diff tar of $id differs"
	fi
	# What tar(1) lists (names, types, modes, owners, sizes, link targets,
	# and times except for the naive whiteouts) must agree too.
	diff -u <(tar -tvvf "$S/go.tar" | grep -v '/\.wh\.[^.]\|^-\{10\} 0/0 ') \
		<(tar -tvvf "$S/c.tar" | grep -v '/\.wh\.[^.]\|^-\{10\} 0/0 ') ||
		die "tar listings of $id differ"
}

# ---- vfs (naive diff) ------------------------------------------------------

vfs_base_content() {
	local m=$1
	mkdir -p "$m/d1" "$m/d2/sub/deep" "$m/d3" "$m/dmode" "$m/downer" "$m/emptydir" \
		"$m/replace_dir_with_file/x"
	echo a >"$m/d1/a"; echo b >"$m/d2/sub/b"; echo deep >"$m/d2/sub/deep/f"
	ln -s tgt1 "$m/lnk"; ln -s tgt1 "$m/samelen"
	echo h >"$m/h1"; ln "$m/h1" "$m/h2"
	printf same >"$m/samesize"
	echo keep >"$m/keep"; setfattr -n user.keep -v 1 "$m/keep"
	mkfifo "$m/fifo"; mknod "$m/cdev" c 1 3; mknod "$m/bdev" b 7 200
	echo x >"$m/tochmod"; echo y >"$m/tochown"; echo z >"$m/torm"
	echo f >"$m/replace_file_with_dir"
	echo n >"$m/nanofile"; touch -d @1600000000.5 "$m/nanofile"
	echo c >"$m/capfile"
	local long; long=$(printf 'L%.0s' $(seq 120))
	mkdir -p "$m/$long"; echo l >"$m/$long/inlong"
	chmod 4755 "$m/tochmod"
}

vfs_child_edits() {
	local m=$1 p=$2
	echo c >"$m/d1/c"
	rm -rf "$m/d2"
	touch -d @1700000000 "$m/d3"
	chmod 700 "$m/dmode"
	chown 1000:1000 "$m/downer"
	# Same length, same mtime: Go does not look at symlink targets.
	rm "$m/samelen"; ln -s tgt2 "$m/samelen"; touch -h -r "$p/samelen" "$m/samelen"
	rm "$m/lnk"; ln -s target-two "$m/lnk"
	setfattr -n user.foo -v bar "$m/h1"
	# Same size and mtime: not a change for Go either.
	printf SAME >"$m/samesize"; touch -r "$p/samesize" "$m/samesize"
	setfattr -n user.keep -v 2 "$m/keep"
	chmod 600 "$m/tochmod"; chown 1:1 "$m/tochown"; rm "$m/torm"
	rm -rf "$m/replace_dir_with_file"; echo file >"$m/replace_dir_with_file"
	rm "$m/replace_file_with_dir"; mkdir "$m/replace_file_with_dir"
	echo in >"$m/replace_file_with_dir/in"
	# Same second, one side without nanoseconds: equal for Go.
	touch -d @1600000000 "$m/nanofile"
	rm "$m/fifo"; mkfifo "$m/fifo"
	mknod "$m/newcdev" c 1 5; mknod "$m/newbdev" b 7 201
	echo new >"$m/n1"; ln "$m/n1" "$m/n2"; ln -s n1 "$m/n1link"
	mkdir -p "$m/new/deep/er"; echo x >"$m/new/deep/er/x"
	setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' v)" "$m/new/deep/er/x"
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$m/capfile"
	setfattr -n security.ima -v 0x0401 "$m/new/deep/er/x"
	local long; long=$(printf 'L%.0s' $(seq 120))
	echo more >"$m/$long/$(printf 'M%.0s' $(seq 90))"
	echo u >"$m/café"; echo q >"$m/q\"uo\\te"; echo s >"$m/sp ace"; echo t >"$m/$(printf 'ta\tb')"
	chown 4242:4343 "$m/café"
	dd if=/dev/urandom of="$m/big" bs=1M count=3 status=none
	truncate -s 20M "$m/sparse"
}

test_vfs_child_against_parent() {
	need_tools
	S=$(t_store)
	gocs() { "$GO_CS" -g "$S/g" -R "$S/r" -s vfs "$@"; }
	local p c m pm
	p=$(gocs create-layer | head -1)
	pm=$(gocs mount "$p"); vfs_base_content "$pm"; gocs unmount "$p" >/dev/null
	c=$(gocs create-layer "$p" | head -1)
	m=$(gocs mount "$c"); vfs_child_edits "$m" "$pm"; gocs unmount "$c" >/dev/null
	compare "$c" "" naive "$S/g/vfs/dir/$c" "$S/g/vfs/dir/$p"
	# Compressed: other bytes than Go's compressor writes, same tar inside.
	gocs diff -c -f "$S/go.tar.gz" "$c"
	"$TOOL" --tar -c gzip naive "$S/g/vfs/dir/$c" "$S/g/vfs/dir/$p" >"$S/c.tar.gz"
	gzip -dc "$S/go.tar.gz" >"$S/go.tar"
	gzip -dc "$S/c.tar.gz" >"$S/c.tar"
	python3 "$T_TMP/tarcmp.py" "$S/go.tar" "$S/c.tar" || die "gzip diff of $c differs"
	command -v zstd >/dev/null || return 0
	"$TOOL" --tar -c zstd naive "$S/g/vfs/dir/$c" "$S/g/vfs/dir/$p" | zstd -dc >"$S/c.tar"
	python3 "$T_TMP/tarcmp.py" "$S/go.tar" "$S/c.tar" || die "zstd diff of $c differs"
}

test_vfs_base_layer() {
	need_tools
	S=$(t_store)
	gocs() { "$GO_CS" -g "$S/g" -R "$S/r" -s vfs "$@"; }
	local p m
	p=$(gocs create-layer | head -1)
	m=$(gocs mount "$p"); vfs_base_content "$m"; vfs_child_edits "$m" "$m"
	gocs unmount "$p" >/dev/null
	compare "$p" "" naive "$S/g/vfs/dir/$p"
}

test_vfs_against_grandparent() {
	need_tools
	S=$(t_store)
	gocs() { "$GO_CS" -g "$S/g" -R "$S/r" -s vfs "$@"; }
	local gp p c m
	gp=$(gocs create-layer | head -1)
	m=$(gocs mount "$gp"); vfs_base_content "$m"; gocs unmount "$gp" >/dev/null
	p=$(gocs create-layer "$gp" | head -1)
	m=$(gocs mount "$p"); vfs_child_edits "$m" "$S/g/vfs/dir/$gp"; gocs unmount "$p" >/dev/null
	c=$(gocs create-layer "$p" | head -1)
	m=$(gocs mount "$c")
	rm -rf "$m/new" "$m/d1"; echo again >"$m/d3/again"; mkdir "$m/torm"
	gocs unmount "$c" >/dev/null
	compare "$c" "$gp" naive "$S/g/vfs/dir/$c" "$S/g/vfs/dir/$gp"
}

# ---- overlay (native diff) -------------------------------------------------

# The lower diff directories of an overlay layer, nearest first.
lowers_of() {
	local l
	[ -f "$S/g/overlay/$1/lower" ] || return 0
	for l in $(tr ':' ' ' <"$S/g/overlay/$1/lower"); do
		readlink -f "$S/g/overlay/$l"
	done
}

overlay_store() {
	need_tools
	S=$(t_store)
	gocs() { "$GO_CS" -g "$S/g" -R "$S/r" -s overlay "$@"; }
	gocs status >"$S/status" 2>&1 || skip "overlay driver unusable: $(tail -n 1 "$S/status")"
	grep -q 'Native Overlay Diff: true' "$S/status" ||
		skip "the Go overlay driver does not use native diff here"

	local b="$S/base" mid="$S/mid"
	mkdir -p "$b/etc" "$b/data" "$b/usr/bin" "$b/usr/lib" "$b/opt/app" "$b/var/log" "$b/gone/sub"
	for f in hello.txt a b c; do echo "$f" >"$b/etc/$f"; done
	echo x >"$b/data/x"; echo y >"$b/usr/bin/y"; echo z >"$b/usr/bin/z"
	echo lib >"$b/usr/lib/libfoo"; echo 1 >"$b/opt/app/1"; echo 2 >"$b/opt/app/2"
	echo l >"$b/var/log/l"; echo g >"$b/gone/sub/g"
	# AUFS-style whiteouts and opaque markers, as image layers carry them.
	mkdir -p "$mid/etc" "$mid/usr/bin" "$mid/newdir" "$mid/opt/app" "$mid/var/log"
	: >"$mid/etc/.wh.a"
	: >"$mid/usr/bin/.wh..wh..opq"; echo new >"$mid/usr/bin/new"
	: >"$mid/newdir/.wh..wh..opq"; echo f >"$mid/newdir/f"
	: >"$mid/.wh.gone"; : >"$mid/opt/app/.wh.1"; echo m >"$mid/var/log/m"
	setfattr -n user.mid -v 1 "$mid/var/log/m"
	# Equal directory mtimes: upper directories that equal their lower
	# copy are left out unless a change below needs them.
	find "$b" "$mid" -exec touch -h -d @1600000000 {} +
	tar -C "$b" -cf "$S/base.tar" .
	tar -C "$mid" -cf "$S/mid.tar" .
	BASE=$(gocs import-layer -f "$S/base.tar" | head -1)
	MID=$(gocs import-layer -f "$S/mid.tar" "$BASE" | head -1)
	TOP=$(gocs create-layer "$MID" | head -1)
	local m; m=$(gocs mount "$TOP")
	rm "$m/etc/b" "$m/etc/c"           # two whiteouts, hard-linked by the kernel
	echo mod >>"$m/data/x"              # copy-up: data/ itself unchanged
	rm -rf "$m/usr/lib"; mkdir "$m/usr/lib"; echo n >"$m/usr/lib/n" # opaque
	echo a-again >"$m/etc/a"            # whited out in MID
	mkdir -p "$m/gone/sub"; echo g2 >"$m/gone/sub/g2" # below a MID whiteout
	touch "$m/opt/app/2"
	ln -s /etc/passwd "$m/newlink"; mkfifo "$m/newfifo"
	chmod 700 "$m/var"
	mkdir -p "$m/new/a/b"; echo deep >"$m/new/a/b/c"; ln "$m/new/a/b/c" "$m/new/hl"
	setfattr -n user.top -v 2 "$m/new/a/b/c"
	echo capped >"$m/capped"
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$m/capped"
	gocs unmount "$TOP" >/dev/null
}

test_overlay_native_top() {
	overlay_store
	# shellcheck disable=SC2046
	compare "$TOP" "" overlay "$S/g/overlay/$TOP/diff" $(lowers_of "$TOP")
}

test_overlay_native_imported() {
	t_unchecked "tar-splits removed on purpose"
	overlay_store
	# Without its tar-split, Go computes the diff from diff/ as well.
	rm -f "$S/g/overlay-layers/$MID.tar-split.gz"
	# shellcheck disable=SC2046
	compare "$MID" "" overlay "$S/g/overlay/$MID/diff" $(lowers_of "$MID")
	rm -f "$S/g/overlay-layers/$BASE.tar-split.gz"
	compare "$BASE" "" overlay "$S/g/overlay/$BASE/diff"
	# Opaque directories whose lower copy is whited out (gone/), exists
	# (usr/bin/, var/log/), or is missing (fresh/): markers only for the
	# second kind.
	local o="$S/opq"
	mkdir -p "$o/gone" "$o/usr/bin" "$o/var/log" "$o/etc" "$o/fresh"
	: >"$o/gone/.wh..wh..opq"; echo x >"$o/gone/x"
	: >"$o/usr/bin/.wh..wh..opq"; echo b >"$o/usr/bin/b"
	: >"$o/var/log/.wh..wh..opq"; : >"$o/fresh/.wh..wh..opq"
	: >"$o/etc/.wh.hello.txt"
	find "$o" -exec touch -h -d @1600000000 {} +
	tar -C "$o" -cf "$S/opq.tar" .
	local opq; opq=$(gocs import-layer -f "$S/opq.tar" "$MID" | head -1)
	rm -f "$S/g/overlay-layers/$opq.tar-split.gz"
	# shellcheck disable=SC2046
	compare "$opq" "" overlay "$S/g/overlay/$opq/diff" $(lowers_of "$opq")
}

test_overlay_naive_against_non_parent() {
	overlay_store
	# Go mounts both layers and compares the trees; give cstor the same
	# mounted trees (unmounted again by the trap on failure).
	local mt mb
	mt=$(gocs mount "$TOP"); mb=$(gocs mount "$BASE")
	compare "$TOP" "$BASE" naive "$mt" "$mb"
	gocs unmount "$TOP" >/dev/null; gocs unmount "$BASE" >/dev/null
}

t_begin
t_run test_vfs_child_against_parent
t_run test_vfs_base_layer
t_run test_vfs_against_grandparent
t_run test_overlay_native_top
t_run test_overlay_native_imported
t_run test_overlay_naive_against_non_parent
t_end
