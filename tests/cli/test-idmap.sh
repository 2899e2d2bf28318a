#!/bin/bash
# ID mappings (docs/idmap.md): --uidmap, --gidmap, --hostuidmap,
# --hostgidmap, --subuidmap, --subgidmap on create-layer, import-layer and
# create-container. Records and host-side owners compared with the Go CLI
# (containers-storage 1.43) where it is installed; mapped layers on vfs and
# overlay, through idmapped mounts (overlay, where the kernel allows) and
# through the chown copy (vfs, and overlay with CSTOR_IDMAP_FORCE_CHOWN=1);
# mapped copies of an image's top layer; layer-parent-owners and
# container-parent-owners; bad maps refused with what was wrong.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
L3=3333333333333333333333333333333333333333333333333333333333333333

need_go() { have_go_cs || skip "containers-storage (Go CLI) is not installed"; }

# A layer tarball with owners, a hard link, a setuid file, a file
# capability and a symlink: $T_TMP/layer.tar.
make_tar() {
	python3 - "$T_TMP/layer.tar" <<'PY'
import io, struct, sys, tarfile
cap = struct.pack('<IIIII', 0x02000001, 0x2000, 0, 0, 0)  # cap_net_raw, effective
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
def add(name, typ=tarfile.REGTYPE, uid=0, gid=0, mode=0o644, data=b'', link='', pax=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.uid, ti.gid, ti.mode, ti.linkname, ti.mtime = typ, uid, gid, mode, link, 1000000000
    if pax:
        ti.pax_headers = pax
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
add('d', tarfile.DIRTYPE, 0, 0, 0o755)
add('d/f', uid=5, gid=6, data=b'hi\n')
add('d/hl', tarfile.LNKTYPE, 5, 6, link='d/f')
add('d/suid', uid=7, gid=8, mode=0o4755, data=b'x')
add('d/cap', mode=0o755, data=b'y',
    pax={'SCHILY.xattr.security.capability': cap.decode('utf-8', 'surrogateescape')})
add('d/ln', tarfile.SYMTYPE, 9, 10, link='f')
t.close()
PY
}

# owners DIR: "uid:gid mode name" of every entry below DIR, sorted.
owners() {
	(cd "$1" && find . -mindepth 1 -printf '%U:%G %m %p\n' | sort)
}

# Records without what differs between two stores or runs (IDs, times).
strip_recs() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for r in d:
    for k in ("id", "created", "parent", "layer", "image", "mapped-layers", "names", "flags"):
        r.pop(k, None)
print(json.dumps(sorted(d, key=json.dumps), sort_keys=True))' "$1"
}

# The same steps on a store of cstor's ($1: CLI, $2..: global flags).
# Prints the owners seen from the host at each step.
steps() {
	local cli=$1; shift
	local m
	"$cli" "$@" import-layer -i $L1 -n base --uidmap 0:100000:65536 --gidmap 0:200000:65536 \
		-f "$T_TMP/layer.tar" >/dev/null
	"$cli" "$@" create-layer -i $L2 -n child $L1 >/dev/null
	"$cli" "$@" create-layer -i $L3 --uidmap 0:400000:65536 --gidmap 0:400000:65536 $L1 >/dev/null
	"$cli" "$@" create-image -n img $L1 >/dev/null
	# (owners below the root: Go leaves a shifted layer's root directory
	# with the parent's owner, docs/differences.md)
	echo "== layer $L3 mounted"
	m=$("$cli" "$@" mount $L3)
	owners "$m"
	"$cli" "$@" unmount $L3 >/dev/null
	"$cli" "$@" create-container -n c1 --uidmap 0:300000:65536 --gidmap 0:300000:65536 img >/dev/null
	"$cli" "$@" create-container -n c2 img >/dev/null
	echo "== layer $L1 mounted"
	m=$("$cli" "$@" mount $L1)
	owners "$m"
	"$cli" "$@" layer-parent-owners $L1
	"$cli" "$@" unmount $L1 >/dev/null
	for c in c1 c2; do
		echo "== container $c mounted"
		m=$("$cli" "$@" mount $c)
		owners "$m"
		# (container IDs are random)
		"$cli" "$@" container-parent-owners $c | sed "s/^ID: .*/ID: $c/"
		# A file the container writes, with host IDs of its mappings.
		[ $c = c2 ] || { echo new >$m/new && chown 300001:300002 $m/new; }
		"$cli" "$@" unmount $c >/dev/null
	done
	echo "== diff of $L1"
	"$cli" "$@" diff $L1 | tar -tvf - | awk '{print $2, $6}'
	# A computed diff gives the container IDs of the layer's mappings.
	echo "== diff of c1's layer"
	local layer
	layer=$("$cli" "$@" container --json c1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["layer"])')
	"$cli" "$@" diff $layer | tar -tvf - | awk '{print $2, $6}' | sort
}

