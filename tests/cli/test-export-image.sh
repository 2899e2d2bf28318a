#!/bin/bash
# cstor export: images stored by skopeo (as containers/image stores them)
# exported to OCI layouts and oci-archives, which skopeo then reads. Covers
# the three blob sources (uncompressed layers from tar-split, kept original
# blobs, recompressed layers with a rewritten manifest), Docker schema 2
# manifests converted to OCI (docker-archive imports included), index.json
# refs, oci-archive, and failures that must leave nothing behind.
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
NAME=example.com/bb:v1

have_skopeo() { command -v skopeo >/dev/null 2>&1 || skip "skopeo not installed"; }

# The busybox test images (made once): $T_TMP/img-gz, $T_TMP/img-un.
image() {
	local kind=$1 dir=$T_TMP/img-$1
	if [ ! -f "$dir/index.json" ]; then
		[ -x /bin/busybox ] || skip "busybox-static not installed"
		if [ "$kind" = un ]; then
			"$TOP/scripts/mkimage-busybox" "$dir" v1 --uncompressed >/dev/null
		else
			"$TOP/scripts/mkimage-busybox" "$dir" v1 >/dev/null
		fi
	fi
	echo "$dir"
}

# store DRIVER IMAGE-KIND [SKOPEO-ARGS...]: a store holding image NAME,
# stored by skopeo. Sets S, G (cstor's store flags) and SRC (the source
# layout).
store() {
	have_skopeo
	SRC=$(image "$2")
	S=$(t_store)
	G="-g $S/g -R $S/r -s $1"
	skopeo --insecure-policy copy -q "${@:3}" "oci:$SRC:v1" \
		"containers-storage:[$1@$S/g+$S/r]$NAME" >/dev/null
}

# The manifest digest index.json of layout $1 gives ref $2.
index_digest() {
	python3 -c 'import json,sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])' "$1" "$2"
}

# The config digest (hex) of the v1 manifest of layout $1.
config_hex() {
	jq_py "$1/blobs/sha256/$(index_digest "$1" v1 | cut -d: -f2)" 'd["config"]["digest"][7:]'
}

# Evaluate a python expression on the JSON in file $1 (bound to d).
jq_py() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Every blob of layout $1 is in layout $2, byte for byte, and no others.
same_blobs() {
	expect_eq "$(ls "$2/blobs/sha256")" "$(ls "$1/blobs/sha256")" "blob names"
	local b
	for b in "$1"/blobs/sha256/*; do
		cmp "$b" "$2/blobs/sha256/${b##*/}" || die "blob ${b##*/} differs"
	done
}

# The notice of an export whose manifest was rewritten.
notice() {
	echo "cstor: export: $NAME: manifest digest changed: the manifest was rewritten for layers recompressed (their original blobs were not kept) and/or converted from Docker schema 2 to OCI"
}

# The layer IDs of a store, sorted.
layer_ids() {
	"$CSTOR" $1 layers --json | python3 -c 'import json,sys
print(" ".join(sorted(l["id"] for l in json.load(sys.stdin))))'
}

