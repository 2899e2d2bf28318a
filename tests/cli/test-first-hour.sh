#!/bin/bash
# What a new user runs into: flags after arguments, messages that say what
# happened once, `unmount` of what is not mounted, and read-only commands on
# a store that does not exist (an error, nothing created).
. "$(dirname "$0")/../lib.sh"

TOP=${CSTOR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}

busybox_layout() {
	local dir=$T_TMP/img
	if [ ! -f "$dir/index.json" ]; then
		[ -x /bin/busybox ] || skip "busybox-static not installed"
		"$TOP/scripts/mkimage-busybox" "$dir" v1 >/dev/null
	fi
	echo "$dir"
}

test_flags_after_arguments() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local img; img=$(busybox_layout)
	# import SRC --name X (mflag alone stops at SRC).
	"$CSTOR" $G import "oci:$img:v1" --name first -q >/dev/null || die "import SRC --name X"
	"$CSTOR" $G images | grep -q "first:latest" || die "image named by a flag after the argument"
	# The Go syntax keeps working.
	"$CSTOR" $G import -q -n second "oci:$img:v1" >/dev/null || die "Go syntax"
	"$CSTOR" $G images | grep -q "second:latest" || die "Go syntax: no name"
	# Flags between arguments, global flags after them too.
	"$CSTOR" create-layer -s vfs -n l1 -g "$s/g" --run "$s/r" >/dev/null
	expect_eq "$("$CSTOR" exists l1 -g "$s/g" -R "$s/r" -s vfs --json)" \
		'{"l1":true}' "exists ARGS --json"
	# "--" ends the flags: what follows is an argument even with a dash.
	local rc=0
	"$CSTOR" $G exists l1 -- --json >"$s/out" || rc=$?
	expect_eq "$rc:$(cat "$s/out")" "1:l1: true
--json: false" "-- ends flags"
	# An unknown flag after an argument is an error, not an argument.
	rc=0; "$CSTOR" $G exists l1 --bogus >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 125 "unknown flag after an argument"
	grep -q "flag provided but not defined: --bogus" "$s/err" || die "message: $(cat "$s/err")"
	# --help after an argument.
	rc=0; "$CSTOR" $G import "oci:$img:v1" --help >"$s/out" || rc=$?
	expect_eq $rc 125 "import SRC --help"
	grep -q "^Usage: cstor import" "$s/out" || die "import SRC --help prints help"
	# with-mount: what follows the layer is the command's, flags included.
	expect_eq "$("$CSTOR" $G with-mount l1 echo -r --json)" "-r --json" "with-mount passes flags on"
}

test_no_doubled_prefix() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	"$CSTOR" $G status >/dev/null
	local c
	for c in changes diff diffsize layer image container metadata get-names \
		list-layer-data layer-parent-owners delete-layer applydiff set-metadata; do
		"$CSTOR" $G $c c1 </dev/null >/dev/null 2>"$s/err" || true
		if grep -E "(^|: )([a-z-]+): \2:" "$s/err"; then
			die "$c: doubled prefix"
		fi
	done
	"$CSTOR" $G changes c1 2>"$s/err" || true
	expect_eq "$(cat "$s/err")" "cstor: changes: layer not known: c1" "changes message"
}

test_unmount_not_mounted() {
	command -v script >/dev/null || t_skip "no script(1) to give cstor a terminal" || return
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	"$CSTOR" $G create-layer -n l1 >/dev/null
	local rc=0
	# As containers-storage for scripts: success, its line, nothing else.
	"$CSTOR" $G unmount l1 >"$s/out" 2>"$s/err" || rc=$?
	expect_eq "$rc:$(cat "$s/out"):$(cat "$s/err")" "0:l1 mountpoint unmounted:" "unmount, not a terminal"
	# A person at a terminal is told (script(1) gives cstor a pty).
	script -qec "$CSTOR $G unmount l1" /dev/null >"$s/tty" </dev/null || die "unmount on a tty"
	grep -q "cstor: unmount: l1 was not mounted" "$s/tty" || die "no note: $(cat "$s/tty")"
	"$CSTOR" $G mount l1 >/dev/null
	script -qec "$CSTOR $G unmount l1" /dev/null >"$s/tty" </dev/null
	grep -q "was not mounted" "$s/tty" && die "note for a mounted layer: $(cat "$s/tty")"
	grep -q "l1 mountpoint unmounted" "$s/tty" || die "unmount of a mounted layer: $(cat "$s/tty")"
}

