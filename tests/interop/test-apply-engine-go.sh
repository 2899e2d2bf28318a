#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The extraction engine (archive/apply.c) produces the same trees as
# containers/storage: a base layer and a child layer with whiteouts and an
# opaque directory are imported with the Go CLI (vfs and overlay) and
# applied with tests/cstor-apply the way each driver does it (vfs: a copy of
# the parent, whiteouts executed; overlay: an empty diff directory,
# whiteouts converted), then compared: types, modes, owners, sizes, link
# counts, symlink targets, device numbers, contents, mtimes (nanoseconds)
# and atimes of files, xattrs, and the layer's uidset/gidset and tar-split.
. "$(dirname "$0")/../lib.sh"

build=${CSTOR_BUILD:-$(cd "$(dirname "$CSTOR")/../.." 2>/dev/null && pwd)}
TOOL=${CSTOR_APPLY:-$build/tests/cstor-apply}

need() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	[ -x "$TOOL" ] || skip "$TOOL not built"
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v getfattr >/dev/null || skip "getfattr (attr) is not installed"
}

make_tars() {
	python3 - "$1" <<'PY'
import io, random, sys, tarfile
out = sys.argv[1]
rnd = random.Random(7)

def tar(path, entries):
    t = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
    for e in entries:
        name, kind = e[0], e[1]
        o = e[2] if len(e) > 2 else {}
        ti = tarfile.TarInfo(name)
        ti.type = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE,
                   "h": tarfile.LNKTYPE, "c": tarfile.CHRTYPE, "b": tarfile.BLKTYPE,
                   "p": tarfile.FIFOTYPE}[kind]
        ti.mode = o.get("mode", 0o755 if kind == "d" else 0o644)
        ti.uid, ti.gid = o.get("uid", 0), o.get("gid", 0)
        ti.uname, ti.gname = o.get("uname", ""), o.get("gname", "")
        ti.mtime = o.get("mtime", 1600000000)
        ti.linkname = o.get("link", "")
        ti.devmajor, ti.devminor = o.get("dev", (0, 0))
        pax = dict(o.get("pax", {}))
        for k, v in o.get("xattrs", {}).items():
            pax["SCHILY.xattr." + k] = v
        ti.pax_headers = pax
        data = o.get("data", b"")
        if isinstance(data, str):
            data = data.encode()
        if kind == "f":
            ti.size = len(data)
        t.addfile(ti, io.BytesIO(data) if kind == "f" else None)
    t.close()

