#!/bin/bash
# cstor import against skopeo (containers/image's containers-storage:
# destination) and the Go CLI: the same image stored both ways gives the
# same records; each tool reads what the other stored; shared layers are
# reused; bad input fails cleanly, leaving the store as it was.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MKIMG=$ROOT/scripts/mkimage-busybox

need_skopeo() { command -v skopeo >/dev/null || skip "skopeo is not installed"; }
need_go() { have_go_cs || skip "containers-storage (Go CLI) is not installed"; }
need_busybox() { [ -x /bin/busybox ] || skip "busybox-static is not installed"; }

sk() { skopeo --insecure-policy "$@"; }
# cs STORE DRIVER args...: cstor on a store made by t_store
cs() { local s=$1 d=$2; shift 2; "$CSTOR" -g "$s/g" -R "$s/r" -s "$d" "$@"; }
csref() { echo "containers-storage:[$2@$1/g+$1/r]$3"; }

# The test images, made once: a gzip and an uncompressed layout.
IMG=$T_TMP/img
mkimages() {
	[ -d "$IMG/gz" ] && return 0
	mkdir -p "$IMG"
	"$MKIMG" "$IMG/gz" v1 >/dev/null
	"$MKIMG" "$IMG/plain" v1 --uncompressed >/dev/null
}

# Records without what differs between two honest stores: layer creation
# times and cstor's kept blobs.
layers_view() {
	jq -S '[.[] | del(.created) | del(."big-data-names")] | sort_by(.id)' "$1"
}
images_view() { jq -S 'sort_by(.id)' "$1"; }

# What a failed import must not change: records and driver directories.
snapshot() {
	local s=$1 d=$2
	{
		cat "$s/g/$d-layers/layers.json" "$s/g/$d-images/images.json" 2>/dev/null
		# cstor-*.index: the lookup index, a cache any reader may write
		ls -R "$s/g/$d-layers" "$s/g/$d-images" 2>/dev/null | grep -v '^cstor-.*\.index$'
		ls "$s/g/$d" "$s/g/$d/dir" 2>/dev/null
	} | sha256sum
}

# fixup DIR: recompute digests after an edit of the config at blobs/...CFG
# (rewrites the manifest and index). Used to make a layout that is
# consistent except for the one defect a test wants.
relayout() { # DIR NEWCONFIGFILE
	local dir=$1 cfg=$2 mf mdig cdig csz
	mf=$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)
	cdig=$(sha256sum "$cfg" | cut -d' ' -f1)
	csz=$(stat -c %s "$cfg")
	mv "$cfg" "$dir/blobs/sha256/$cdig"
	jq -c --arg d "sha256:$cdig" --argjson s "$csz" '.config.digest=$d | .config.size=$s' \
		"$dir/blobs/sha256/$mf" >"$dir/m.tmp"
	mdig=$(sha256sum "$dir/m.tmp" | cut -d' ' -f1)
	mv "$dir/m.tmp" "$dir/blobs/sha256/$mdig"
	jq -c --arg d "sha256:$mdig" --argjson s "$(stat -c %s "$dir/blobs/sha256/$mdig")" \
		'.manifests[0].digest=$d | .manifests[0].size=$s' "$dir/index.json" >"$dir/i.tmp"
	mv "$dir/i.tmp" "$dir/index.json"
}

config_of() { # DIR -> path of the config blob
	local mf
	mf=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
	echo "$1/blobs/sha256/$(jq -r .config.digest "$1/blobs/sha256/$mf" | cut -d: -f2)"
}
layer_blob() { # DIR N -> path of layer N's blob
	local mf
	mf=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
	echo "$1/blobs/sha256/$(jq -r ".layers[$2].digest" "$1/blobs/sha256/$mf" | cut -d: -f2)"
}