test_read_only_commands_on_a_missing_store() {
	local s; s=$(t_store)
	local c rc
	for c in layers images containers "exists x" "image x" "layer x" "container x" \
		"mounted x" "get-names x" "metadata x" "diff x" "changes x"; do
		for drv in vfs overlay; do
			rc=0
			"$CSTOR" -g "$s/typo" -R "$s/typo-run" -s $drv $c >/dev/null 2>"$s/err" || rc=$?
			expect_eq $rc 1 "$c on a missing store ($drv)"
			grep -q "store $s/typo does not exist" "$s/err" ||
				die "$c: message: $(cat "$s/err")"
			[ ! -e "$s/typo" ] || die "$c created the store"
			[ ! -e "$s/typo-run" ] || die "$c created the run root"
			expect_eq "$(mounts_under "$s")" 0 "$c mounted something"
		done
	done
	# Without a driver given either (detection must not create it).
	rc=0; "$CSTOR" -g "$s/typo" -R "$s/typo-run" images >/dev/null 2>&1 || rc=$?
	expect_eq "$rc:$(ls "$s" | grep -v err)" "1:g
r" "images without -s"
	# A command that writes creates the store, as before.
	"$CSTOR" -g "$s/new" -R "$s/new-run" -s vfs create-layer >/dev/null || die "create-layer"
	"$CSTOR" -g "$s/new" -R "$s/new-run" -s vfs layers | grep -q . || die "layers of the new store"
	# A store whose run root is gone (a reboot) is read as before.
	rm -rf "${s:?}/new-run"
	"$CSTOR" -g "$s/new" -R "$s/new-run" -s vfs layers | grep -q . || die "layers after a reboot"
}

test_image_found_by_every_spelling() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local img; img=$(busybox_layout)
	local id dig n
	id=$("$CSTOR" $G import -q "oci:$img:v1" -n busybox)
	expect_eq "$("$CSTOR" $G get-names "$id")" "docker.io/library/busybox:latest" "stored name"
	dig=$("$CSTOR" $G image --json busybox | jq -r '.[0].digest')
	[[ $dig == sha256:* ]] || die "no digest: $dig"
	for n in busybox busybox:latest docker.io/library/busybox docker.io/library/busybox:latest \
		library/busybox "busybox@$dig" "docker.io/library/busybox@$dig" "@$dig" "$dig"; do
		expect_eq "$("$CSTOR" $G image "$n" | sed -n 's/^ID: //p')" "$id" "image $n"
		"$CSTOR" $G exists -q -i "$n" || die "exists $n"
	done
	# Wrong tag, registry or repository: not this image.
	local rc
	for n in busybox:1 quay.io/busybox "quay.io/busybox@$dig" busybox2; do
		rc=0; "$CSTOR" $G image "$n" >/dev/null 2>"$s/err" || rc=$?
		expect_eq "$rc" 1 "image $n"
		grep -q "image not known: $n" "$s/err" || die "$n: $(cat "$s/err")"
	done
	# The commands that take an image: all go through the library's lookup.
	local c; c=$("$CSTOR" $G create-container -n web busybox:latest) || die "create-container"
	expect_eq "$("$CSTOR" $G container web | sed -n 's/^Image: //p')" "$id" "container's image"
	"$CSTOR" $G get-image-data busybox manifest >/dev/null || die "get-image-data busybox"
	"$CSTOR" $G delete-container web >/dev/null
	"$CSTOR" $G delete-image docker.io/library/busybox >/dev/null || die "delete-image by a long spelling"
	rc=0; "$CSTOR" $G exists -q "$id" || rc=$?
	expect_eq $rc 1 "image deleted"
}