# An uncompressed image comes back byte for byte: same manifest digest,
# same blobs; skopeo reads and copies the layout.
check_uncompressed() {
	store "$1" un
	"$CSTOR" $G export $NAME "oci:$S/out:v1" >"$S/stdout" 2>"$S/stderr"
	expect_eq "$(cat "$S/stdout")" "$(index_digest "$SRC" v1)" "manifest digest"
	[ ! -s "$S/stderr" ] || die "stderr: $(cat "$S/stderr")"
	same_blobs "$SRC" "$S/out"
	cmp "$SRC/oci-layout" "$S/out/oci-layout"
	expect_eq "$(index_digest "$S/out" v1)" "$(index_digest "$SRC" v1)" "index.json entry"
	expect_eq "$(skopeo inspect "oci:$S/out:v1" | jq_py /dev/stdin 'd["Digest"]')" \
		"$(index_digest "$SRC" v1)" "skopeo inspect"
	# (skopeo compresses the layers on the way, so only the config stays.)
	skopeo --insecure-policy copy -q "oci:$S/out:v1" "oci:$S/out2:x"
	local c; c=$(config_hex "$SRC")
	cmp "$S/out2/blobs/sha256/$c" "$SRC/blobs/sha256/$c"
	# Exporting again finds the blobs there and changes nothing.
	"$CSTOR" $G export -q $NAME "oci:$S/out:v1" >/dev/null
	same_blobs "$SRC" "$S/out"
	expect_eq "$(jq_py "$S/out/index.json" 'len(d["manifests"])')" 1 "entries after re-export"
}
test_uncompressed_vfs() { check_uncompressed vfs; }
test_uncompressed_overlay() { check_uncompressed overlay; }