test_oci_same_records_as_skopeo() {
	need_skopeo; need_busybox; mkimages
	local d
	for d in vfs overlay; do
		for kind in gz plain; do
			local A B
			A=$(t_store) B=$(t_store)
			id=$(cs "$A" $d import -q -n example.com/bb:v1 "oci:$IMG/$kind:v1")
			sk copy -q "oci:$IMG/$kind:v1" "$(csref "$B" $d example.com/bb:v1)"
			expect_eq "$id" "$(jq -r '.[0].id' "$B/g/$d-images/images.json")" "$d/$kind image ID"
			diff <(images_view "$A/g/$d-images/images.json") <(images_view "$B/g/$d-images/images.json") ||
				die "$d/$kind: images.json differs from skopeo's"
			diff <(layers_view "$A/g/$d-layers/layers.json") <(layers_view "$B/g/$d-layers/layers.json") ||
				die "$d/$kind: layers.json differs from skopeo's"
			# Big data files byte for byte.
			diff -r "$A/g/$d-images/$id" "$B/g/$d-images/$id" || die "$d/$kind: big data differs"
			# The layer content too.
			top=$(jq -r '.[0].layer' "$A/g/$d-images/images.json")
			cmp <(cs "$A" $d diff -u "$top") <(cs "$B" $d diff -u "$top") || die "$d/$kind: top layer diff"
			t_cleanup_dir "$A"; t_cleanup_dir "$B"
		done
	done
}

