#!/bin/bash
# check, check --repair and gc (docs/check.md): clean stores made by cstor,
# skopeo and the Go CLI check clean; each kind of damage is found and named
# (with containers/storage's texts); repair rebuilds a damaged layer in place
# from its kept blob or from an identical layer of another (read-only)
# store, so its image survives; what cannot be rebuilt is removed with the
# images that needed it, and the output says which; read-only stores are
# checked and never changed; gc removes what an interrupted import left.
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

need_busybox() { [ -x /bin/busybox ] || skip "busybox-static is not installed"; }

# The busybox image layout (made once).
img() {
	need_busybox
	[ -f "$T_TMP/img/index.json" ] || "$ROOT/scripts/mkimage-busybox" "$T_TMP/img" v1 >/dev/null
	echo "$T_TMP/img"
}

# new_store DRIVER [import flags...]: S, C (cstor on it), IMG (the image ID)
# and TOP, BASE (its layers), with the busybox image imported by cstor.
new_store() {
	local drv=$1
	shift
	[ "$drv" = overlay ] && t_need_overlay
	S=$(t_store)
	C="$CSTOR -g $S/g -R $S/r -s $drv"
	IMG=$($C import -q "$@" -n bb "oci:$(img):v1")
	TOP=$($C image "$IMG" | awk '/^Top Layer:/ {print $3}')
	[ -n "$TOP" ] || TOP=$(jq -r '.[0].layer' "$S/g/$drv-images/images.json")
	BASE=$(jq -r --arg t "$TOP" '.[] | select(.id==$t) | .parent' "$S/g/$drv-layers/layers.json")
	[ -n "$BASE" ] && [ "$BASE" != null ] || die "no base layer"
	DRV=$drv
}

# The directory holding layer $1's own files.
own_dir() {
	case $DRV in
	overlay) echo "$S/g/overlay/$1/diff" ;;
	vfs) echo "$S/g/vfs/dir/$1" ;;
	esac
}

# expect_check STATUS PATTERN [ARGS...]: check's status and output.
expect_check() {
	local want=$1 pat=$2 rc=0
	shift 2
	$C check "$@" >"$S/out" 2>"$S/err" || rc=$?
	[ "$rc" = "$want" ] || die "check $*: status $rc, wanted $want: $(cat "$S/out" "$S/err")"
	[ -z "$pat" ] || grep -qF -- "$pat" "$S/out" || die "check $*: no '$pat' in: $(cat "$S/out")"
}

expect_clean() {
	local rc=0
	$C check "$@" >"$S/out" 2>"$S/err" || rc=$?
	[ $rc -eq 0 ] && [ ! -s "$S/out" ] || die "check $* not clean (status $rc): $(cat "$S/out" "$S/err")"
}