# A gzip image stored by skopeo keeps no compressed blobs: the layers are
# recompressed, the manifest rewritten, the config and DiffIDs unchanged,
# and skopeo storing the export again makes the same layers.
check_recompressed() {
	store "$1" gz
	"$CSTOR" $G export $NAME "oci:$S/out:v1" >"$S/stdout" 2>"$S/stderr"
	expect_eq "$(cat "$S/stderr")" "$(notice)" "notice"
	local d; d=$(cat "$S/stdout")
	[ "$d" != "$(index_digest "$SRC" v1)" ] || die "manifest digest unchanged"
	expect_eq "$(index_digest "$S/out" v1)" "$d" "index.json entry"
	expect_eq "sha256:$(sha256sum <"$S/out/blobs/sha256/${d#sha256:}" | cut -d' ' -f1)" "$d" \
		"manifest blob digest"
	skopeo inspect --raw "oci:$S/out:v1" >"$S/m.new"
	skopeo inspect --raw "oci:$SRC:v1" >"$S/m.src"
	expect_eq "$(jq_py "$S/m.new" 'd["config"]')" "$(jq_py "$S/m.src" 'd["config"]')" "config"
	expect_eq "$(jq_py "$S/m.new" '[l["mediaType"] for l in d["layers"]]')" \
		"['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']" \
		"layer media types"
	skopeo inspect --config "oci:$S/out:v1" >"$S/c.new"
	skopeo inspect --config "oci:$SRC:v1" >"$S/c.src"
	expect_eq "$(jq_py "$S/c.new" 'd["rootfs"]["diff_ids"]')" \
		"$(jq_py "$S/c.src" 'd["rootfs"]["diff_ids"]')" "DiffIDs"
	local b
	for b in $(jq_py "$S/m.new" '" ".join(l["digest"][7:] for l in d["layers"])'); do
		gzip -t "$S/out/blobs/sha256/$b" || die "layer blob $b is not gzip"
	done
	local S2; S2=$(t_store)
	skopeo --insecure-policy copy -q "oci:$S/out:v1" "containers-storage:[$1@$S2/g+$S2/r]$NAME" \
		>/dev/null
	expect_eq "$(layer_ids "-g $S2/g -R $S2/r -s $1")" "$(layer_ids "$G")" "layer IDs"
}
test_recompressed_vfs() { check_recompressed vfs; }
test_recompressed_overlay() { check_recompressed overlay; }

# check_docker_export DIGEST-FILE: the export of image NAME from store $G to
# $S/out:v1, whose manifest the store has as a Docker schema 2 manifest, is
# an OCI image manifest (compact, Go's key order) with the stored config,
# and skopeo reads and copies it. Sets M (the manifest written).
check_docker_export() {
	"$CSTOR" $G get-image-data -f "$S/stored" $NAME manifest
	expect_eq "$(jq_py "$S/stored" 'd["mediaType"]')" \
		application/vnd.docker.distribution.manifest.v2+json "stored manifest type"
	"$CSTOR" $G export $NAME "oci:$S/out:v1" >"$S/stdout" 2>"$S/stderr"
	expect_eq "$(cat "$S/stderr")" "$(notice)" "notice"
	local d; d=$(cat "$S/stdout")
	local mt=application/vnd.oci.image.manifest.v1+json
	expect_eq "$(index_digest "$S/out" v1)" "$d" "index.json entry"
	expect_eq "$(jq_py "$S/out/index.json" 'd["manifests"][0]["mediaType"]')" "$mt" "index entry type"
	M=$S/out/blobs/sha256/${d#sha256:}
	expect_eq "sha256:$(sha256sum <"$M" | cut -d' ' -f1)" "$d" "manifest blob digest"
	expect_eq "$(jq_py "$M" 'json.dumps(d, separators=(",", ":")) == open(sys.argv[1]).read()')" \
		True "compact manifest"
	expect_eq "$(jq_py "$M" '(list(d.keys()), [list(l.keys()) for l in d["layers"]][0])')" \
		"(['schemaVersion', 'mediaType', 'config', 'layers'], ['mediaType', 'digest', 'size'])" \
		"key order"
	expect_eq "$(jq_py "$M" '(d["schemaVersion"], d["mediaType"], d["config"])')" \
		"$(jq_py "$S/stored" '(2, "'$mt'", {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d["config"]["digest"], "size": d["config"]["size"]})')" \
		"manifest head"
	expect_eq "$(jq_py "$M" 'len(d["layers"])')" "$(jq_py "$S/stored" 'len(d["layers"])')" \
		"layer count"
	local l
	for l in $(jq_py "$M" '" ".join(l["digest"][7:] + ":" + str(l["size"]) for l in d["layers"])'); do
		expect_eq "$(sha256sum <"$S/out/blobs/sha256/${l%:*}" | cut -d' ' -f1):$(stat -c %s "$S/out/blobs/sha256/${l%:*}")" \
			"$l" "layer blob"
	done
	expect_eq "$(skopeo inspect "oci:$S/out:v1" | jq_py /dev/stdin 'd["Digest"]')" "$d" \
		"skopeo inspect"
	skopeo inspect --config "oci:$S/out:v1" >"$S/c.new"
	local cfg; cfg=$(jq_py "$S/stored" 'd["config"]["digest"]')
	"$CSTOR" $G get-image-data -f "$S/c.stored" $NAME "$cfg"
	expect_eq "$(jq_py "$S/c.new" 'd')" "$(jq_py "$S/c.stored" 'd')" "skopeo inspect --config"
	cmp "$S/c.stored" "$S/out/blobs/sha256/${cfg#sha256:}" || die "config blob differs"
	skopeo --insecure-policy copy -q "oci:$S/out:v1" "oci:$S/out2:x"
	cmp "$S/c.stored" "$S/out2/blobs/sha256/${cfg#sha256:}" || die "config blob differs after skopeo copy"
}

# A Docker schema 2 manifest (skopeo storing an image as v2s2) is exported
# converted to OCI; the layers, recompressed, are gzip.
test_docker_schema2() {
	store vfs gz --format v2s2
	check_docker_export
	expect_eq "$(jq_py "$M" '" ".join(sorted(set(l["mediaType"] for l in d["layers"])))')" \
		application/vnd.oci.image.layer.v1.tar+gzip "layer media types"
}

# A docker-archive made by skopeo from the gzip test image: $T_TMP/da.tar.
docker_archive() {
	have_skopeo
	if [ ! -f "$T_TMP/da.tar" ]; then
		skopeo --insecure-policy copy -q "oci:$(image gz):v1" \
			"docker-archive:$T_TMP/da.tar:$NAME" >/dev/null
	fi
}

# A docker-archive imported by cstor stores uncompressed blobs under
# Docker's gzip media type: the export has uncompressed OCI layers whose
# digests are the DiffIDs, and importing it back gives the same layers and
# image.
test_docker_archive() {
	docker_archive
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	local id; id=$("$CSTOR" $G import -q "docker-archive:$T_TMP/da.tar")
	check_docker_export
	expect_eq "$(jq_py "$M" '" ".join(sorted(set(l["mediaType"] for l in d["layers"])))')" \
		application/vnd.oci.image.layer.v1.tar "layer media types"
	expect_eq "$(jq_py "$M" '[l["digest"] for l in d["layers"]]')" \
		"$(jq_py "$S/c.stored" 'd["rootfs"]["diff_ids"]')" "layer digests are DiffIDs"
	local S2; S2=$(t_store)
	local G2="-g $S2/g -R $S2/r -s vfs"
	expect_eq "$("$CSTOR" $G2 import -q "oci:$S/out:v1")" "$id" "image ID after re-import"
	expect_eq "$(layer_ids "$G2")" "$(layer_ids "$G")" "layer IDs after re-import"
}

# An image skopeo stored from a docker-archive: exported, skopeo reads it.
test_docker_archive_skopeo() {
	docker_archive
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	skopeo --insecure-policy copy -q "docker-archive:$T_TMP/da.tar" \
		"containers-storage:[vfs@$S/g+$S/r]$NAME" >/dev/null
	check_docker_export
}

# Original blobs kept as layer big data (what cstor's import does) are
# exported as they are: the original manifest digest, identical blobs. A
# kept blob that does not match its digest fails the export.
test_kept_blobs() {
	t_unchecked "kept blobs damaged on purpose"
	store vfs gz
	local ids id cd
	ids=$("$CSTOR" $G layers --json | jq_py /dev/stdin \
		'" ".join(l["id"] + "=" + l["compressed-diff-digest"] for l in d)')
	for id in $ids; do
		cd=${id#*=}
		"$CSTOR" $G set-layer-data -f "$SRC/blobs/sha256/${cd#sha256:}" "${id%%=*}" "cstor.blob-$cd"
	done
	"$CSTOR" $G export $NAME "oci:$S/out:v1" >"$S/stdout" 2>"$S/stderr"
	expect_eq "$(cat "$S/stdout")" "$(index_digest "$SRC" v1)" "manifest digest"
	[ ! -s "$S/stderr" ] || die "stderr: $(cat "$S/stderr")"
	same_blobs "$SRC" "$S/out"
	skopeo inspect "oci:$S/out:v1" >/dev/null
	# A corrupted kept blob: refused, nothing written.
	id=${ids%% *}
	cd=${id#*=}
	head -c 1000 "$SRC/blobs/sha256/${cd#sha256:}" >"$S/short"
	"$CSTOR" $G set-layer-data -f "$S/short" "${id%%=*}" "cstor.blob-$cd"
	local rc=0
	"$CSTOR" $G export $NAME "oci:$S/bad:v1" >"$S/stdout" 2>"$S/stderr" || rc=$?
	expect_eq "$rc" 1 "export with a corrupt kept blob"
	grep -q "kept blob $cd of layer ${id%%=*}: content has digest" "$S/stderr" ||
		die "message: $(cat "$S/stderr")"
	[ ! -e "$S/bad" ] || die "output left: $(find "$S/bad")"
	mkdir "$S/arch"
	rc=0
	"$CSTOR" $G export $NAME "oci-archive:$S/arch/bad.tar:v1" 2>/dev/null || rc=$?
	expect_eq "$rc:$(ls -A "$S/arch")" "1:" "oci-archive with a corrupt kept blob"
}

# oci-archive: a tarball of the same layout, which skopeo reads; replaced
# whole by a second export; no temporary files left.
test_oci_archive() {
	store vfs un
	mkdir "$S/a"
	"$CSTOR" $G export $NAME "oci-archive:$S/a/img.tar:v1" >"$S/stdout"
	expect_eq "$(cat "$S/stdout")" "$(index_digest "$SRC" v1)" "manifest digest"
	expect_eq "$(skopeo inspect "oci-archive:$S/a/img.tar:v1" | jq_py /dev/stdin 'd["Digest"]')" \
		"$(index_digest "$SRC" v1)" "skopeo inspect"
	expect_eq "$(tar -tf "$S/a/img.tar" | head -4 | tr '\n' ' ')" \
		"oci-layout index.json blobs/ blobs/sha256/ " "first members"
	"$CSTOR" $G export $NAME "oci:$S/layout:v1" >/dev/null
	mkdir "$S/x"
	tar -xf "$S/a/img.tar" -C "$S/x"
	diff -r "$S/x" "$S/layout" || die "archive differs from the layout export"
	"$CSTOR" $G export -q $NAME "oci-archive:$S/a/img.tar:v2" >/dev/null
	expect_eq "$(ls -A "$S/a")" img.tar "files next to the archive"
	skopeo inspect "oci-archive:$S/a/img.tar:v2" >/dev/null
	if skopeo inspect "oci-archive:$S/a/img.tar:v1" >/dev/null 2>&1; then
		die "the archive was added to, not replaced"
	fi
	local rc=0
	"$CSTOR" $G export $NAME "oci-archive:$S/nodir/img.tar" 2>"$S/stderr" || rc=$?
	expect_eq "$rc" 1 "archive in a missing directory"
	grep -q "nodir" "$S/stderr" || die "message: $(cat "$S/stderr")"
}

# Exports into one layout under several refs keep each other's entries; an
# export without a ref adds an entry without a name.
test_refs() {
	store vfs un
	local L=$S/out d
	d=$(index_digest "$SRC" v1)
	"$CSTOR" $G export $NAME "oci:$L:v1" >/dev/null
	"$CSTOR" $G export $NAME "oci:$L:example.com/bb:v2" >/dev/null
	"$CSTOR" $G export $NAME "oci:$L" >/dev/null
	"$CSTOR" $G export $NAME "oci:$L" >/dev/null
	"$CSTOR" $G export $NAME "oci:$L:v1" >/dev/null
	expect_eq "$(jq_py "$L/index.json" '[m.get("annotations") for m in d["manifests"]]')" \
		"[{'org.opencontainers.image.ref.name': 'v1'}, {'org.opencontainers.image.ref.name': 'example.com/bb:v2'}, None]" \
		"index.json entries"
	for r in v1 example.com/bb:v2; do
		expect_eq "$(skopeo inspect "oci:$L:$r" | jq_py /dev/stdin 'd["Digest"]')" "$d" "ref $r"
	done
	# A layout made by another tool keeps its entries too.
	skopeo --insecure-policy copy -q "oci:$SRC:v1" "oci:$S/sk:other"
	"$CSTOR" $G export $NAME "oci:$S/sk:mine" >/dev/null
	skopeo inspect "oci:$S/sk:other" >/dev/null
	skopeo inspect "oci:$S/sk:mine" >/dev/null
}

# run OUT ERR CMD...: cstor with the store flags; sets RC.
run() {
	local out=$1 err=$2; shift 2
	RC=0
	"$CSTOR" $G "$@" >"$out" 2>"$err" || RC=$?
}

test_errors() {
	store vfs un
	run "$S/o" "$S/e" export nosuch "oci:$S/out:v1"
	expect_eq "$RC:$(cat "$S/e")" "1:cstor: export: image not known: nosuch" "unknown image"
	[ ! -e "$S/out" ] || die "output for an unknown image"
	run "$S/o" "$S/e" export $NAME "$S/out"
	expect_eq "$RC:$(cat "$S/e")" "1:cstor: export: export destination \"$S/out\" has no transport: use oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME] or dir:DIR" "bare path"
	run "$S/o" "$S/e" export $NAME docker-daemon:busybox:latest
	expect_eq "$RC" 1 "other transport"
	grep -q 'transport "docker-daemon" is not supported' "$S/e" || die "message: $(cat "$S/e")"
	run "$S/o" "$S/e" export $NAME "oci:$S/out:bad ref"
	expect_eq "$RC" 1 "invalid ref"
	grep -q 'invalid reference name "bad ref"' "$S/e" || die "message: $(cat "$S/e")"
	run "$S/o" "$S/e" export $NAME
	expect_eq "$RC" 1 "one argument"
	[ ! -e "$S/out" ] || die "output after refusals"

	# An image whose config is missing: nothing added to an existing
	# layout, no new layout made.
	"$CSTOR" $G export -q $NAME "oci:$S/out:v1" >/dev/null
	cp "$S/out/index.json" "$S/index.before"
	ls "$S/out/blobs/sha256" >"$S/blobs.before"
	local top mf
	top=$("$CSTOR" $G image -j $NAME | jq_py /dev/stdin 'd[0]["layer"]')
	mf=$SRC/blobs/sha256/$(index_digest "$SRC" v1 | cut -d: -f2)
	"$CSTOR" $G create-image -n noconfig "$top" >/dev/null
	"$CSTOR" $G set-image-data -f "$mf" noconfig manifest
	run "$S/o" "$S/e" export noconfig "oci:$S/out:broken"
	expect_eq "$RC" 1 "missing config"
	grep -q "the config sha256:[0-9a-f]* of image [0-9a-f]* is not stored" "$S/e" ||
		die "message: $(cat "$S/e")"
	cmp "$S/index.before" "$S/out/index.json" || die "index.json changed"
	expect_eq "$(ls "$S/out/blobs/sha256")" "$(cat "$S/blobs.before")" "blobs"
	run "$S/o" "$S/e" export noconfig "oci:$S/fresh:broken"
	[ ! -e "$S/fresh" ] || die "layout made for a broken image"
	run "$S/o" "$S/e" export noconfig "oci-archive:$S/broken.tar"
	expect_eq "$RC:$(ls -A "$S" | grep -c broken)" "1:0" "archive of a broken image"

	# Layers that do not match the manifest's count.
	local base cfg
	base=$("$CSTOR" $G layers --json | jq_py /dev/stdin '[l["id"] for l in d if "parent" not in l][0]')
	cfg=$(jq_py "$mf" 'd["config"]["digest"]')
	"$CSTOR" $G create-image -n short "$base" >/dev/null
	"$CSTOR" $G set-image-data -f "$mf" short manifest
	"$CSTOR" $G set-image-data -f "$SRC/blobs/sha256/${cfg#sha256:}" short "$cfg"
	run "$S/o" "$S/e" export short "oci:$S/out:short"
	expect_eq "$RC" 1 "layer count mismatch"
	grep -q "has 1 layers, but its manifest lists 2" "$S/e" || die "message: $(cat "$S/e")"

	# A manifest list is not exported.
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}' >"$S/list"
	"$CSTOR" $G create-image -n list "$top" >/dev/null
	"$CSTOR" $G set-image-data -f "$S/list" list manifest
	run "$S/o" "$S/e" export list "oci:$S/out:list"
	expect_eq "$RC" 1 "manifest list"
	grep -q "is a manifest list" "$S/e" || die "message: $(cat "$S/e")"
	cmp "$S/index.before" "$S/out/index.json" || die "index.json changed"
	expect_eq "$(ls -A "$S/out/blobs/sha256")" "$(cat "$S/blobs.before")" "blobs, no temporary files"
}

t_begin
t_run test_uncompressed_vfs
t_run test_uncompressed_overlay
t_run test_recompressed_vfs
t_run test_recompressed_overlay
t_run test_docker_schema2
t_run test_docker_archive
t_run test_docker_archive_skopeo
t_run test_kept_blobs
t_run test_oci_archive
t_run test_refs
t_run test_errors
t_end