test_ambiguous_short_name() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	"$CSTOR" $G create-layer -n l1 >/dev/null
	"$CSTOR" $G create-layer -n l2 >/dev/null
	local a b
	a=$("$CSTOR" $G create-image -n quay.io/a/tool:latest l1 | head -n1)
	b=$("$CSTOR" $G create-image -n registry.example/b/tool l2 | head -n1)
	local rc=0
	"$CSTOR" $G image tool >/dev/null 2>"$s/err" || rc=$?
	expect_eq "$rc:$(cat "$s/err")" \
		'1:cstor: image: image name "tool" is ambiguous: it may be quay.io/a/tool:latest, registry.example/b/tool' \
		"ambiguous short name"
	for c in "create-container tool" "delete-image tool"; do
		rc=0; "$CSTOR" $G $c >/dev/null 2>"$s/err" || rc=$?
		expect_eq $rc 1 "$c"
		grep -q "ambiguous: it may be quay.io/a/tool:latest, registry.example/b/tool" "$s/err" ||
			die "$c: $(cat "$s/err")"
	done
	expect_eq "$("$CSTOR" $G images | grep -c '^[0-9a-f]')" 2 "nothing deleted"
	# A fuller spelling picks one.
	expect_eq "$("$CSTOR" $G image quay.io/a/tool | sed -n 's/^ID: //p')" "$a" "quay.io/a/tool"
	expect_eq "$("$CSTOR" $G image tool:latest | sed -n 's/^ID: //p')" "$a" "the tagged one"
	expect_eq "$("$CSTOR" $G image registry.example/b/tool | sed -n 's/^ID: //p')" "$b" "the other"
}

# An oci-archive (or layout) imported without --name is named by its
# index entry's org.opencontainers.image.ref.name, as `podman load` names
# it (skopeo copy cannot: it needs a destination name); none, no name.
test_archive_annotation_names_the_image() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local img; img=$(busybox_layout)
	local podman_ok=; command -v podman >/dev/null && podman_ok=1
	local ann want n=0
	while IFS='|' read -r ann want; do
		n=$((n + 1))
		local lay=$s/lay$n
		cp -a "$img" "$lay"
		if [ "$ann" = "-" ]; then
			jq -c '.manifests[0] |= del(.annotations)' "$img/index.json" >"$lay/index.json"
		else
			jq -c --arg a "$ann" '.manifests[0].annotations["org.opencontainers.image.ref.name"] = $a' \
				"$img/index.json" >"$lay/index.json"
		fi
		tar -C "$lay" -cf "$s/a$n.tar" .
		local st=$s/st$n
		"$CSTOR" -g "$st/g" -R "$st/r" -s vfs import -q "oci-archive:$s/a$n.tar" >/dev/null ||
			die "import of an archive annotated $ann"
		expect_eq "$("$CSTOR" -g "$st/g" -R "$st/r" -s vfs images --json | jq -r '.[0].names // [] | join(",")')" \
			"$want" "name from the annotation $ann"
		# The layout the same way.
		"$CSTOR" -g "$st/g" -R "$st/r" -s vfs delete-image "$("$CSTOR" -g "$st/g" -R "$st/r" -s vfs images --json | jq -r '.[0].id')" >/dev/null
		"$CSTOR" -g "$st/g" -R "$st/r" -s vfs import -q "oci:$lay" >/dev/null || die "import oci:$lay"
		expect_eq "$("$CSTOR" -g "$st/g" -R "$st/r" -s vfs images --json | jq -r '.[0].names // [] | join(",")')" \
			"$want" "layout: name from the annotation $ann"
		"$CSTOR" -g "$st/g" -R "$st/r" -s vfs wipe >/dev/null
		[ -n "$podman_ok" ] || continue
		# podman load, on its own store, names it the same.
		local p=$s/p$n
		podman --root "$p/g" --runroot "$p/r" --storage-driver vfs load -q -i "$s/a$n.tar" >/dev/null 2>&1 ||
			die "podman load of the archive annotated $ann"
		expect_eq "$(podman --root "$p/g" --runroot "$p/r" --storage-driver vfs images --format json |
			jq -r '.[0].Names // [] | join(",")')" "$want" "podman's name for $ann"
		podman --root "$p/g" --runroot "$p/r" --storage-driver vfs system reset -f >/dev/null 2>&1 || true
		rm -rf "$p"
	done <<'EOF2'
