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

t_run test_flags_after_arguments
t_run test_no_doubled_prefix
t_run test_unmount_not_mounted
t_run test_read_only_commands_on_a_missing_store
t_run test_image_found_by_every_spelling
t_run test_ambiguous_short_name
t_run test_archive_annotation_names_the_image
t_run test_export_docker_archive_and_dir
t_end