# Go and cstor on vfs: the same records (uidmap, gidmap, uidset, gidset,
# mapped top layers) and the same owners seen from the host.
test_vfs_same_as_go() {
	need_go
	make_tar
	local A B
	A=$(t_store)
	B=$(t_store)
	steps "$CSTOR" -g $A/g -R $A/r -s vfs >$A/out
	steps "$GO_CS" --graph $B/g --run $B/r --storage-driver vfs >$B/out
	expect_eq "$(cat $A/out)" "$(cat $B/out)" "owners, parent owners and diffs (cstor vs Go)"
	expect_eq "$(strip_recs $A/g/vfs-layers/layers.json)" "$(strip_recs $B/g/vfs-layers/layers.json)" \
		"layer records"
	expect_eq "$(strip_recs $A/g/vfs-containers/containers.json)" \
		"$(strip_recs $B/g/vfs-containers/containers.json)" "container records"
	# Two mapped copies of the top layer (for c1's maps, and unmapped for
	# c2), as Go makes them.
	local n
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[0]["mapped-layers"]))' \
		$A/g/vfs-images/images.json)
	expect_eq "$n" 2 "mapped top layers"
	grep -q '300005:300006 644 ./d/f' $A/out || die "c1's files not owned by its mapped IDs"
	grep -q '100005:200006 644 ./d/f' $A/out || die "the layer's files not owned by its mapped IDs"
	grep -q '^5/6 d/f$' $A/out || die "the diff does not give the container IDs back"
	grep -q '^1/2 new$' $A/out || die "a computed diff does not give the container IDs"
	grep -q '400005:400006 644 ./d/f' $A/out || die "a child with other maps is not shifted"
	# cstor shifts the root directory too.
	expect_eq "$(stat -c %u:%g "$("$CSTOR" -g $A/g -R $A/r -s vfs mount $L3)")" 400000:400000 \
		"root of a shifted layer"
	"$CSTOR" -g $A/g -R $A/r -s vfs unmount $L3 >/dev/null
	# Each side reads the other's store the same way.
	expect_eq "$(owners "$("$CSTOR" -g $B/g -R $B/r -s vfs mount c1)")" \
		"$(owners "$("$GO_CS" --graph $A/g --run $A/r --storage-driver vfs mount c1)")" \
		"c1 mounted from the other CLI's store"
	"$CSTOR" -g $B/g -R $B/r -s vfs unmount c1 >/dev/null
	"$GO_CS" --graph $A/g --run $A/r --storage-driver vfs unmount c1 >/dev/null
}

# The chown copy keeps hard links (one inode, shifted once), setuid bits
# and file capabilities, which chown itself clears.
check_kept() {
	local m=$1 want=$2
	local f hl
	f=$(stat -c %i "$m/d/f")
	hl=$(stat -c %i "$m/d/hl")
	expect_eq "$hl" "$f" "hard link kept"
	expect_eq "$(stat -c '%u:%g' "$m/d/f")" "$want" "hard-linked file shifted once"
	expect_eq "$(stat -c '%a' "$m/d/suid")" 4755 "setuid kept"
	python3 -c 'import os,sys; os.getxattr(sys.argv[1], "security.capability")' "$m/d/cap" ||
		die "file capability lost"
	expect_eq "$(readlink "$m/d/ln")" f "symlink"
}