# The plain report and the --json one say the same, each object once:
# plain lists "KIND ID:" then its problems indented; --json is Go's
# CheckReport (maps by ID: sorted keys, as encoding/json prints them).
expect_json_as_plain() {
	$C check --json "$@" >"$S/j" 2>/dev/null || true
	$C check "$@" >"$S/p" 2>/dev/null || true
	local plain json
	plain=$(awk '/^[^ ].*:$/ { sub(/:$/, ""); n = split($0, w, " "); obj = (w[1] == "read-only" ? "RO" w[2] : w[1]) " " w[n]; next }
		/^ / { sub(/^ /, ""); print obj "\t" $0 }' "$S/p" | sort)
	json=$(jq -r '[{k:"layer",v:.Layers},{k:"ROlayer",v:.ROLayers},{k:"image",v:.Images},{k:"ROimage",v:.ROImages},{k:"container",v:.Containers}][]
		| .k as $k | .v | to_entries[] | .key as $id | .value[] | "\($k) \($id)\t\(.)"' "$S/j" | sort)
	expect_eq "$json" "$plain" "check --json against the plain report"
	[ "$(grep -c '^[^ ]' "$S/p")" = "$(cut -f1 <<<"$plain" | sort -u | wc -l)" ] ||
		die "an object is listed twice: $(cat "$S/p")"
	jq -e '[.[] | keys_unsorted | . == sort] | all' "$S/j" >/dev/null || die "--json keys not sorted: $(cat "$S/j")"
}

# A tree's listing with owners, modes, sizes and contents' digests.
tree_sum() {
	(cd "$1" && find . -printf '%p %y %u %g %m %s %l\n' | sort
	 find . -type f -print0 | sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

test_clean_stores() {
	for drv in vfs overlay; do
		new_store $drv
		expect_clean
		expect_clean -q
		expect_clean --json -m 0 >/dev/null 2>&1 || true
		# --json is one document, Go's report with the errors' texts.
		$C check --json >"$S/j"
		expect_eq "$(jq -c . "$S/j")" \
			'{"Layers":{},"ROLayers":{},"Images":{},"ROImages":{},"Containers":{}}' "$drv json"
		# A container and a mount do not make problems.
		ctr=$($C create-container --name c1 "$IMG")
		mp=$($C mount c1)
		echo hi >"$mp/new-file"
		expect_clean
		$C unmount c1 >/dev/null
		expect_clean
	done
}

test_clean_store_made_by_skopeo() {
	command -v skopeo >/dev/null || skip "skopeo is not installed"
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		S=$(t_store)
		C="$CSTOR -g $S/g -R $S/r -s $drv"
		skopeo --insecure-policy copy -q "oci:$(img):v1" "containers-storage:[$drv@$S/g+$S/r]bb" >/dev/null
		expect_clean
	done
}

test_clean_store_made_by_go() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		S=$(t_store)
		C="$CSTOR -g $S/g -R $S/r -s $drv"
		local G="$GO_CS -g $S/g -R $S/r -s $drv"
		mkdir -p "$S/t/etc"; echo x >"$S/t/etc/x"; ln -s x "$S/t/etc/y"
		tar -C "$S/t" -cf "$S/t.tar" .
		l=$($G create-layer | head -1)
		$G applydiff -f "$S/t.tar" "$l"
		$G create-image -n goimg "$l" >/dev/null
		$G create-container goimg >/dev/null
		$G shutdown >/dev/null 2>&1 || true
		expect_clean
	done
}

# A file added to an image layer: Go's "+/path, layer content modified";
# repair rebuilds the layer from its kept blob, the image stays.
test_added_file_rebuilt_from_kept_blob() {
	for drv in vfs overlay; do
		new_store $drv
		before=$(tree_sum "$(own_dir "$BASE")")
		echo intruder >"$(own_dir "$BASE")/etc/intruder"
		expect_check 1 "layer $BASE: +/etc/intruder, layer content modified"
		grep -q "^image $IMG:" "$S/out" || die "the image is not named as affected"
		expect_json_as_plain
		# The child is not blamed for its parent's file.
		! grep -q "^layer $TOP:" "$S/out" || die "child layer blamed: $(cat "$S/out")"
		expect_check 0 "rebuilt from its kept blob sha256:" -r
		grep -q "repaired: layer $BASE: rebuilt" "$S/out" || die "$(cat "$S/out")"
		expect_clean
		expect_eq "$(tree_sum "$(own_dir "$BASE")")" "$before" "$drv: layer files after rebuild"
		[ ! -e "$(own_dir "$BASE")/etc/intruder" ] || die "intruder still there"
		$C image "$IMG" >/dev/null || die "the image did not survive"
		# It still works: a container of it mounts and shows the files.
		$C create-container --name c "$IMG" >/dev/null
		mp=$($C mount c)
		[ -x "$mp/bin/busybox" ] || die "no busybox in the container"
		$C unmount c >/dev/null
	done
}

# A file's content changed: the diff's digest no longer matches.
test_changed_file_rebuilt() {
	for drv in vfs overlay; do
		new_store $drv
		f=$(own_dir "$BASE")/bin/busybox
		printf 'X' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
		expect_check 1 "layer $BASE:" -q
		grep -qE "layer $BASE: (layer content incorrect digest|.*file integrity checksum failed|.*its tar-split entry says)" "$S/out" ||
			die "$(cat "$S/out")"
		expect_check 0 "rebuilt from its kept blob" -r
		expect_clean
		cmp "$f" /bin/busybox || die "busybox not restored"
	done
}

# A file removed, and owner and mode changes: named one by one.
test_removed_and_changed_metadata() {
	new_store overlay
	d=$(own_dir "$BASE")
	rm "$d/etc/passwd" 2>/dev/null || rm -r "$d/etc"
	f=$(find "$d/bin" -maxdepth 1 -type f | head -1)
	expect_check 1 "layer $BASE:" -q
	expect_check 1 "layer $BASE:"
	expect_check 0 "rebuilt" -r
	expect_clean
}

# No kept blob, but a read-only store has the same layer: the rebuild reads
# it, and the read-only store does not change by one byte.
test_rebuilt_from_identical_layer_of_ro_store() {
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		R=$(t_store)
		$CSTOR -g "$R/g" -R "$R/r" -s $drv import -q -n bb "oci:$(img):v1" >/dev/null
		$CSTOR -g "$R/g" -R "$R/r" -s $drv shutdown >/dev/null
		mount --bind "$R/g" "$R/g" && mount -o remount,bind,ro "$R/g" "$R/g" ||
			skip "cannot make a read-only bind mount"
		ro_sum=$(tree_sum "$R/g")
		new_store $drv --no-keep-blobs
		C="$C --storage-opt $drv.imagestore=$R/g"
		echo intruder >"$(own_dir "$BASE")/intruder"
		expect_check 1 "layer $BASE: +/intruder, layer content modified"
		expect_check 0 "rebuilt from the kept blob sha256:" -r
		grep -q "of read-only layer $BASE" "$S/out" || die "$(cat "$S/out")"
		expect_clean
		expect_eq "$(tree_sum "$R/g")" "$ro_sum" "$drv: the read-only store"
		umount "$R/g"
	done
}

# Both stores filled by skopeo (no kept blobs anywhere): the read-only
# store's copy of the damaged layer, under the same ID, is reassembled from
# that store's own files and tar-split.
test_rebuilt_from_ro_copy_made_by_skopeo() {
	command -v skopeo >/dev/null || skip "skopeo is not installed"
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		R=$(t_store)
		skopeo --insecure-policy copy -q "oci:$(img):v1" "containers-storage:[$drv@$R/g+$R/r]bb" >/dev/null
		$CSTOR -g "$R/g" -R "$R/r" -s $drv shutdown >/dev/null
		mount --bind "$R/g" "$R/g" && mount -o remount,bind,ro "$R/g" "$R/g" ||
			skip "cannot make a read-only bind mount"
		ro_sum=$(tree_sum "$R/g")
		S=$(t_store)
		DRV=$drv
		skopeo --insecure-policy copy -q "oci:$(img):v1" "containers-storage:[$drv@$S/g+$S/r]bb" >/dev/null
		C="$CSTOR -g $S/g -R $S/r -s $drv --storage-opt $drv.imagestore=$R/g"
		base=$(jq -r '.[] | select(.parent == null or .parent == "") | .id' "$S/g/$drv-layers/layers.json")
		echo intruder >"$(own_dir "$base")/intruder"
		rm -f "$(own_dir "$base")/bin/busybox"
		expect_check 1 "layer $base:"
		expect_check 0 "layer $base: rebuilt from read-only layer $base (its copy in a read-only store), which has the same content" -r
		expect_clean
		cmp "$(own_dir "$base")/bin/busybox" /bin/busybox || die "busybox not restored"
		expect_eq "$(tree_sum "$R/g")" "$ro_sum" "$drv: the read-only store"
		umount "$R/g"
	done
}

# No kept blob, but another layer of the store has the same DiffID: the
# rebuild applies that layer's diff.
test_rebuilt_from_identical_layer() {
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		S=$(t_store)
		C="$CSTOR -g $S/g -R $S/r -s $drv"
		DRV=$drv
		mkdir -p "$S/t/etc" "$S/t/bin"
		echo hello >"$S/t/etc/hello"
		cp /bin/true "$S/t/bin/t"
		tar -C "$S/t" -cf "$S/t.tar" .
		a=$($C import-layer -f "$S/t.tar" | head -1)
		b=$($C import-layer -f "$S/t.tar" | head -1)
		IMG=$($C create-image "$a")
		$C create-image "$b" >/dev/null
		expect_clean
		echo changed >"$(own_dir "$a")/etc/hello"
		expect_check 1 "layer $a:"
		expect_check 0 "layer $a: rebuilt from layer $b, which has the same content" -r
		expect_clean
		expect_eq "$(cat "$(own_dir "$a")/etc/hello")" hello "$drv: restored"
		$C image "$IMG" >/dev/null
	done
}

# Nothing to rebuild from: the image is removed, and the output says so.
test_unrebuildable_removed_with_its_image() {
	for drv in vfs overlay; do
		new_store $drv --no-keep-blobs
		echo intruder >"$(own_dir "$TOP")/intruder"
		expect_check 1 "layer $TOP: +/intruder, layer content modified"
		expect_json_as_plain
		expect_check 0 "image $IMG: removed" -r
		grep -q "layer $TOP: removed" "$S/out" || die "$(cat "$S/out")"
		expect_clean
		! $C image "$IMG" >/dev/null 2>&1 || die "the image is still there"
	done
}

# A layer of a read-only store is damaged: reported, never changed, and
# check -r fails because it cannot fix it; the primary store checks clean.
test_ro_store_reported_not_repaired() {
	t_unchecked "read-only stores damaged on purpose"
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		R=$(t_store)
		$CSTOR -g "$R/g" -R "$R/r" -s $drv import -q -n bb "oci:$(img):v1" >/dev/null
		ro_base=$(jq -r '.[] | select(.parent == null or .parent == "") | .id' "$R/g/$drv-layers/layers.json")
		case $drv in
		overlay) echo x >"$R/g/overlay/$ro_base/diff/bin/busybox" ;;
		vfs) echo x >"$R/g/vfs/dir/$ro_base/bin/busybox" ;;
		esac
		$CSTOR -g "$R/g" -R "$R/r" -s $drv shutdown >/dev/null
		mount --bind "$R/g" "$R/g" && mount -o remount,bind,ro "$R/g" "$R/g" ||
			skip "cannot make a read-only bind mount"
		ro_sum=$(tree_sum "$R/g")
		S=$(t_store)
		C="$CSTOR -g $S/g -R $S/r -s $drv --storage-opt $drv.imagestore=$R/g"
		expect_check 1 "read-only layer $ro_base:"
		grep -qE "read-only layer $ro_base: (layer content incorrect digest|.*file integrity checksum failed|.*its tar-split entry says)" "$S/out" ||
			die "$(cat "$S/out")"
		expect_json_as_plain
		expect_check 1 "read-only image" -r
		expect_eq "$(tree_sum "$R/g")" "$ro_sum" "$drv: the read-only store"
		# The primary store alone is fine.
		C="$CSTOR -g $S/g -R $S/r -s $drv"
		expect_clean
		umount "$R/g"
	done
}

test_image_layer_missing() {
	new_store vfs
	python3 - "$S/g/vfs-layers/layers.json" "$TOP" <<'EOF'
import json, sys
p, top = sys.argv[1], sys.argv[2]
d = [l for l in json.load(open(p)) if l['id'] != top]
json.dump(d, open(p, 'w'))
EOF
	rm -rf "$S/g/vfs/dir/$TOP"
	expect_check 1 "image $IMG: layer $TOP: image layer is missing"
	expect_check 0 "image $IMG: removed" -r
	# Its base layer is now used by nothing: a problem once it is old.
	expect_clean
	expect_check 1 "layer $BASE: layer not referenced" -m 0
}

test_image_data_missing_and_resized() {
	new_store vfs
	f=$(ls "$S/g/vfs-images/$IMG" | grep '^manifest' | head -1)
	: >"$S/g/vfs-images/$IMG/$f"
	expect_check 1 "image data item has incorrect size"
	rm "$S/g/vfs-images/$IMG/$f"
	expect_check 1 "image data item is missing"
	expect_check 0 "image $IMG: removed" -r
	expect_clean -m 0
}

test_layer_data_missing() {
	new_store vfs
	echo data >"$S/d"
	$C set-layer-data -f "$S/d" "$TOP" datafile
	expect_clean
	rm "$S/g/vfs-layers/$TOP/datafile"
	expect_check 1 "layer $TOP: data item \"datafile\": layer data item is missing"
	expect_check 0 "" -r
	expect_clean -m 0
}

# A damaged kept blob is dropped (it is a cache), the layer is fine.
test_damaged_kept_blob_dropped() {
	new_store vfs
	b=$(ls "$S/g/vfs-layers/$TOP/" | head -1)
	[ -n "$b" ] || die "no kept blob"
	echo garbage >"$S/g/vfs-layers/$TOP/$b"
	expect_check 1 "kept blob does not have its digest"
	expect_check 0 "dropped its damaged kept blob" -r
	expect_clean
	$C image "$IMG" >/dev/null
}

# A container whose image vanished: -r alone leaves it (and fails), -r -f
# removes it.
test_container_image_missing() {
	new_store vfs
	ctr=$($C create-container "$IMG")
	python3 - "$S/g/vfs-images/images.json" <<'EOF'
import json, sys
json.dump([], open(sys.argv[1], 'w'))
EOF
	expect_check 1 "image $IMG: image missing"
	grep -q "^container $ctr:" "$S/out" || die "$(cat "$S/out")"
	expect_check 1 "container $ctr:" -r
	expect_check 1 "container $ctr:"
	expect_check 0 "container $ctr: removed" -r -f
	expect_clean
}

test_unaccounted_driver_dir() {
	for drv in vfs overlay; do
		new_store $drv
		fake=$(printf 'f%.0s' $(seq 64))
		case $drv in
		overlay) mkdir -p "$S/g/overlay/$fake/diff" ;;
		vfs) mkdir -p "$S/g/vfs/dir/$fake" ;;
		esac
		expect_check 1 "layer $fake: layer in lower level storage driver not accounted for"
		expect_check 0 "" -r
		[ ! -e "$S/g/$drv/$fake" ] && [ ! -e "$S/g/vfs/dir/$fake" ] || die "still there"
		expect_clean
	done
}