test_archives_same_records_as_skopeo() {
	need_skopeo; need_busybox; mkimages
	sk copy -q "oci:$IMG/gz:v1" "docker-archive:$T_TMP/da.tar:example.com/bb:v1"
	sk copy -q "oci:$IMG/gz:v1" "oci-archive:$T_TMP/oa.tar:v1"
	gzip -c "$T_TMP/da.tar" >"$T_TMP/da.tar.gz"
	local src A B
	for src in "docker-archive:$T_TMP/da.tar" "docker-archive:$T_TMP/da.tar.gz" \
		"oci-archive:$T_TMP/oa.tar:v1" "$T_TMP/oa.tar" "$T_TMP/da.tar"; do
		A=$(t_store) B=$(t_store)
		cs "$A" vfs import -q -n example.com/bb:v1 "$src" >/dev/null || die "import $src"
		skref=$src
		[[ $src == /* ]] && { [[ $src == *oa.tar ]] && skref="oci-archive:$src" || skref="docker-archive:$src"; }
		# skopeo reads no compressed docker-archive: compare with the plain one.
		skref=${skref%.gz}
		sk copy -q "$skref" "$(csref "$B" vfs example.com/bb:v1)"
		diff <(images_view "$A/g/vfs-images/images.json") <(images_view "$B/g/vfs-images/images.json") ||
			die "$src: images.json differs from skopeo's"
		diff <(layers_view "$A/g/vfs-layers/layers.json") <(layers_view "$B/g/vfs-layers/layers.json") ||
			die "$src: layers.json differs from skopeo's"
		t_cleanup_dir "$A"; t_cleanup_dir "$B"
	done
	# A docker-archive's RepoTags name the image when no --name is given.
	A=$(t_store)
	cs "$A" vfs import -q "docker-archive:$T_TMP/da.tar" >/dev/null
	expect_eq "$(jq -r '.[0].names[0]' "$A/g/vfs-images/images.json")" "example.com/bb:v1" "RepoTags name"
}

# An OCI image index: the linux/amd64 image is chosen, and the index kept
# as skopeo keeps it (it becomes the image digest).
test_manifest_list_same_as_skopeo() {
	need_skopeo; need_busybox; mkimages
	[ "$(uname -m)" = x86_64 ] || skip "the index made here lists amd64 only"
	local A B L
	A=$(t_store) B=$(t_store) L=$T_TMP/multi
	rm -rf "$L"; cp -r "$IMG/gz" "$L"
	m=$(jq -r '.manifests[0].digest' "$L/index.json")
	ms=$(jq -r '.manifests[0].size' "$L/index.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":100,"platform":{"architecture":"arm64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}}]}' \
		"$(printf '%064d' 1)" "$m" "$ms" >"$L/idx"
	i=$(sha256sum "$L/idx" | cut -d' ' -f1)
	mv "$L/idx" "$L/blobs/sha256/$i"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' \
		"$i" "$(stat -c %s "$L/blobs/sha256/$i")" >"$L/index.json"
	cs "$A" vfs import -q -n example.com/m:1 "oci:$L:multi" >/dev/null
	sk copy -q "oci:$L:multi" "$(csref "$B" vfs example.com/m:1)"
	diff <(images_view "$A/g/vfs-images/images.json") <(images_view "$B/g/vfs-images/images.json") ||
		die "images.json differs from skopeo's"
	expect_eq "$(jq -r '.[0].digest' "$A/g/vfs-images/images.json")" "sha256:$i" "image digest is the index's"
	diff -r "$A/g/vfs-images" "$B/g/vfs-images" -x '*.lock' -x images.json -x '.spare-*' -x 'cstor-*.index' || die "big data differs"
}

test_skopeo_and_go_read_cstor_imports() {
	need_skopeo; need_go; need_busybox; mkimages
	local A; A=$(t_store)
	id=$(cs "$A" overlay import -q -n bb "oci:$IMG/gz:v1")
	expect_eq "$(jq -r '.[0].names[0]' "$A/g/overlay-images/images.json")" "docker.io/library/bb:latest" "normalised name"
	# skopeo inspects and copies it out; the diff IDs survive.
	sk inspect "$(csref "$A" overlay docker.io/library/bb:latest)" >"$A/insp" || die "skopeo inspect"
	expect_eq "$(jq -r .Digest "$A/insp")" "$(jq -r '.manifests[0].digest' "$IMG/gz/index.json")" "manifest digest"
	sk copy -q "$(csref "$A" overlay docker.io/library/bb:latest)" "oci:$A/out:x" || die "skopeo copy out"
	expect_eq "$(sk inspect --config "oci:$A/out:x" | jq -c .rootfs)" \
		"$(jq -c .rootfs "$(config_of "$IMG/gz")")" "rootfs of the copy"
	# The Go CLI lists it and makes a container of it.
	"$GO_CS" -g "$A/g" -R "$A/r" -s overlay images | grep -q "$id" || die "Go does not list the image"
	"$GO_CS" -g "$A/g" -R "$A/r" -s overlay create-container -n c1 "$id" >/dev/null || die "Go create-container"
	mp=$("$GO_CS" -g "$A/g" -R "$A/r" -s overlay mount c1) || die "Go mount"
	expect_eq "$(cat "$mp/etc/motd")" "Hello from a cstor image." "motd through Go's mount"
	[ ! -e "$mp/bin/vi" ] || die "the whiteout of /bin/vi is not applied"
	"$GO_CS" -g "$A/g" -R "$A/r" -s overlay unmount c1 >/dev/null
	"$GO_CS" -g "$A/g" -R "$A/r" -s overlay delete-container c1 >/dev/null
	"$GO_CS" -g "$A/g" -R "$A/r" -s overlay shutdown >/dev/null 2>&1 || true
}

test_cstor_uses_skopeo_stored_image() {
	need_skopeo; need_busybox; mkimages
	local B; B=$(t_store)
	sk copy -q "oci:$IMG/gz:v1" "$(csref "$B" overlay example.com/bb:v1)"
	cs "$B" overlay images | grep -q example.com/bb:v1 || die "cstor does not list it"
	cs "$B" overlay create-container -n c1 example.com/bb:v1 >/dev/null
	mp=$(cs "$B" overlay mount c1)
	expect_eq "$(cat "$mp/etc/motd")" "Hello from a cstor image." "motd"
	cs "$B" overlay unmount c1 >/dev/null
	# Importing the same image again reuses every layer and the image.
	before=$(jq -c '[.[] | {id, created}]' "$B/g/overlay-layers/layers.json")
	cs "$B" overlay import -q -n example.com/bb:again "oci:$IMG/gz:v1" >/dev/null
	expect_eq "$(jq -c '[.[] | {id, created}]' "$B/g/overlay-layers/layers.json")" "$before" "layers untouched"
	expect_eq "$(jq -c '.[0].names' "$B/g/overlay-images/images.json")" \
		'["example.com/bb:v1","example.com/bb:again"]' "names added"
	cs "$B" overlay delete-container c1 >/dev/null
	cs "$B" overlay shutdown >/dev/null
}

test_shared_layers_reused() {
	need_busybox; mkimages
	local A; A=$(t_store)
	cs "$A" vfs import -q -n localhost/a "oci:$IMG/gz:v1" >/dev/null
	# Another image with the same layers but a different config.
	cp -r "$IMG/gz" "$A/img2"
	cfg=$(config_of "$A/img2")
	jq -c '.config.Cmd=["/bin/echo","other"]' "$cfg" >"$A/cfg"
	rm "$cfg"
	relayout "$A/img2" "$A/cfg"
	before=$(jq -c '[.[] | {id, created}]' "$A/g/vfs-layers/layers.json")
	id2=$(cs "$A" vfs import -q -n localhost/b "oci:$A/img2:v1")
	expect_eq "$(jq -c '[.[] | {id, created}]' "$A/g/vfs-layers/layers.json")" "$before" "no layer applied twice"
	expect_eq "$(jq length "$A/g/vfs-images/images.json")" 2 "two images"
	expect_eq "$(jq -r --arg i "$id2" '.[] | select(.id==$i) | .layer' "$A/g/vfs-images/images.json")" \
		"$(jq -r '.[0].layer' "$A/g/vfs-images/images.json")" "same top layer"
	# Deleting one image keeps the layers the other uses.
	cs "$A" vfs delete-image localhost/a:latest >/dev/null
	expect_eq "$(jq length "$A/g/vfs-layers/layers.json")" 2 "layers kept for image b"
}

# Layers a read-only additional store has are used from there, not copied;
# a container of the image gets its own layer in the primary store.
test_ro_store_layers_reused() {
	t_unchecked "stores with additional image stores"
	need_busybox; mkimages
	local R A; R=$(t_store) A=$(t_store)
	cs "$R" vfs import -q -n localhost/base "oci:$IMG/gz:v1" >/dev/null
	chattr -R +i "$R/g" 2>/dev/null || true
	local o="--storage-opt vfs.imagestore=$R/g"
	before=$(find "$R/g" -type f -exec sha256sum {} + | sort | sha256sum)
	cs "$A" vfs $o import -q -n localhost/mine "oci:$IMG/gz:v1" >/dev/null || die "import with a read-only store"
	[ ! -e "$A/g/vfs-layers/layers.json" ] || expect_eq "$(jq length "$A/g/vfs-layers/layers.json")" 0 "layers copied"
	cs "$A" vfs $o create-container -n c1 localhost/mine:latest >/dev/null
	mp=$(cs "$A" vfs $o mount c1)
	expect_eq "$(cat "$mp/etc/motd")" "Hello from a cstor image." "motd"
	cs "$A" vfs $o unmount c1 >/dev/null
	chattr -R -i "$R/g" 2>/dev/null || true
	expect_eq "$(find "$R/g" -type f -exec sha256sum {} + | sort | sha256sum)" "$before" "read-only store unchanged"
}

# Imports of images sharing layers, in parallel (podman pulls so): each
# waits for a layer another is making and reuses it; all succeed.
test_parallel_imports() {
	need_busybox; mkimages
	local A; A=$(t_store)
	cp -r "$IMG/gz" "$A/img2"
	cfg=$(config_of "$A/img2")
	jq -c '.config.Cmd=["/bin/echo","other"]' "$cfg" >"$A/cfg"
	rm "$cfg"
	relayout "$A/img2" "$A/cfg"
	for round in 1 2 3; do
		rm -rf "$A/g" "$A/r"
		pids=()
		for n in a b c d; do
			src="oci:$IMG/gz:v1"
			[ $n = c ] || [ $n = d ] && src="oci:$A/img2:v1"
			cs "$A" vfs import -q -n localhost/$n "$src" >/dev/null 2>"$A/err.$n" &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || die "round $round: an import failed: $(cat "$A"/err.*)"; done
		expect_eq "$(jq length "$A/g/vfs-layers/layers.json")" 2 "round $round: layers"
		expect_eq "$(jq length "$A/g/vfs-images/images.json")" 2 "round $round: images"
		expect_eq "$(jq -c '[.[].names[]] | sort' "$A/g/vfs-images/images.json")" \
			'["localhost/a:latest","localhost/b:latest","localhost/c:latest","localhost/d:latest"]' "round $round: names"
		expect_eq "$(jq -c '[.[] | select(.flags != null)] | length' "$A/g/vfs-layers/layers.json")" 0 "round $round: no flagged layer"
	done
}

# Each defect: the import fails naming it, and the store (which already
# holds an image) is exactly as it was.
bad_case() { # NAME MUTATE-FUNCTION EXPECTED-MESSAGE-REGEX [SOURCE-PREFIX]
	local name=$1 fn=$2 msg=$3 A dir
	A=$(t_store)
	# (Not an import of the same layers: those would be reused, and the
	# defect never read.)
	cs "$A" vfs create-layer -i keeplayer >/dev/null
	cs "$A" vfs create-image -n localhost/keep:latest keeplayer >/dev/null
	dir=$A/bad
	cp -r "$IMG/gz" "$dir"
	"$fn" "$dir"
	local src="oci:$dir:v1"
	[ ! -f "$dir.tar" ] || src="oci-archive:$dir.tar:v1"
	local before; before=$(snapshot "$A" vfs)
	rc=0
	cs "$A" vfs import -q -n localhost/bad "$src" >/dev/null 2>"$A/err" || rc=$?
	[ $rc -ne 0 ] || die "$name: import succeeded"
	grep -Eq "$msg" "$A/err" || die "$name: message does not say /$msg/: $(cat "$A/err")"
	expect_eq "$(snapshot "$A" vfs)" "$before" "$name: store unchanged"
	cs "$A" vfs image localhost/keep:latest >/dev/null || die "$name: the image kept before is gone"
	echo "$name: $(cat "$A/err")"
}

mut_truncated() {
	(cd "$1" && tar -cf "$1.tar" oci-layout index.json blobs)
	truncate -s $(( $(stat -c %s "$1.tar") / 2 )) "$1.tar"
}
mut_layer_digest() { # layer 2's blob altered, its name (digest) kept
	local b; b=$(layer_blob "$1" 1)
	gzip -dc "$b" | gzip -1 -n >"$1/x" && cat "$1/x" >"$b" && rm "$1/x"
	# the manifest's size must still match, so the digest is what fails
	local mf; mf=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
	jq -c --argjson s "$(stat -c %s "$b")" '.layers[1].size=$s' "$1/blobs/sha256/$mf" >"$1/m"
	local cfg; cfg=$(config_of "$1"); cp "$cfg" "$1/c"; rm "$cfg"
	cp "$1/m" "$1/blobs/sha256/$mf"; rm "$1/m"
	relayout "$1" "$1/c"
}
mut_missing_blob() { rm "$(layer_blob "$1" 1)"; }
mut_config_not_json() {
	local cfg; cfg=$(config_of "$1")
	echo 'this is not JSON {' >"$1/c"; rm "$cfg"
	relayout "$1" "$1/c"
}
mut_diff_id() {
	local cfg; cfg=$(config_of "$1")
	jq -c '.rootfs.diff_ids[1]="sha256:'"$(printf '%064d' 7)"'"' "$cfg" >"$1/c"; rm "$cfg"
	relayout "$1" "$1/c"
}
mut_index_garbage() { echo '[1,2' >"$1/index.json"; }
mut_symlink_out() { # a blob that is a symlink out of the layout
	local b; b=$(layer_blob "$1" 0)
	mv "$b" "$1.outside"
	ln -s "$1.outside" "$b"
}

# index.json -> 300 indexes, each of one index: no image anyone made.
mut_nested_index() {
	local d mt=application/vnd.oci.image.index.v1+json
	d=$(jq -c '.manifests[0]' "$1/index.json")
	for _ in $(seq 300); do
		printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}' "$mt" "$d" >"$1/n"
		local h; h=$(sha256sum "$1/n" | cut -d' ' -f1)
		d=$(printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$mt" "$h" "$(stat -c %s "$1/n")")
		mv "$1/n" "$1/blobs/sha256/$h"
	done
	jq -c --argjson d "$d" '.manifests[0]=($d + {annotations: .manifests[0].annotations})' \
		"$1/index.json" >"$1/i" && mv "$1/i" "$1/index.json"
}
mut_index_symlink_archive() { # an oci-archive whose index.json is a link out
	rm "$1/index.json"
	ln -s /etc/passwd "$1/index.json"
	(cd "$1" && tar -cf "$1.tar" oci-layout index.json blobs)
}

# Indexes may nest (an index of one index): the image inside is found.
test_nested_index() {
	need_busybox; mkimages
	local A B L
	A=$(t_store) B=$(t_store) L=$T_TMP/nested
	rm -rf "$L"; cp -r "$IMG/gz" "$L"
	local mt=application/vnd.oci.image.index.v1+json d
	d=$(jq -c '.manifests[0] | del(.annotations)' "$L/index.json")
	for _ in 1 2; do
		printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}' "$mt" "$d" >"$L/n"
		local h; h=$(sha256sum "$L/n" | cut -d' ' -f1)
		d=$(printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$mt" "$h" "$(stat -c %s "$L/n")")
		mv "$L/n" "$L/blobs/sha256/$h"
	done
	jq -c --argjson d "$d" '.manifests[0]=($d + {annotations: .manifests[0].annotations})' \
		"$L/index.json" >"$L/i" && mv "$L/i" "$L/index.json"
	cs "$A" vfs import -q -n example.com/n:1 "oci:$L:v1" >/dev/null
	cs "$B" vfs import -q -n example.com/n:1 "oci:$IMG/gz:v1" >/dev/null
	expect_eq "$(cs "$A" vfs layers -q | sort)" "$(cs "$B" vfs layers -q | sort)" "the same layers"
}

# A Go delete-image of the same image while cstor imports it: what the
# import reused may vanish under it, and it makes that again instead of
# failing ("layer not known", "image not known").
test_import_races_go_delete() {
	need_go; need_busybox; mkimages
	local A; A=$(t_store)
	cs "$A" vfs import -q -n localhost/race "oci:$IMG/gz:v1" >/dev/null
	local id; id=$(cs "$A" vfs images --json | jq -r '.[0].id')
	[ -n "$id" ] && [ "$id" != null ] || die "no image ID"
	local fails=0 i p
	for i in $(seq 40); do
		cs "$A" vfs import -q -n localhost/race "oci:$IMG/gz:v1" >/dev/null 2>"$A/err" &
		p=$!
		sleep "0.0$((RANDOM % 6))"
		"$GO_CS" -g "$A/g" --run "$A/r" -s vfs delete-image "$id" >/dev/null 2>&1 || true
		wait $p || { fails=$((fails + 1)); echo "import $i: $(cat "$A/err")"; }
	done
	expect_eq "$fails" 0 "imports that failed while Go deleted the image"
	# The store is whole: the image, if there, has all its layers.
	cs "$A" vfs import -q -n localhost/race "oci:$IMG/gz:v1" >/dev/null
	cs "$A" vfs create-container -n rc "$id" >/dev/null || die "a container of the image"
}

test_bad_input() {
	need_busybox; mkimages
	bad_case truncated mut_truncated "truncated"
	bad_case layer-digest mut_layer_digest "digest mismatch"
	bad_case missing-blob mut_missing_blob "missing"
	bad_case config-not-json mut_config_not_json "config is not valid JSON"
	bad_case diff-id mut_diff_id "DiffID.*mismatch"
	bad_case index-garbage mut_index_garbage "index.json is not valid JSON"
	bad_case symlink-out mut_symlink_out "leads out of the layout"
	bad_case nested-index mut_nested_index "nested more than 8 deep"
	bad_case index-symlink mut_index_symlink_archive "index.json is a link to /etc/passwd"
	# Not an image at all, and a bad name.
	local A; A=$(t_store)
	rc=0; cs "$A" vfs import -q "oci:$T_TMP/nonexistent" 2>"$A/err" || rc=$?
	[ $rc -eq 1 ] && grep -q nonexistent "$A/err" || die "missing source: rc=$rc $(cat "$A/err")"
	rc=0; cs "$A" vfs import -q -n 'Bad/Name' "oci:$IMG/gz:v1" 2>"$A/err" || rc=$?
	[ $rc -eq 1 ] && grep -q 'invalid image name' "$A/err" || die "bad name: $(cat "$A/err")"
	[ ! -e "$A/g/vfs-layers/layers.json" ] || expect_eq "$(jq length "$A/g/vfs-layers/layers.json")" 0 "no layers after a bad name"
	rc=0; cs "$A" vfs import -q "oci:$IMG/gz:nosuchref" 2>"$A/err" || rc=$?
	[ $rc -eq 1 ] && grep -q 'nosuchref' "$A/err" || die "bad ref: $(cat "$A/err")"
}

test_interrupted_import_cleaned() {
	t_unchecked "an interrupted applydiff, by design"
	need_busybox; mkimages
	local A; A=$(t_store)
	# A slow source: a FIFO that delivers half of a big layer, then the
	# importer is killed.
	mkdir -p "$A/big/x"
	head -c 100000000 /dev/urandom >"$A/big/x/blob"
	tar -C "$A/big" -cf "$A/layer.tar" x
	mkdir -p "$A/lay/blobs/sha256"
	d=$(sha256sum "$A/layer.tar" | cut -d' ' -f1)
	cp "$A/layer.tar" "$A/lay/blobs/sha256/$d"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$A/lay/oci-layout"
	printf '{"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$d" >"$A/cfg"
	c=$(sha256sum "$A/cfg" | cut -d' ' -f1); mv "$A/cfg" "$A/lay/blobs/sha256/$c"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$c" "$(stat -c %s "$A/lay/blobs/sha256/$c")" "$d" "$(stat -c %s "$A/layer.tar")" >"$A/m"
	m=$(sha256sum "$A/m" | cut -d' ' -f1); mv "$A/m" "$A/lay/blobs/sha256/$m"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}' \
		"$m" "$(stat -c %s "$A/lay/blobs/sha256/$m")" >"$A/lay/index.json"
	# The binary itself in the background: killing a shell function's
	# subshell would leave cstor running.
	"$CSTOR" -g "$A/g" -R "$A/r" -s vfs import -q "oci:$A/lay" >/dev/null &
	pid=$!
	# Killed while the layer is flagged, i.e. in the middle of its apply.
	for _ in $(seq 500); do
		grep -q 'cstor.apply-incomplete' "$A/g/vfs-layers/layers.json" 2>/dev/null && break
		sleep 0.005
	done
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	grep -q 'cstor.creating' "$A/g/vfs-layers/layers.json" || skip "the import finished before it could be killed"
	# (the flagged layer belongs to nobody now)
	# Whatever state it died in, importing again at once works: a layer the
	# dead import left incomplete is removed and made again, a complete
	# one reused.
	cs "$A" vfs import -q "oci:$A/lay" >/dev/null || die "import after the kill"
	expect_eq "$(jq length "$A/g/vfs-images/images.json")" 1 "image imported"
	expect_eq "$(jq -c --arg d "$d" '[.[] | select(.id==$d) | {d: ."diff-digest", f: .flags}]' "$A/g/vfs-layers/layers.json")" \
		"[{\"d\":\"sha256:$d\",\"f\":null}]" "the layer is complete"
	# An incomplete layer that no import made (an interrupted applydiff)
	# is not taken over: the import says so.
	local B; B=$(t_store)
	cs "$B" vfs create-layer -i "$d" >/dev/null
	head -c 100000 /dev/urandom | cs "$B" vfs applydiff "$d" 2>/dev/null && die "applydiff of garbage"
	rc=0; cs "$B" vfs import -q "oci:$A/lay" >/dev/null 2>"$B/err" || rc=$?
	[ $rc -eq 1 ] && grep -q 'is incomplete' "$B/err" || die "import over an interrupted applydiff: rc=$rc $(cat "$B/err")"
}

test_progress() {
	need_busybox; mkimages
	command -v script >/dev/null || skip "script (util-linux) is not installed"
	local A; A=$(t_store)
	# Not a terminal: nothing on stderr.
	cs "$A" vfs import "oci:$IMG/gz:v1" >/dev/null 2>"$A/err"
	expect_eq "$(cat "$A/err")" "" "stderr when not a terminal"
	A=$(t_store)
	script -qec "$CSTOR -g $A/g -R $A/r -s vfs import oci:$IMG/gz:v1" /dev/null >"$A/tty" </dev/null
	grep -q 'Importing layer 2/2' "$A/tty" || die "no progress on a terminal: $(cat -v "$A/tty")"
	A=$(t_store)
	script -qec "$CSTOR -g $A/g -R $A/r -s vfs import -q oci:$IMG/gz:v1" /dev/null >"$A/tty" </dev/null
	grep -q 'Importing' "$A/tty" && die "progress despite --quiet"
	# Layer applies show it too: bytes of the input, of its size when known.
	tar -C "$IMG" -cf "$A/l.tar" gz
	script -qec "$CSTOR -g $A/g -R $A/r -s vfs import-layer -f $A/l.tar" /dev/null >"$A/tty" </dev/null
	grep -q 'Importing layer 1/1  .* / .*/s' "$A/tty" || die "no import-layer progress: $(cat -v "$A/tty")"
	id=$(jq -r '.[-1].id' "$A/g/vfs-layers/layers.json")
	script -qec "$CSTOR -g $A/g -R $A/r -s vfs create-layer -i lay2 && $CSTOR -g $A/g -R $A/r -s vfs applydiff lay2 <$A/l.tar" /dev/null >"$A/tty" </dev/null
	grep -q 'Applying layer 1/1' "$A/tty" || die "no applydiff progress: $(cat -v "$A/tty")"
	"$CSTOR" -g "$A/g" -R "$A/r" -s vfs import-layer -f "$A/l.tar" >/dev/null 2>"$A/err"
	expect_eq "$(cat "$A/err")" "" "import-layer stderr when not a terminal"
	return 0
}

# import then export: the same manifest digest and the same blobs, byte for
# byte, on both drivers, to a layout and an archive; skopeo takes the result.
test_round_trip() {
	need_skopeo; need_busybox; mkimages
	local d kind A want
	for d in vfs overlay; do
		for kind in gz plain; do
			A=$(t_store)
			want=$(jq -r '.manifests[0].digest' "$IMG/$kind/index.json")
			cs "$A" $d import -q -n example.com/rt:v1 "oci:$IMG/$kind:v1" >/dev/null
			got=$(cs "$A" $d export -q example.com/rt:v1 "oci:$A/out:v1")
			expect_eq "$got" "$want" "$d/$kind: manifest digest of the export"
			for b in "$IMG/$kind"/blobs/sha256/*; do
				cmp "$b" "$A/out/blobs/sha256/$(basename "$b")" || die "$d/$kind: blob $(basename "$b") differs"
			done
			expect_eq "$(sk inspect "oci:$A/out:v1" | jq -r .Digest)" "$want" "$d/$kind: skopeo inspect"
			sk copy -q "oci:$A/out:v1" "oci:$A/copy:v1" || die "$d/$kind: skopeo copy of the export"
			got=$(cs "$A" $d export -q example.com/rt:v1 "oci-archive:$A/out.tar:v1")
			expect_eq "$got" "$want" "$d/$kind: manifest digest of the archive"
			expect_eq "$(sk inspect "oci-archive:$A/out.tar:v1" | jq -r .Digest)" "$want" "$d/$kind: skopeo inspect archive"
			t_cleanup_dir "$A"
		done
	done
	# Without kept blobs a gzip image comes out recompressed: new manifest
	# digest, same config and DiffIDs, and it imports back to the same layers.
	A=$(t_store)
	cs "$A" vfs import -q --no-keep-blobs -n example.com/rt:v1 "oci:$IMG/gz:v1" >/dev/null
	got=$(cs "$A" vfs export -q example.com/rt:v1 "oci:$A/out:v1" 2>"$A/err")
	[ "$got" != "$(jq -r '.manifests[0].digest' "$IMG/gz/index.json")" ] || die "recompressed yet the same digest"
	grep -q 'manifest digest changed' "$A/err" || die "no notice of the rewritten manifest: $(cat "$A/err")"
	expect_eq "$(sk inspect --config "oci:$A/out:v1" | jq -c .rootfs)" \
		"$(jq -c .rootfs "$(config_of "$IMG/gz")")" "DiffIDs of the recompressed export"
	B=$(t_store)
	cs "$B" vfs import -q "oci:$A/out:v1" >/dev/null
	expect_eq "$(jq -c '[.[].id] | sort' "$B/g/vfs-layers/layers.json")" \
		"$(jq -c '[.[].id] | sort' "$A/g/vfs-layers/layers.json")" "layer IDs after a recompressed round trip"
}

t_begin
t_run test_round_trip
t_run test_oci_same_records_as_skopeo
t_run test_archives_same_records_as_skopeo
t_run test_manifest_list_same_as_skopeo
t_run test_skopeo_and_go_read_cstor_imports
t_run test_cstor_uses_skopeo_stored_image
t_run test_shared_layers_reused
t_run test_bad_input
t_run test_nested_index
t_run test_import_races_go_delete
t_run test_interrupted_import_cleaned
t_run test_parallel_imports
t_run test_ro_store_layers_reused
t_run test_progress
t_end