test_vfs_chown_copy_keeps() {
	make_tar
	local S m
	S=$(t_store)
	local C="$CSTOR -g $S/g -R $S/r -s vfs"
	$C import-layer -n base --uidmap 0:100000:65536 --gidmap 0:100000:65536 -f "$T_TMP/layer.tar" >/dev/null
	$C create-image -n img base >/dev/null
	$C create-container -n c1 --uidmap 0:300000:65536 --gidmap 0:300000:65536 img >/dev/null
	m=$($C mount c1)
	check_kept "$m" 300005:300006
	$C unmount c1 >/dev/null
	# A child layer with other maps is shifted from its parent's.
	$C create-layer -n other --uidmap 0:400000:65536 --gidmap 0:400000:65536 base >/dev/null
	m=$($C mount other)
	check_kept "$m" 400005:400006
	expect_eq "$(stat -c '%u:%g' "$m/d/ln")" 400009:400010 "symlink owner"
	$C unmount other >/dev/null
	# A host mapping: back to the container IDs.
	$C create-layer -n host --hostuidmap --hostgidmap base >/dev/null
	m=$($C mount host)
	check_kept "$m" 5:6
	$C unmount host >/dev/null
	$C layer --json host | grep -q uidmap && die "host-mapped layer has a uidmap" || true
	# applydiff into an existing mapped layer: host IDs on disk, the
	# container IDs recorded.
	$C create-layer -n empty --uidmap 0:600000:65536 --gidmap 0:600000:65536 >/dev/null
	$C applydiff -f "$T_TMP/layer.tar" empty
	m=$($C mount empty)
	expect_eq "$(stat -c '%u:%g' "$m/d/f")" 600005:600006 "applydiff into a mapped layer"
	$C unmount empty >/dev/null
	$C layer --json empty | grep -q '"uidset":\[0,5,7,9\],"gidset":\[0,6,8,10\]' ||
		die "uidset/gidset: $($C layer --json empty)"
}

# An image of a read-only (additional) image store gets no mapped copy:
# the container's own layer is shifted from the image's (vfs).
test_ro_store_image() {
	t_unchecked "the primary store is checked only with its additional image store"
	make_tar
	local R P m
	R=$(t_store)
	P=$(t_store)
	"$CSTOR" -g $R/g -R $R/r -s vfs import-layer -n base -f "$T_TMP/layer.tar" >/dev/null
	"$CSTOR" -g $R/g -R $R/r -s vfs create-image -n img base >/dev/null
	local C="$CSTOR -g $P/g -R $P/r -s vfs --storage-opt vfs.imagestore=$R/g"
	$C create-container -n c1 --uidmap 0:300000:65536 --gidmap 0:300000:65536 img >/dev/null
	python3 -c 'import json,sys; assert not json.load(open(sys.argv[1]))[0].get("mapped-layers")' \
		$R/g/vfs-images/images.json || die "the read-only store's image was changed"
	expect_eq "$($C layers | grep -c '^[0-9a-f]')" 2 "layers: the image's and the container's"
	m=$($C mount c1)
	expect_eq "$(stat -c %u:%g $m/d/f)" 300005:300006 "container layer shifted"
	expect_eq "$(stat -c %u:%g $R/g/vfs/dir/*/d/f)" 5:6 "read-only store's layer untouched"
	$C unmount c1 >/dev/null
	$C check >/dev/null || die "check with the additional image store"
}

# overlay where idmapped lower layers work: layers unshifted and recorded
# without maps (as Go records them then), the probe cached in the run root
# under Go's name, containers shifted at mount time.
test_overlay_idmapped_mounts() {
	t_need_overlay
	make_tar
	local S m
	S=$(t_store)
	local C="$CSTOR -g $S/g -R $S/r -s overlay"
	$C import-layer -n base --uidmap 0:100000:65536 --gidmap 0:100000:65536 -f "$T_TMP/layer.tar" >/dev/null
	[ -e $S/r/overlay/idmapped-lower-dir-true ] ||
		skip "idmapped lower layers do not work here: $(cat $S/r/overlay/idmapped-lower-dir-false 2>/dev/null)"
	$C layer --json base | grep -q uidmap && die "layer recorded with maps although shifting works"
	local id
	id=$($C layers | head -n 1)
	expect_eq "$(stat -c %u:%g $S/g/overlay/$id/diff/d/f)" 5:6 "layer files unshifted"
	$C create-image -n img base >/dev/null
	$C create-container -n c1 --uidmap 0:300000:65536 --gidmap 0:300000:65536 img >/dev/null
	python3 -c 'import json,sys; assert not json.load(open(sys.argv[1]))[0].get("mapped-layers")' \
		$S/g/overlay-images/images.json || die "a mapped copy was made although shifting works"
	$C container --json c1 | grep -q '"uidmap":\[{"container_id":0,"host_id":300000,"size":65536}\]' ||
		die "container record lacks its uidmap"
	# The probe ran once: this process reads its cached result.
	m=$($C --debug mount c1 2>$S/debug)
	grep -q "idmapped-lower-dir: true, cached" $S/debug || die "probe result not read from the cache"
	expect_eq "$(stat -c %u:%g $m/d/f)" 300005:300006 "container files seen with the mapped IDs"
	expect_eq "$(stat -c %u:%g $m/d/suid)" 300007:300008 "container files seen with the mapped IDs"
	grep " $m " /proc/self/mountinfo | grep -q "lowerdir=[^,]*/mapped/0" ||
		die "not mounted over idmapped lowers: $(grep " $m " /proc/self/mountinfo)"
	# The idmapped helper mounts are gone once overlay holds them.
	grep -q "/mapped/0 " /proc/self/mountinfo && die "idmapped helper mount left attached"
	# A write in the container lands in its upper with the host ID.
	echo new >$m/new
	$C unmount c1 >/dev/null
	$C check >/dev/null || die "check after idmapped mounts"
	if have_go_cs; then
		# Go mounts cstor's container the same way.
		m=$("$GO_CS" --graph $S/g --run $S/r --storage-driver overlay mount c1)
		expect_eq "$(stat -c %u:%g $m/d/f)" 300005:300006 "Go mounts cstor's mapped container"
		"$GO_CS" --graph $S/g --run $S/r --storage-driver overlay unmount c1 >/dev/null
	fi
}