test_unreferenced_layer_age() {
	new_store vfs
	l=$($C create-layer | head -1)
	# Young: not a problem by default (it may be an import in progress).
	expect_clean
	expect_clean -r
	expect_check 1 "layer $l: layer not referenced by any images or containers" -m 0
	expect_check 1 "" -m 0s
	expect_clean -m 1h
	expect_check 125 "" -m bogus
	expect_check 0 "layer $l: layer not referenced" -r -m 0
	expect_clean -m 0
	$C layer "$l" >/dev/null 2>&1 && die "layer not removed"
	$C image "$IMG" >/dev/null
}

test_parent_cycle() {
	new_store vfs
	a=$($C create-layer | head -1)
	b=$($C create-layer "$a" | head -1)
	python3 - "$S/g/vfs-layers/layers.json" "$a" "$b" <<'EOF'
import json, sys
p, a, b = sys.argv[1:]
d = json.load(open(p))
for l in d:
    if l['id'] == a:
        l['parent'] = b
json.dump(d, open(p, 'w'))
EOF
	expect_check 1 "its parents lead back to it (a cycle)"
	expect_check 0 "" -r
	expect_clean -m 0
	$C image "$IMG" >/dev/null
}

test_incomplete_apply_rebuilt() {
	new_store vfs
	python3 - "$S/g/vfs-layers/layers.json" "$BASE" <<'EOF'
import json, sys
p, i = sys.argv[1:]
d = json.load(open(p))
for l in d:
    if l['id'] == i:
        l.setdefault('flags', {})['cstor.apply-incomplete'] = True
json.dump(d, open(p, 'w'))
EOF
	expect_check 1 "layer $BASE: an apply into it was interrupted"
	expect_check 0 "layer $BASE: rebuilt from its kept blob" -r
	expect_clean
}