latest|localhost/latest:latest
v1.0|localhost/v1.0:latest
foo/bar:v1|localhost/foo/bar:v1
quay.io/a/b:v2|quay.io/a/b:v2
localhost/x|localhost/x:latest
registry.example:5000/y:z|registry.example:5000/y:z
-|
EOF2
	# --name wins over the annotation.
	"$CSTOR" $G import -q "oci-archive:$s/a1.tar" -n given >/dev/null
	expect_eq "$("$CSTOR" $G images --json | jq -r '.[0].names | join(",")')" \
		"docker.io/library/given:latest" "--name over the annotation"
	[ -n "$podman_ok" ] || t_skip "podman not installed: names not compared with podman load"
}

# export writes docker-archive: and dir: that skopeo and podman read back:
# same config (image ID), same layers (DiffIDs), same manifest digest (dir:).
test_export_docker_archive_and_dir() {
	command -v skopeo >/dev/null || t_skip "skopeo not installed" || return
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local img; img=$(busybox_layout)
	local id dig
	id=$("$CSTOR" $G import -q "oci:$img:v1" -n busybox)
	local diffids; diffids=$(jq -c .rootfs.diff_ids "$img/blobs/sha256/${id}")
	# dir:
	dig=$("$CSTOR" $G export -q busybox "dir:$s/dir") || die "export dir:"
	expect_eq "$(cat "$s/dir/version")" "Directory Transport Version: 1.1" "dir: version"
	expect_eq "$(skopeo inspect "dir:$s/dir" | jq -r .Digest)" "$dig" "skopeo: dir: manifest digest"
	expect_eq "$(skopeo inspect --raw "dir:$s/dir" | jq -c '[.layers[].digest]')" \
		"$(jq -c '[.layers[].digest]' "$img/blobs/sha256/${dig#sha256:}")" "dir: layers"
	local st=$s/sk
	skopeo copy -q "dir:$s/dir" "containers-storage:[vfs@$st/g+$st/r]localhost/fromdir" >/dev/null ||
		die "skopeo copy dir:"
	expect_eq "$("$CSTOR" -g "$st/g" -R "$st/r" -s vfs image localhost/fromdir | sed -n 's/^ID: //p')" \
		"$id" "image ID through dir:"
	# Again over it: replaced; a directory holding something else: refused.
	"$CSTOR" $G export -q busybox "dir:$s/dir" >/dev/null || die "export over a dir: image"
	mkdir "$s/other"; echo keep >"$s/other/file"
	local rc=0
	"$CSTOR" $G export -q busybox "dir:$s/other" 2>"$s/err" || rc=$?
	expect_eq $rc 1 "export over another directory"
	grep -q "refusing to overwrite" "$s/err" || die "message: $(cat "$s/err")"
	expect_eq "$(ls -A "$s/other")" "file" "the other directory untouched"
	expect_eq "$(ls -A "$s" | grep -c '^\.')" 0 "staging left next to the destination"
	rc=0; "$CSTOR" $G export -q busybox "dir:$s/d2:ref" 2>"$s/err" || rc=$?
	expect_eq $rc 1 "dir: with a ref"
	# docker-archive:, named.
	"$CSTOR" $G export -q busybox "docker-archive:$s/d.tar:busybox" >/dev/null || die "export docker-archive:"
	expect_eq "$(tar -xOf "$s/d.tar" manifest.json | jq -c '.[0].RepoTags')" \
		'["docker.io/library/busybox:latest"]' "RepoTags"
	expect_eq "$(skopeo inspect "docker-archive:$s/d.tar" | jq -c .Layers)" "$diffids" \
		"skopeo: docker-archive layers are the DiffIDs"
	local st2=$s/sk2
	skopeo copy -q "docker-archive:$s/d.tar" "containers-storage:[vfs@$st2/g+$st2/r]localhost/fromdocker" \
		>/dev/null || die "skopeo copy docker-archive:"
	expect_eq "$("$CSTOR" -g "$st2/g" -R "$st2/r" -s vfs image localhost/fromdocker | sed -n 's/^ID: //p')" \
		"$id" "image ID through docker-archive:"
	# cstor reads it back too, named by RepoTags.
	local st3; st3=$(t_store)
	expect_eq "$("$CSTOR" -g "$st3/g" -R "$st3/r" -s vfs import -q "docker-archive:$s/d.tar")" "$id" \
		"cstor import of its docker-archive"
	"$CSTOR" -g "$st3/g" -R "$st3/r" -s vfs image busybox >/dev/null || die "named by RepoTags"
	"$CSTOR" $G export -q busybox "docker-archive:$s/u.tar" >/dev/null || die "unnamed docker-archive"
	expect_eq "$(tar -xOf "$s/u.tar" manifest.json | jq -c '.[0].RepoTags')" '[]' "no RepoTags"
	rc=0; "$CSTOR" $G export -q busybox "docker-archive:$s/x.tar:Bad" 2>"$s/err" || rc=$?
	expect_eq $rc 1 "docker-archive: a bad name"
	if command -v podman >/dev/null; then
		local p=$s/pod
		podman --root "$p/g" --runroot "$p/r" --storage-driver vfs load -q -i "$s/d.tar" >/dev/null 2>&1 ||
			die "podman load of the docker-archive"
		expect_eq "$(podman --root "$p/g" --runroot "$p/r" --storage-driver vfs images --format json |
			jq -r '.[0].Id + " " + (.[0].Names | join(","))')" \
			"$id docker.io/library/busybox:latest" "podman load: ID and name"
		podman --root "$p/g" --runroot "$p/r" --storage-driver vfs system reset -f >/dev/null 2>&1 || true
	fi
	for d in "$st" "$st2"; do
		"$CSTOR" -g "$d/g" -R "$d/r" -s vfs wipe >/dev/null; t_cleanup_dir "$d"
	done
}