cap = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
tar(out + "/base.tar", [
    ("./", "d", {"mode": 0o755, "mtime": 1500000000}),
    ("bin/", "d"),
    ("bin/prog", "f", {"mode": 0o4755, "data": "#!/bin/sh\n", "pax": {"mtime": "1600000000.123456789"}}),
    ("bin/sgid", "f", {"mode": 0o2755, "gid": 50, "data": "x"}),
    ("bin/ping", "f", {"mode": 0o755, "data": "ping", "xattrs": {"security.capability": cap.decode("latin1")}}),
    ("etc/", "d", {"mtime": 1500000001}),
    ("etc/passwd", "f", {"data": "root:x:0:0::/root:/bin/sh\n"}),
    ("etc/shadow", "f", {"mode": 0o640, "gid": 42, "data": "root:*:1::::::\n"}),
    ("etc/empty", "f", {"mode": 0}),
    ("etc/user xattr", "f", {"data": "x", "xattrs": {"user.foo": "bar", "trusted.t": "v",
                                                      "security.selinux": "ignored"}}),
    ("etc/ünï cödé", "f", {"data": "utf8"}),
    ("tmp/", "d", {"mode": 0o1777}),
    ("usr/", "d", {"xattrs": {"trusted.dirattr": "d"}}),
    ("usr/lib/", "d", {"mtime": 1400000000, "pax": {"atime": "1450000000.5"}}),
    ("usr/lib/libx.so.1", "f", {"data": bytes(rnd.getrandbits(8) for _ in range(300000))}),
    ("usr/lib/libx.so", "l", {"link": "libx.so.1", "xattrs": {"trusted.sym": "s"}}),
    ("usr/lib/hard", "h", {"link": "usr/lib/libx.so.1", "mode": 0o700, "uid": 7, "mtime": 1300000000}),
    ("usr/lib/old", "f", {"data": "old"}),
    ("usr/lib/olddir/", "d"),
    ("usr/lib/olddir/f", "f"),
    ("dev/", "d"),
    ("dev/null", "c", {"mode": 0o666, "dev": (1, 3)}),
    ("dev/sda", "b", {"mode": 0o660, "gid": 6, "dev": (8, 0)}),
    ("run/", "d"),
    ("run/fifo", "p", {"mode": 0o600}),
    ("home/u/", "d", {"mode": 0o700, "uid": 100000, "gid": 100000}),
    ("home/u/f", "f", {"uid": 100000, "gid": 100000, "data": "u",
                       "pax": {"mtime": "1700000000.999999999", "atime": "1700000001.25"}}),
    ("old", "f", {"mtime": -5, "data": "old"}),
    ("abs", "l", {"link": "/etc/passwd", "mtime": 1234567890}),
    ("implicit/parent/file", "f"),
])
tar(out + "/child.tar", [
    ("bin/", "d"),
    ("bin/prog", "f", {"mode": 0o4711, "data": "#!/bin/sh\necho new\n"}),
    ("etc/", "d", {"mtime": 1500000002}),
    ("etc/.wh.shadow", "f", {"uid": 3, "gid": 4}),
    ("usr/", "d"),
    ("usr/lib/", "d", {"mtime": 1400000001}),
    ("usr/lib/.wh..wh..opq", "f"),
    ("usr/lib/new", "f", {"data": "new"}),
    ("dev/", "d"),
    ("dev/.wh.sda", "f"),
    ("run", "l", {"link": "/var/run"}),
    ("tmp/", "d", {"mode": 0o1777, "mtime": 1500000003}),
    ("tmp/sub/", "d", {"uid": 5}),
    ("old", "d", {"mode": 0o750}),
])
PY
}

# A tree as text, stat()ed before anything is read. Directory times the
# archive did not set are "now" on both sides and are left out; so are
# directory and symlink atimes, which every reader of the tree moves.
describe() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
now = 1750000000 * 10**9
rows = []
for dirpath, dirs, files in os.walk(root):
    for n in sorted(dirs + files):
        p = os.path.join(dirpath, n)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        kind = stat.S_IFMT(st.st_mode)
        mt = st.st_mtime_ns
        at = st.st_atime_ns
        if stat.S_ISDIR(kind) and mt > now:
            mt = "now"
        if stat.S_ISDIR(kind) or stat.S_ISLNK(kind):
            at = "-"
        elif at > now:
            at = "now"  # read since (the vfs child copies its parent)
        if stat.S_ISCHR(kind) and st.st_rdev == 0 and st.st_mode & 0o7777 == 0:
            mt = at = "whiteout"  # made at apply time
        link = os.readlink(p) if stat.S_ISLNK(kind) else ""
        dev = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)) \
            if stat.S_ISCHR(kind) or stat.S_ISBLK(kind) else ""
        xa = sorted((k, os.getxattr(p, k, follow_symlinks=False).hex())
                    for k in os.listxattr(p, follow_symlinks=False))
        rows.append([rel, oct(st.st_mode), "%d:%d" % (st.st_uid, st.st_gid),
                     st.st_nlink, st.st_size if stat.S_ISREG(kind) else "",
                     link, dev, mt, at, xa, p if stat.S_ISREG(kind) else None])
for r in rows:
    if r[-1]:
        with open(r[-1], "rb") as f:
            r[-1] = hashlib.md5(f.read()).hexdigest()
    print(*r, sep="|")