# Without ID mappings nothing asks whether the driver can shift: no probe.
test_no_maps_no_probe() {
	t_need_overlay
	make_tar
	local S
	S=$(t_store)
	local C="$CSTOR -g $S/g -R $S/r -s overlay"
	$C import-layer -n base -f "$T_TMP/layer.tar" >/dev/null
	$C create-layer -n child base >/dev/null
	$C create-image -n img base >/dev/null
	$C create-container -n c1 img >/dev/null
	$C mount c1 >/dev/null
	$C unmount c1 >/dev/null
	[ -z "$(ls $S/r/overlay | grep idmapped)" ] || die "probed without ID mappings: $(ls $S/r/overlay)"
}

# Go on overlay makes the same records when idmapped mounts work.
test_overlay_idmapped_same_as_go() {
	need_go
	t_need_overlay
	make_tar
	local A B
	A=$(t_store)
	B=$(t_store)
	steps "$CSTOR" -g $A/g -R $A/r -s overlay >$A/out
	[ -e $A/r/overlay/idmapped-lower-dir-true ] || skip "idmapped lower layers do not work here"
	steps "$GO_CS" --graph $B/g --run $B/r --storage-driver overlay >$B/out
	expect_eq "$(cat $A/out)" "$(cat $B/out)" "owners, parent owners and diffs (cstor vs Go)"
	expect_eq "$(strip_recs $A/g/overlay-layers/layers.json)" \
		"$(strip_recs $B/g/overlay-layers/layers.json)" "layer records"
	expect_eq "$(strip_recs $A/g/overlay-containers/containers.json)" \
		"$(strip_recs $B/g/overlay-containers/containers.json)" "container records"
	grep -q '300005:300006 644 ./d/f' $A/out || die "c1's files not owned by its mapped IDs"
}