# --json on import, export and with-mount: one JSON document on stdout.
test_json_documents() {
	command -v jq >/dev/null || t_skip "jq not installed" || return
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local img; img=$(busybox_layout)
	"$CSTOR" $G import --json "oci:$img:v1" -n busybox >"$s/i1" 2>"$s/e" || die "import --json"
	expect_eq "$(jq -s length "$s/i1")" 1 "one document"
	local id; id=$(jq -r .id "$s/i1")
	expect_eq "$("$CSTOR" $G image busybox | sed -n 's/^ID: //p')" "$id" "import --json: id"
	expect_eq "$(jq -c .names "$s/i1")" '["docker.io/library/busybox:latest"]' "names"
	expect_eq "$(jq -c '[.layers[].digest]' "$s/i1")" \
		"$(jq -c '[.layers[].digest]' "$img/blobs/sha256/$(jq -r '.manifests[0].digest' "$img/index.json" | cut -d: -f2)")" \
		"layer digests, base first"
	expect_eq "$(jq -c '[.layers[].reused] + [.fetched, .reused]' "$s/i1")" '[false,false,2,0]' "fetched"
	expect_eq "$(jq -r '.layers[-1].id' "$s/i1")" \
		"$("$CSTOR" $G image busybox | sed -n 's/^Top Layer: //p')" "top layer ID"
	expect_eq "$(jq -r '.layers[1].size' "$s/i1")" \
		"$(jq -r '.layers[1].size' "$img/blobs/sha256/$(jq -r '.manifests[0].digest' "$img/index.json" | cut -d: -f2)")" "size"
	# Again: every layer reused.
	"$CSTOR" $G import --json "oci:$img:v1" -n again >"$s/i2" || die "import --json again"
	expect_eq "$(jq -c '[.layers[].reused] + [.fetched, .reused]' "$s/i2")" '[true,true,0,2]' "reused"
	expect_eq "$(jq -c .names "$s/i2")" \
		'["docker.io/library/busybox:latest","docker.io/library/again:latest"]' "names added"
	# export
	"$CSTOR" $G export --json busybox "oci:$s/out" >"$s/x" || die "export --json"
	expect_eq "$(jq -s length "$s/x")" 1 "export: one document"
	expect_eq "$(jq -r '[.image, .destination, .manifest_digest, .manifest_rewritten, (.layers | length)] | join(" ")' "$s/x")" \
		"$id oci:$s/out $(jq -r '.manifests[0].digest' "$img/index.json") false 2" "export --json"
	# with-mount: COMMAND's stdout goes to stderr, its status into the document.
	local rc=0
	"$CSTOR" $G with-mount --json busybox -- sh -c 'echo from-command; cat "$CSTOR_MOUNTPOINT/etc/motd" >&2; exit 3' \
		>"$s/w" 2>"$s/we" || rc=$?
	expect_eq $rc 3 "with-mount --json: COMMAND's status"
	expect_eq "$(jq -s length "$s/w")" 1 "with-mount: one document"
	expect_eq "$(jq -r '[.layer, .exit_status] | join(" ")' "$s/w")" \
		"$(jq -r '.layers[-1].id' "$s/i1") 3" "with-mount --json"
	jq -r .mountpoint "$s/w" | grep -q "^$s/g/vfs/dir/" || die "mountpoint: $(cat "$s/w")"
	grep -q from-command "$s/we" || die "COMMAND's stdout not on stderr"
	expect_eq "$(mounts_under "$s/g")" 0 "released"
	# Errors: nothing on stdout.
	rc=0; "$CSTOR" $G import --json "oci:$s/nonexistent" >"$s/o" 2>/dev/null || rc=$?
	expect_eq "$rc:$(cat "$s/o")" "1:" "import --json of nothing"
}