test_mount_record_of_unknown_layer() {
	new_store vfs
	mkdir -p "$S/r/vfs-layers"
	ghost=$(printf 'a%.0s' $(seq 64))
	printf '[{"id":"%s","path":"/etc","count":1}]' "$ghost" >"$S/r/vfs-layers/mountpoints.json"
	expect_check 1 "layer $ghost: mountpoints.json has a record of it"
	expect_check 0 "removed its record from mountpoints.json" -r
	expect_clean
	[ -d /etc ] && [ -f /etc/passwd ] || die "/etc touched"
}

# An import killed after its first layer: the next writer removes that
# layer (no image uses it; its importer is known to be dead: no 24 hours'
# wait) and the journal, and a second import of the same image still works.
test_interrupted_import_gc() {
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		S=$(t_store)
		C="$CSTOR -g $S/g -R $S/r -s $drv"
		L=$S/lay
		mkdir -p "$L/blobs/sha256" "$S/l1/etc" "$S/l2/x"
		echo one >"$S/l1/etc/one"
		head -c 150000000 /dev/urandom >"$S/l2/x/blob"
		tar -C "$S/l1" -cf "$S/l1.tar" .
		tar -C "$S/l2" -cf "$S/l2.tar" .
		python3 - "$L" "$S/l1.tar" "$S/l2.tar" <<'EOF'
import hashlib, json, os, shutil, sys
lay, tars = sys.argv[1], sys.argv[2:]
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(lay, 'blobs/sha256', d), 'wb').write(data)
    return 'sha256:' + d, len(data)