# overlay with the chown copy forced: maps recorded, files shifted on disk,
# a mapped copy of the top layer registered with the image.
test_overlay_chown_copy() {
	t_need_overlay
	make_tar
	local S m
	S=$(t_store)
	local C="$CSTOR -g $S/g -R $S/r -s overlay"
	export CSTOR_IDMAP_FORCE_CHOWN=1
	$C import-layer -n base --uidmap 0:100000:65536 --gidmap 0:200000:65536 -f "$T_TMP/layer.tar" >/dev/null
	$C layer --json base | grep -q '"uidmap":\[{"container_id":0,"host_id":100000,"size":65536}\]' ||
		die "layer record lacks its uidmap"
	[ -e $S/r/overlay/idmapped-lower-dir-true ] && die "the forced chown path ran the probe"
	local id
	id=$($C layers | head -n 1)
	expect_eq "$(stat -c %u:%g $S/g/overlay/$id/diff/d/f)" 100005:200006 "layer files shifted on disk"
	$C create-layer -n child base >/dev/null
	$C layer --json child | grep -q '"gidmap":\[{"container_id":0,"host_id":200000' ||
		die "a child does not inherit its parent's maps"
	# A staged apply into a mapped layer gives the files host IDs too.
	$C create-layer -n staged --uidmap 0:500000:65536 --gidmap 0:500000:65536 >/dev/null
	$C applydiff-using-staging-dir -f "$T_TMP/layer.tar" staged
	m=$($C mount staged)
	expect_eq "$(stat -c %u:%g $m/d/f)" 500005:500006 "staged apply into a mapped layer"
	$C unmount staged >/dev/null
	$C create-image -n img base >/dev/null
	$C create-container -n c1 --uidmap 0:300000:65536 --gidmap 0:300000:65536 img >/dev/null
	local mapped
	mapped=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))[0]["mapped-layers"]))' \
		$S/g/overlay-images/images.json)
	[ -n "$mapped" ] || die "no mapped copy of the top layer"
	m=$($C mount c1)
	check_kept "$m" 300005:300006
	grep " $m " /proc/self/mountinfo | grep -q "/mapped/" && die "idmapped mount despite the forced chown"
	$C unmount c1 >/dev/null
	# A second container with the same maps reuses the mapped copy.
	$C create-container -n c2 --uidmap 0:300000:65536 --gidmap 0:300000:65536 img >/dev/null
	expect_eq "$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))[0]["mapped-layers"]))' \
		$S/g/overlay-images/images.json)" "$mapped" "mapped copy reused"
	# The mapped copy keeps the top layer's diff: the same tarball.
	expect_eq "$($C diff $mapped | sha256sum)" "$($C diff base | sha256sum)" "diff of the mapped copy"
	# Parent owners of a mounted mapped layer: the host IDs of the
	# directories above it that its maps do not map (root here).
	m=$($C mount base)
	expect_eq "$($C layer-parent-owners base)" "ID: $id
UIDs: [0]
GIDs: [0]" "layer-parent-owners"
	$C unmount base >/dev/null
	# Mounted where idmapped mounts are used, a container over shifted
	# layers is not shifted a second time.
	m=$(env -u CSTOR_IDMAP_FORCE_CHOWN $C mount c1)
	expect_eq "$(stat -c %u:%g $m/d/f)" 300005:300006 "shifted layers mounted without idmapped lowers"
	grep " $m " /proc/self/mountinfo | grep -q "/mapped/" && die "idmapped mount over shifted layers"
	$C unmount c1 >/dev/null
	$C delete-container c1 >/dev/null
	$C delete-container c2 >/dev/null
	$C delete-image img >/dev/null
	[ -z "$($C layers | grep -x "$mapped")" ] || die "mapped copy left after the image was deleted"
	unset CSTOR_IDMAP_FORCE_CHOWN
	$C check >/dev/null || die "check"
}

# /etc/subuid and /etc/subgid (a private mount namespace puts test files
# over them): ranges of a name, container IDs from 0 up.
test_subid() {
	local S
	S=$(t_store)
	printf 'other:1:2\nidmapuser:100000:1000\nidmapuser:300000:500\n' >$S/subuid
	printf 'idmapgroup:200000:65536\n' >$S/subgid
	local C="$CSTOR -g $S/g -R $S/r -s vfs"
	unshare -m bash -c "mount --bind $S/subuid /etc/subuid && mount --bind $S/subgid /etc/subgid &&
		$C create-layer -i $L1 --subuidmap idmapuser --subgidmap idmapgroup >/dev/null &&
		{ $C create-layer -i $L2 --subuidmap nosuchuser 2>$S/err; echo \$? >$S/rc; }" ||
		die "create-layer with --subuidmap"
	expect_eq "$($C layer --json $L1 | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["uidmap"], r["gidmap"])')" \
		"[{'container_id': 0, 'host_id': 100000, 'size': 1000}, {'container_id': 1000, 'host_id': 300000, 'size': 500}] [{'container_id': 0, 'host_id': 200000, 'size': 65536}]" \
		"maps from /etc/subuid and /etc/subgid"
	expect_eq "$(cat $S/rc)" 1 "unknown subuid name exit code"
	grep -q 'no ranges found for "nosuchuser" in /etc/subuid' $S/err || die "message: $(cat $S/err)"
	if have_go_cs; then
		local B
		B=$(t_store)
		unshare -m bash -c "mount --bind $S/subuid /etc/subuid && mount --bind $S/subgid /etc/subgid &&
			$GO_CS --graph $B/g --run $B/r --storage-driver vfs create-layer -i $L1 --subuidmap idmapuser --subgidmap idmapgroup >/dev/null" ||
			die "Go create-layer with --subuidmap"
		expect_eq "$(strip_recs $S/g/vfs-layers/layers.json)" "$(strip_recs $B/g/vfs-layers/layers.json)" \
			"subid maps (cstor vs Go)"
	fi
}