# A layout of two layers, the second a big uncompressed one (random bytes:
# an import of it takes a while), for interrupting.
slow_layout() {
	local dir=$1 mb=$2
	local img; img=$(busybox_layout)
	local w=$dir.work
	mkdir -p "$w" "$dir/blobs/sha256"
	head -c "${mb}M" /dev/urandom >"$w/big"
	tar -C "$w" -cf "$w/layer.tar" big
	local bd; bd=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
	mv "$w/layer.tar" "$dir/blobs/sha256/$bd"
	local md; md=$(jq -r '.manifests[0].digest' "$img/index.json" | cut -d: -f2)
	local man=$img/blobs/sha256/$md
	local base; base=$(jq -r '.layers[0].digest' "$man" | cut -d: -f2)
	cp "$img/blobs/sha256/$base" "$dir/blobs/sha256/"
	local cd; cd=$(jq -r '.config.digest' "$man" | cut -d: -f2)
	jq -c --arg d "sha256:$bd" '.rootfs.diff_ids = [.rootfs.diff_ids[0], $d]' "$img/blobs/sha256/$cd" >"$w/config"
	local cfg; cfg=$(sha256sum "$w/config" | cut -d' ' -f1)
	mv "$w/config" "$dir/blobs/sha256/$cfg"
	jq -c --arg c "sha256:$cfg" --arg d "sha256:$bd" --argjson cs "$(stat -c %s "$dir/blobs/sha256/$cfg")" \
		--argjson s "$(stat -c %s "$dir/blobs/sha256/$bd")" \
		'.config.digest = $c | .config.size = $cs | .layers = [.layers[0], {mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $d, size: $s}]' \
		"$man" >"$w/man"
	local m; m=$(sha256sum "$w/man" | cut -d' ' -f1)
	mv "$w/man" "$dir/blobs/sha256/$m"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -nc --arg d "sha256:$m" --argjson s "$(stat -c %s "$dir/blobs/sha256/$m")" \
		'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s}]}' \
		>"$dir/index.json"
	rm -rf "$w"
}