layers, diffs = [], []
for t in tars:
    data = open(t, 'rb').read()
    dg, n = put(data)
    layers.append({'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': dg, 'size': n})
    diffs.append(dg)
cfg, cn = put(json.dumps({'architecture': 'amd64', 'os': 'linux', 'rootfs': {'type': 'layers', 'diff_ids': diffs}}).encode())
man, mn = put(json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
    'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cfg, 'size': cn},
    'layers': layers}).encode())
open(os.path.join(lay, 'oci-layout'), 'w').write('{"imageLayoutVersion":"1.0.0"}')
json.dump({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': man, 'size': mn}]},
          open(os.path.join(lay, 'index.json'), 'w'))
EOF
		"$CSTOR" -g "$S/g" -R "$S/r" -s $drv import -q "oci:$L" >/dev/null &
		pid=$!
		for _ in $(seq 1000); do
			grep -q 'cstor.apply-incomplete' "$S/g/$drv-layers/layers.json" 2>/dev/null &&
				[ "$(jq length "$S/g/$drv-layers/layers.json")" = 2 ] && break
			sleep 0.005
		done
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		[ "$(jq length "$S/g/$drv-layers/layers.json")" = 2 ] ||
			skip "the import was not caught between its layers"
		ls "$S/g/$drv-layers/" | grep -q '^cstor-pending-' || die "no journal"
		first=$(jq -r '.[] | select(.flags == null) | .id' "$S/g/$drv-layers/layers.json")
		[ -n "$first" ] || die "no complete first layer"
		# The next writer (here one that only adds a layer) removes
		# what the dead import left, and its journal.
		extra=$($C create-layer)
		expect_eq "$(jq -r '.[].id' "$S/g/$drv-layers/layers.json")" "$extra" \
			"$drv: layers after the next writer"
		! ls "$S/g/$drv-layers/" | grep -q '^cstor-pending-' || die "journal left"
		$C delete-layer "$extra"
		expect_clean -m 0
		$C import -q -n again "oci:$L" >/dev/null
		expect_clean -m 0
	done
}