# Bad maps: a clear error naming what was wrong, exit 1, nothing made.
test_bad_maps() {
	make_tar
	local S
	S=$(t_store)
	local C="$CSTOR -g $S/g -R $S/r -s vfs"
	$C create-layer -n base >/dev/null
	$C create-image -n img base >/dev/null
	local spec want cmd rc
	while IFS='|' read -r spec want; do
		for cmd in create-layer import-layer create-container; do
			rc=0
			case $cmd in
			create-layer) $C create-layer --uidmap "$spec" 2>$S/err >/dev/null || rc=$? ;;
			import-layer) $C import-layer -f "$T_TMP/layer.tar" --gidmap "$spec" 2>$S/err >/dev/null || rc=$? ;;
			create-container) $C create-container --uidmap "$spec" img 2>$S/err >/dev/null || rc=$? ;;
			esac
			expect_eq $rc 1 "$cmd with map \"$spec\": exit code"
			grep -qF -- "$want" $S/err || die "$cmd with map \"$spec\": message $(cat $S/err), wanted $want"
		done
	done <<'EOF'
0:100000:65536,10:200000:10|ranges 0:100000:65536 and 10:200000:10 overlap (container IDs)
0:100000:10,20:100005:10|ranges 0:100000:10 and 20:100005:10 overlap (host IDs)
0:100000:0|range 0:100000:0 has size 0
garbage|"garbage" is not an ID
0:1|each range three numbers
0:1:2,|"" is not an ID
0:-1:2|"-1" is not an ID
0:1:99999999999|"99999999999" is not an ID
4294967295:1:2|goes past the largest ID
EOF
	rc=0
	$C create-layer --hostuidmap --uidmap 0:1:1 2>$S/err || rc=$?
	expect_eq $rc 1 "--hostuidmap with --uidmap"
	grep -q "host uid map specified along with UID mapping" $S/err || die "message: $(cat $S/err)"
	rc=0
	$C create-container --hostgidmap --gidmap 0:1:1 img 2>$S/err || rc=$?
	expect_eq $rc 1 "--hostgidmap with --gidmap"
	grep -q "host gid map specified along with GID mapping" $S/err || die "message: $(cat $S/err)"
	# Nothing was made.
	expect_eq "$($C layers | grep -c '^[0-9a-f]')" 1 "layers after refused maps"
	expect_eq "$($C containers)" "" "containers after refused maps"
	# A tarball with an owner the layer's maps cannot map: refused, the
	# layer removed again.
	rc=0
	$C import-layer -f "$T_TMP/layer.tar" --uidmap 0:100000:6 --gidmap 0:100000:65536 2>$S/err >/dev/null || rc=$?
	expect_eq $rc 1 "unmappable owner in the tarball"
	grep -q "cannot be mapped to a host ID" $S/err || die "message: $(cat $S/err)"
	expect_eq "$($C layers | grep -c '^[0-9a-f]')" 1 "layers after the refused import"
	# A file of a mapped layer owned by a host ID its maps do not map
	# cannot be shifted: the error names it, no layer is left.
	$C import-layer -n mapped -f "$T_TMP/layer.tar" --uidmap 0:100000:65536 --gidmap 0:100000:65536 >/dev/null
	chown 5:5 "$($C mount mapped)/d/f"
	$C unmount mapped >/dev/null
	rc=0
	$C create-layer --uidmap 0:300000:65536 --gidmap 0:300000:65536 mapped 2>$S/err >/dev/null || rc=$?
	expect_eq $rc 1 "shifting an unmapped owner"
	grep -qE "d/(f|hl): owner UID 5 is not mapped by the layer's old UID map" $S/err || die "message: $(cat $S/err)"
	expect_eq "$($C layers | grep -c '^[0-9a-f]')" 2 "layers after the refused shift"
}

t_begin
t_run test_bad_maps
t_run test_subid
t_run test_vfs_chown_copy_keeps
t_run test_vfs_same_as_go
t_run test_ro_store_image
t_run test_overlay_idmapped_mounts
t_run test_overlay_idmapped_same_as_go
t_run test_overlay_chown_copy
t_run test_no_maps_no_probe
t_end