# Progress on a terminal: each layer's own bytes and size, "already
# stored" without a rate, a summary line; Ctrl-C ends the line, says what
# was interrupted and kept, exits 130, and leaves a store that only needs
# `cstor gc`.
test_progress_and_interrupt() {
	command -v script >/dev/null || t_skip "no script(1) to give cstor a terminal" || return
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local img; img=$(busybox_layout)
	script -qec "$CSTOR $G import oci:$img:v1 -n busybox" /dev/null </dev/null >"$s/tty1" ||
		die "import on a tty"
	tr '\r' '\n' <"$s/tty1" | sed 's/\x1b\[K//g' >"$s/p1"
	grep -Eq "^Importing layer 1/2 sha256:[0-9a-f]{12}  [0-9.]+ (B|KiB) / 1007.8 KiB  \(all: .* / 1008.0 KiB\)  [0-9.]+ (B|KiB|MiB)/s$" "$s/p1" ||
		die "no line with the layer's own bytes and size: $(cat "$s/p1")"
	grep -Eq "^Imported 2 layers in [0-9.]+ s: 2 fetched \(1008.0 KiB\), 0 already stored \(0 B\)$" "$s/p1" ||
		die "no summary: $(cat "$s/p1")"
	script -qec "$CSTOR $G import oci:$img:v1 -n again" /dev/null </dev/null >"$s/tty2" || die "again"
	tr '\r' '\n' <"$s/tty2" | sed 's/\x1b\[K//g' >"$s/p2"
	grep -Eq "^Importing layer 1/2 sha256:[0-9a-f]{12}  1007.8 KiB  already stored$" "$s/p2" ||
		die "already stored: $(cat "$s/p2")"
	grep "already stored" "$s/p2" | grep -q "/s" && die "a rate for a stored layer: $(cat "$s/p2")"
	grep -Eq "^Imported 2 layers in [0-9.]+ s: 0 fetched \(0 B\), 2 already stored \(1008.0 KiB\)$" "$s/p2" ||
		die "summary when reused: $(cat "$s/p2")"
	# Not a terminal, or -q: nothing on stderr.
	"$CSTOR" $G import "oci:$img:v1" -n third >/dev/null 2>"$s/e"
	expect_eq "$(cat "$s/e")" "" "progress when stderr is no terminal"
	script -qec "$CSTOR $G import -q oci:$img:v1 -n fourth" /dev/null </dev/null >"$s/tty3"
	expect_eq "$(grep -c Import "$s/tty3")" 0 "progress with -q"

	# Ctrl-C (the terminal's ^C, through script's input) in layer 2/2.
	local s2; s2=$(t_store)
	local G2="-g $s2/g -R $s2/r -s vfs"
	slow_layout "$s2/slow" 400
	local rc=0
	{
		for _ in $(seq 600); do
			grep -q "layer 2/2" "$s2/tty" 2>/dev/null && break
			sleep 0.05
		done
		printf '\003'
		sleep 3
	} | script -qec "$CSTOR $G2 import oci:$s2/slow -n slow" /dev/null >"$s2/tty" || rc=$?
	tr '\r' '\n' <"$s2/tty" | sed 's/\x1b\[K//g' >"$s2/p"
	expect_eq $rc 130 "exit status after Ctrl-C"
	# (^...$ below: the progress line was ended, the message has a line
	# of its own.)
	grep -q "layer 2/2" "$s2/p" || t_skip "the import ended before it could be interrupted" || return
	grep -Eq "^cstor: import of oci:$s2/slow interrupted in layer 2/2 \(sha256:[0-9a-f]{12}\): no image was made; kept: 1 layer it stored and 0 already there \(importing again reuses them; \`cstor gc\` removes unused ones\); the partial layer is removed by the next import or \`cstor gc\`$" "$s2/p" ||
		die "what was interrupted and kept: $(cat "$s2/p")"
	# The store: check finds only what gc removes.
	rc=0; "$CSTOR" $G2 check >"$s2/c" 2>&1 || rc=$?
	if [ $rc != 0 ]; then
		grep -v -E "left by an interrupted import|its import was interrupted|^layer [0-9a-f]+:$|^cstor: check: [0-9]+ problems found|^\s*$" "$s2/c" |
			grep -q . && die "check after Ctrl-C: $(cat "$s2/c")"
	fi
	"$CSTOR" $G2 gc >/dev/null || die "gc"
	"$CSTOR" $G2 check >/dev/null || die "check after gc: $("$CSTOR" $G2 check 2>&1)"
	expect_eq "$("$CSTOR" $G2 images)" "" "no image after Ctrl-C"
}