# gc: what no record owns goes, what a record owns stays.
test_gc_leftovers() {
	for drv in vfs overlay; do
		new_store $drv
		fake=$(printf 'e%.0s' $(seq 64))
		case $drv in
		overlay) mkdir -p "$S/g/overlay/$fake/diff" ;;
		vfs) mkdir -p "$S/g/vfs/dir/$fake" ;;
		esac
		mkdir -p "$S/g/$drv-layers/$fake" "$S/g/$drv-images/$fake"
		echo x >"$S/g/$drv-layers/$fake.tar-split.gz"
		$C gc >"$S/gc"
		for w in "removed its driver directory" "removed $fake.tar-split.gz" "image $fake: removed"; do
			grep -q "$w" "$S/gc" || die "$drv gc: no '$w' in $(cat "$S/gc")"
		done
		[ ! -e "$S/g/$drv-layers/$fake" ] && [ ! -e "$S/g/$drv-images/$fake" ] || die "left"
		$C gc --json >"$S/gc"
		expect_eq "$(cat "$S/gc")" "[]" "$drv: second gc"
		expect_clean
		$C image "$IMG" >/dev/null
	done
}

# delete-image killed after the image record went: gc finishes the job.
test_killed_delete_image_gc() {
	new_store vfs
	# Simulate the state a kill leaves: the image record gone, the
	# journal naming its layers, its writer dead.
	j="$S/g/vfs-layers/cstor-pending-0123456789abcdef"
	printf 'image delete\n%s\n%s\n' "$TOP" "$BASE" >"$j"
	python3 - "$S/g/vfs-images/images.json" <<'EOF'
import json, sys
json.dump([], open(sys.argv[1], 'w'))
EOF
	expect_check 1 "layer $TOP: left by an interrupted import or image delete"
	$C gc >"$S/gc"
	grep -q "layer $TOP: removed" "$S/gc" && grep -q "layer $BASE: removed" "$S/gc" ||
		die "gc: $(cat "$S/gc")"
	expect_eq "$(jq length "$S/g/vfs-layers/layers.json")" 0 "layers after gc"
	[ ! -e "$j" ] || die "journal left"
	# Without gc: the next writer removes them, except what a live
	# journal lists (an operation in progress may be about to use it).
	new_store vfs
	printf 'image delete\n%s\n%s\n' "$TOP" "$BASE" >"$S/g/vfs-layers/cstor-pending-00000000000000bb"
	printf 'import\n%s\n' "$TOP" >"$S/g/vfs-layers/cstor-pending-00000000000000cc"
	echo '[]' >"$S/g/vfs-images/images.json"
	python3 - "$S/g/vfs-layers/cstor-pending-00000000000000cc" "$S/held" <<'EOF' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[2], 'w').close()