PY
}

go_layer_dir() { # driver store id
	case $1 in
	vfs) echo "$2/g/vfs/dir/$3" ;;
	overlay) echo "$2/g/overlay/$3/diff" ;;
	esac
}

compare_driver() {
	local drv=$1 s; s=$(t_store)
	make_tars "$s"
	local G="-g $s/g -R $s/r -s $drv"
	local base child
	base=$($GO_CS $G import-layer -f "$s/base.tar" | head -1) || die "Go import base"
	local gbase gchild
	gbase=$(go_layer_dir "$drv" "$s" "$base")
	# Before vfs copies the base for the child, which reads (and so moves
	# the atimes of) every file.
	describe "$gbase" >"$s/go.base.txt"
	child=$($GO_CS $G import-layer -f "$s/child.tar" "$base" | head -1) || die "Go import child"
	gchild=$(go_layer_dir "$drv" "$s" "$child")

	mkdir -p "$s/c/base" "$s/c/child"
	local flags="-m execute"
	if [ "$drv" = overlay ]; then
		flags="-m overlay -r"
		chmod 0555 "$s/c/base" "$s/c/child"
	fi
	# shellcheck disable=SC2086 # $flags is a list of options
	"$TOOL" $flags -s -t "$s/base.ts" "$s/c/base" "$s/base.tar" >"$s/base.stats" ||
		die "cstor apply base"
	describe "$s/c/base" >"$s/c.base.txt"
	if [ "$drv" = vfs ]; then
		# The vfs driver's copy of the parent (Go's DirCopy keeps
		# security.capability, user.* and trusted.overlay.opaque).
		rmdir "$s/c/child"
		cp -a --no-preserve=xattr "$s/c/base" "$s/c/child"
		(cd "$s/c/base" && getfattr -h -d -m '^(user\.|security\.capability|trusted\.overlay\.opaque)' \
			-e hex -R . 2>/dev/null) | (cd "$s/c/child" && setfattr -h --restore=-)
	fi
	# shellcheck disable=SC2086
	"$TOOL" $flags -s -t "$s/child.ts" "$s/c/child" "$s/child.tar" >"$s/child.stats" ||
		die "cstor apply child"
	describe "$gchild" >"$s/go.child.txt"
	describe "$s/c/child" >"$s/c.child.txt"

	local l
	for l in base child; do
		local gd cd id
		if [ $l = base ]; then gd=$gbase; id=$base; else gd=$gchild; id=$child; fi
		cd=$s/c/$l
		if ! diff "$s/go.$l.txt" "$s/c.$l.txt" >"$s/diff.$l"; then
			cat "$s/diff.$l" >&2
			die "$drv $l layer differs from Go's"
		fi
		# The root: vfs takes the "./" member's mode and owner, overlay
		# leaves the directory alone.
		expect_eq "$(stat -c '%a %u:%g' "$cd")" "$(stat -c '%a %u:%g' "$gd")" "$drv $l root"
		# uidset/gidset as c/storage records them.
		local want got
		want=$($GO_CS $G layers --json | python3 -c "
import json, sys
for l in json.load(sys.stdin):
    if l['id'] == '$id':
        print('uids', *l.get('uidset', [])); print('gids', *l.get('gidset', []))")
		got=$(grep -E '^(uids|gids)' "$s/$l.stats" | sed 's/ *$//')
		expect_eq "$got" "$want" "$drv $l uidset/gidset"
		cmp <(zcat "$s/g/$drv-layers/$id.tar-split.gz") <(zcat "$s/$l.ts") ||
			die "$drv $l tar-split differs"
	done
}

test_same_tree_as_go_vfs() {
	need
	compare_driver vfs
}

test_same_tree_as_go_overlay() {
	need
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || skip "no overlayfs"
	compare_driver overlay
}

t_begin
t_run test_same_tree_as_go_vfs
t_run test_same_tree_as_go_overlay
t_end