# -D: each setting and its source, locks taken and waited for (how long),
# mounts made, probes run or found cached; nothing of it without -D.
test_debug() {
	local s; s=$(t_store)
	local img; img=$(busybox_layout)
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\n[storage.options.overlay]\nmountopt = "nodev"\n' \
		"$s/g" >"$s/storage.conf"
	export CONTAINERS_STORAGE_CONF=$s/storage.conf
	STORAGE_DRIVER=vfs "$CSTOR" -D -R "$s/r" import -q "oci:$img:v1" -n busybox >/dev/null 2>"$s/d1" ||
		die "import -D"
	local want
	for want in "config file: $s/storage.conf" \
		"config: graphroot = $s/g (from the config file)" \
		"config: runroot = $s/r (from the caller (cstor: --run))" \
		"config: driver = vfs (from \$STORAGE_DRIVER)" \
		"config: transient_store = false (from the default)" \
		"lock $s/g/vfs-layers/layers.lock: exclusive, taken" \
		"lock $s/g/vfs-images/images.lock: exclusive, taken"; do
		grep -qxF "cstor: debug: $want" "$s/d1" || die "no \"$want\": $(cat "$s/d1")"
	done
	"$CSTOR" -D -R "$s/r" -s vfs --storage-opt vfs.ignore_chown_errors=true layers >/dev/null 2>"$s/d2"
	grep -qxF "cstor: debug: config: option vfs.ignore_chown_errors=true (from the caller (cstor: --storage-opt))" "$s/d2" ||
		die "option's source: $(cat "$s/d2")"
	# A lock held by another process: waited for, and for how long.
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(1.0)' \
		"$s/g/vfs-layers/layers.lock" "$s/held" &
	local holder=$!
	for _ in $(seq 100); do [ -e "$s/held" ] && break; sleep 0.02; done
	"$CSTOR" -D -R "$s/r" -s vfs layers >/dev/null 2>"$s/d3"
	wait $holder
	grep -Eq "^cstor: debug: lock $s/g/vfs-layers/layers.lock: shared, taken after waiting 0\.[3-9][0-9]* s for another process$" "$s/d3" ||
		grep -Eq "^cstor: debug: lock $s/g/vfs-layers/layers.lock: shared, taken after waiting 1\.[0-9]+ s for another process$" "$s/d3" ||
		die "no wait reported: $(cat "$s/d3")"
	# vfs mounts nothing (a layer is its directory): no mount line.
	"$CSTOR" -D -R "$s/r" -s vfs with-mount -r busybox -- true 2>"$s/d4" || die "with-mount -r"
	grep -q "debug: mount " "$s/d4" && die "a vfs mount reported: $(cat "$s/d4")"
	# Without -D: nothing of it.
	"$CSTOR" -R "$s/r" -s vfs with-mount -r busybox -- true 2>"$s/d5"
	expect_eq "$(cat "$s/d5")" "" "stderr without -D"
	unset CONTAINERS_STORAGE_CONF
	# overlay: probes run, then found cached; the mount made.
	grep -qw overlay /proc/filesystems || t_skip "no overlay filesystem: overlay probes and mounts untested" || return
	local o; o=$(t_store)
	local G="-g $o/g -R $o/r -s overlay"
	"$CSTOR" -D $G import -q "oci:$img:v1" -n busybox >/dev/null 2>"$o/d1"
	grep -qxF "cstor: debug: overlay probe overlay: not cached in $o/r/overlay, running it" "$o/d1" ||
		die "probe run: $(cat "$o/d1")"
	grep -qxF "cstor: debug: overlay probe overlay: true" "$o/d1" || die "probe result: $(cat "$o/d1")"
	"$CSTOR" -D $G with-mount busybox -- true 2>"$o/d2"
	grep -qxF "cstor: debug: overlay probe overlay: true, cached in $o/r/overlay/overlay-true" "$o/d2" ||
		die "probe cached: $(cat "$o/d2")"
	grep -Eq "^cstor: debug: mount $o/g/overlay/[0-9a-f]{64}/merged: overlay of layer [0-9a-f]{64} with 1 lower$" "$o/d2" ||
		die "overlay mount: $(cat "$o/d2")"
}

t_run test_flags_after_arguments
t_run test_no_doubled_prefix
t_run test_unmount_not_mounted
t_run test_read_only_commands_on_a_missing_store
t_run test_image_found_by_every_spelling
t_run test_ambiguous_short_name
t_run test_archive_annotation_names_the_image
t_run test_export_docker_archive_and_dir
t_run test_json_documents
t_run test_progress_and_interrupt
t_run test_debug
t_end