time.sleep(60)
EOF
	local holder=$!
	for _ in $(seq 500); do [ -e "$S/held" ] && break; sleep 0.01; done
	local extra; extra=$($C create-layer)
	$C layer "$TOP" >/dev/null || die "a layer a live journal lists was removed"
	[ -e "$S/g/vfs-layers/cstor-pending-00000000000000bb" ] || die "a journal with a layer spared for a live one was removed"
	kill "$holder"; wait "$holder" 2>/dev/null || true
	$C delete-layer "$extra"
	! $C layer "$TOP" >/dev/null 2>&1 || die "the dead journal's layer stayed after its last lister died"
	! $C layer "$BASE" >/dev/null 2>&1 || die "its parent stayed"
	ls "$S/g/vfs-layers/" | grep -q '^cstor-pending-' && die "journal left: $(ls "$S/g/vfs-layers/")" || true
	expect_clean
	# A journal whose layers are in use again removes nothing.
	new_store vfs
	printf 'import\n%s\n' "$BASE" >"$S/g/vfs-layers/cstor-pending-00000000000000aa"
	expect_clean
	$C gc >/dev/null
	$C image "$IMG" >/dev/null || die "image lost"
	expect_clean
}

t_begin
t_run test_clean_stores
t_run test_clean_store_made_by_skopeo
t_run test_clean_store_made_by_go
t_run test_added_file_rebuilt_from_kept_blob
t_run test_changed_file_rebuilt
t_run test_removed_and_changed_metadata
t_run test_rebuilt_from_identical_layer_of_ro_store
t_run test_rebuilt_from_identical_layer
t_run test_rebuilt_from_ro_copy_made_by_skopeo
t_run test_unrebuildable_removed_with_its_image
t_run test_ro_store_reported_not_repaired
t_run test_image_layer_missing
t_run test_image_data_missing_and_resized
t_run test_layer_data_missing
t_run test_damaged_kept_blob_dropped
t_run test_container_image_missing
t_run test_unaccounted_driver_dir
t_run test_unreferenced_layer_age
t_run test_parent_cycle
t_run test_incomplete_apply_rebuilt
t_run test_mount_record_of_unknown_layer
t_run test_interrupted_import_gc
t_run test_gc_leftovers
t_run test_killed_delete_image_gc
t_end
