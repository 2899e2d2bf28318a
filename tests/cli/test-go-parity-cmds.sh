#!/bin/bash
# Commands and behaviour of the newest containers-storage that cstor has
# (issue #13): copy (differential against the Go CLI, which has it since
# 1.43, and confined to the layer), config, version, unshare, dedup on a
# filesystem with reflinks, layers flagged incomplete by another writer,
# storage.conf keys cstor does not act on, and names moving between
# objects (also onto images of a read-only store).
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"

# run OUT ERR ARGS...: $RUN_C (default: cstor) with ARGS; the exit code in RC.
run() {
	local o=$1 e=$2
	shift 2
	RC=0
	${RUN_C:-$CSTOR} "$@" >"$o" 2>"$e" || RC=$?
}

# A layer's tree, for comparing: path, type, mode, owner, size, symlink
# target, and the mtime of everything but directories (a directory made
# for the copy gets the time of the copy), to the second (Go's copy keeps
# nanoseconds, cstor's archives whole seconds: docs/differences.md).
tree_of() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %U:%G %s %l ' \
		-a \( -type d -printf '\n' -o -printf '%Ts\n' \) | sort &&
		find . -type f -exec sha256sum {} + | sort)
}

# The same copies made by cstor into one layer and by Go into another of
# the same store give the same trees.
test_copy_like_go() {
	have_go_cs || t_skip "no Go containers-storage" || return
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs" GO="$GO_CS -g $s/g -R $s/r -s vfs"
	mkdir -p "$s/src/sub/deeper" "$s/src/empty"
	echo one >"$s/src/a"
	printf 'two\n' >"$s/src/sub/b"
	echo three >"$s/src/sub/deeper/c"
	ln -s ../a "$s/src/sub/rel-link"
	ln -s /etc/passwd "$s/src/sub/abs-link"
	ln "$s/src/sub/b" "$s/src/sub/b-hard"
	mkfifo "$s/src/fifo"
	chown 5:6 "$s/src/a"
	chmod 0640 "$s/src/sub/b"
	touch -d 2001-02-03T04:05:06Z "$s/src/a" "$s/src/sub/b"
	local base from lc lg
	base=$($C create-layer | head -1)
	$C copy "$s/src" "$base:/from" || die "copy into the source layer"
	lc=$($C create-layer | head -1)
	lg=$($C create-layer | head -1)
	local spec
	# Each: the source, the target path in the layer, extra flags.
	while IFS='|' read -r spec; do
		eval "set -- $spec"
		local src=$1 dst=$2 flags=${3:-}
		local csrc=$src gsrc=$src
		case $src in BASE:*) csrc=$base:${src#BASE:}; gsrc=$csrc ;; esac
		# shellcheck disable=SC2086
		$C copy $flags "$csrc" "$lc:$dst" || die "cstor copy $spec"
		# shellcheck disable=SC2086
		$GO copy $flags "$gsrc" "$lg:$dst" || die "Go copy $spec"
	done <<EOF
'$s/src' /dir
'$s/src' /new/deep/dir
'$s/src/a' /file
'$s/src/a' /into/
'$s/src/sub/b' /owned '--chown 100:200'
'$s/src/sub' /owned-dir '--chown 300'
'$s/src/sub/rel-link' /followed
BASE:/from/sub /from-layer
BASE:/from/a /from-layer-file
EOF
	expect_eq "$(tree_of "$s/g/vfs/dir/$lc")" "$(tree_of "$s/g/vfs/dir/$lg")" \
		"the trees cstor and Go copied"
	# Spot checks, so that both being wrong the same way fails too.
	expect_eq "$(stat -c '%u:%g %a %Y' "$s/g/vfs/dir/$lc/file")" "5:6 644 981173106" "file kept its owner and time"
	expect_eq "$(stat -c '%u:%g' "$s/g/vfs/dir/$lc/owned" "$s/g/vfs/dir/$lc/owned-dir/deeper/c")" \
		"100:200
300:300" "--chown"
	# Go joins the target to the mount point, which drops the slash.
	expect_eq "$(cat "$s/g/vfs/dir/$lc/into")" one "a layer target ending in /"
	$C copy "$s/src/a" "$lc:/" || die "copy to the layer's root"
	expect_eq "$(cat "$s/g/vfs/dir/$lc/a")" one "a file copied to the root keeps its name"
	mkdir "$s/host-dir"
	$C copy "$lc:/file" "$s/host-dir/" || die "copy to a host directory"
	expect_eq "$(cat "$s/host-dir/file")" one "a host target ending in / takes the source's name"
	expect_eq "$(readlink "$s/g/vfs/dir/$lc/dir/sub/abs-link")" /etc/passwd "symlinks are copied as they are"
	expect_eq "$(stat -c %i "$s/g/vfs/dir/$lc/dir/sub/b")" "$(stat -c %i "$s/g/vfs/dir/$lc/dir/sub/b-hard")" \
		"hard links stay linked"
	# Nothing stays mounted.
	expect_eq "$(mounts_under "$s")" 0 "mounts left"
}

# Paths inside a layer never lead out of it, whatever its symlinks say;
# layers of a read-only store are read, not written.
test_copy_confined() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local l; l=$($C create-layer | head -1)
	local root=$s/g/vfs/dir/$l
	local RUN_C=$C
	echo data >"$s/file"
	mkdir -p "$s/outside/new" "$root/$s/outside"
	ln -s "$s/outside" "$root/abs"
	ln -s ../../../../../../../../../.. "$root/up"
	ln -s "$s/outside/new" "$root/dangling"
	# The symlinks resolve inside the layer, where $s/outside exists.
	$C copy "$s/file" "$l:/abs/x" || die "copy through an absolute symlink"
	$C copy "$s/file" "$l:/up/$s/outside/y" || die "copy through a climbing symlink"
	$C copy "$s/file" "$l:/../../../$s/outside/z" || die "copy to a climbing path"
	$C copy "$s/src-none" "$l:/x" 2>/dev/null && die "copy of a missing source"
	# $s/outside/new exists on the host only: the symlink dangles.
	run "$s/out" "$s/err" copy "$s/file" "$l:/dangling/w"
	expect_eq "$RC" 1 "copy through a symlink dangling in the layer"
	$C copy "$s/file" "$l:/abs/dir/" || die "copy into a new directory through a symlink"
	expect_eq "$(find "$s/outside" -mindepth 1)" "$s/outside/new" "files written outside the layer"
	[ -f "$root/$s/outside/x" ] && [ -f "$root/$s/outside/y" ] && [ -f "$root/$s/outside/z" ] &&
		[ -f "$root/$s/outside/dir" ] || die "the copies are not inside the layer: $(find "$root" -type f)"
	# Reading: a symlink to a host file reads the layer's file of that name.
	echo secret >"$s/outside/secret"
	ln -s "$s/outside/secret" "$root/leak"
	run "$s/out" "$s/err" copy "$l:/leak" "$s/got"
	expect_eq "$RC" 1 "copy of a symlink to a host file"
	grep -q "No such file" "$s/err" || die "message: $(cat "$s/err")"
	[ ! -e "$s/got" ] || die "a host file was read through the layer"
	# Bad input.
	run "$s/out" "$s/err" copy "$s/file" "nosuchlayer:/x"
	expect_eq "$RC" 1 "copy to an unknown layer"
	grep -q 'error finding layer "nosuchlayer"' "$s/err" || die "message: $(cat "$s/err")"
	run "$s/out" "$s/err" copy --chown x:1 "$s/file" "$l:/x"
	expect_eq "$RC" 1 "copy --chown x:1"
	grep -q "bad UID" "$s/err" || die "message: $(cat "$s/err")"
	run "$s/out" "$s/err" copy "$s/missing" "$l:/x"
	expect_eq "$RC" 1 "copy of a missing file"
	grep -q "missing" "$s/err" || die "message: $(cat "$s/err")"
	# A read-only store's layer: a source, never a target.
	local ro; ro=$(t_store)
	t_unchecked "a store with an additional image store"
	local rl; rl=$($CSTOR -g "$ro/g" -R "$ro/r" -s vfs create-layer | head -1)
	echo ro >"$ro/g/vfs/dir/$rl/rofile"
	local CR="$C --storage-opt vfs.imagestore=$ro/g"
	$CR copy "$rl:/rofile" "$l:/from-ro" || die "copy from a read-only layer"
	expect_eq "$(cat "$root/from-ro")" ro "the copy from the read-only layer"
	RUN_C=$CR run "$s/out" "$s/err" copy "$s/file" "$rl:/x"
	expect_eq "$RC" 1 "copy into a read-only layer"
	[ ! -e "$ro/g/vfs/dir/$rl/x" ] || die "the read-only layer was written"
	expect_eq "$(mounts_under "$s")" 0 "mounts left"
}

test_config() {
	local s; s=$(t_store)
	cat >"$s/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$s/g"
runroot = "$s/r"
imagestore = "$s/i"
driver_priority = ["overlay", "vfs"]
transient_store = true
[storage.options]
additionalimagestores = ["$s/ro"]
pull_options = {enable_partial_images = "true", use_hard_links = "false"}
root-auto-userns-user = "containers"
auto-userns-min-size = 1024
[storage.options.overlay]
mountopt = "nodev"
EOF
	local out; out=$("$CSTOR" config "$s/storage.conf") || die "config FILE"
	expect_eq "$out" "{\"runroot\":\"$s/r\",\"root\":\"$s/g\",\"imagestore\":\"$s/i\",\"RootlessStoragePath\":\"\",\"driver\":\"overlay\",\"driver-priority\":[\"overlay\",\"vfs\"],\"driver-options\":[\"overlay.imagestore=$s/ro\",\"overlay.mountopt=nodev\"],\"root_auto_ns_user\":\"containers\",\"auto_userns_min_size\":1024,\"PullOptions\":{\"enable_partial_images\":\"true\",\"use_hard_links\":\"false\"},\"transient_store\":true}" \
		"config of a file"
	# The default search, and the environment, as Go reads them.
	expect_eq "$(CONTAINERS_STORAGE_CONF=$s/storage.conf STORAGE_DRIVER=vfs "$CSTOR" config | jq -r .driver)" vfs "\$STORAGE_DRIVER"
	expect_eq "$(CONTAINERS_STORAGE_CONF=$s/none "$CSTOR" config)" \
		'{"runroot":"/run/containers/storage","root":"/var/lib/containers/storage","RootlessStoragePath":"","PullOptions":null}' \
		"config without a file"
	run "$s/out" "$s/err" config "$s/storage.conf" extra
	expect_eq "$RC" 1 "config with two arguments"
	echo 'driver = [' >"$s/bad.conf"
	run "$s/out" "$s/err" config "$s/bad.conf"
	expect_eq "$RC" 1 "config of a broken file"
	grep -q "bad.conf" "$s/err" || die "message: $(cat "$s/err")"
}

# Keys and tables of the newest storage.conf that cstor does not act on are
# accepted and named by --debug; staged applies work with partial images
# enabled.
test_conf_keys_not_acted_on() {
	local s; s=$(t_store)
	cat >"$s/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$s/g"
runroot = "$s/r"
driver_priority = ["vfs"]
[storage.options]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}
auto-userns-max-size = 65536
disable-volatile = true
[storage.options.thinpool]
autoextend_percent = "20"
blocksize = "64k"
[storage.options.overlay]
use_composefs = "true"
[storage.options.vfs]
ignore_chown_errors = "false"
something_new = "x"
EOF
	local l
	l=$(CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" --debug create-layer 2>"$s/err" | head -1) ||
		die "create-layer: $(cat "$s/err")"
	local k
	for k in storage.driver_priority storage.options.pull_options storage.options.auto-userns-max-size \
		storage.options.disable-volatile storage.options.thinpool storage.options.overlay \
		storage.options.vfs.something_new; do
		grep -q "config: $s/storage.conf: $k is accepted; cstor does not act on it" "$s/err" ||
			die "--debug does not name $k: $(cat "$s/err")"
	done
	grep -q "ignore_chown_errors is accepted" "$s/err" && die "a key cstor uses is named as not used"
	# Staged applies (overlay only) with partial images enabled.
	if grep -qw overlay /proc/filesystems; then
		# (use_composefs = "true" is refused by cstor's overlay, not ignored.)
		sed -i -e 's/^driver = "vfs"/driver = "overlay"/' -e '/use_composefs/d' "$s/storage.conf"
		local o="$CSTOR -g $s/og -R $s/or"
		printf 'x' >"$s/x"
		tar -C "$s" -cf "$s/x.tar" x
		l=$(CONTAINERS_STORAGE_CONF=$s/storage.conf $o create-layer | head -1)
		CONTAINERS_STORAGE_CONF=$s/storage.conf $o applydiff-using-staging-dir -f "$s/x.tar" "$l" >/dev/null ||
			die "applydiff-using-staging-dir with enable_partial_images"
		[ -f "$s/og/overlay/$l/diff/x" ] || die "the staged apply did not land"
		# The newest Go CLI's form: LAYER DIRECTORY.
		mkdir -p "$s/src/sub"
		head -c 1000 /dev/urandom >"$s/src/sub/f"
		ln -s sub/f "$s/src/link"
		l=$(CONTAINERS_STORAGE_CONF=$s/storage.conf $o create-layer | head -1)
		CONTAINERS_STORAGE_CONF=$s/storage.conf $o applydiff-using-staging-dir "$l" "$s/src" ||
			die "applydiff-using-staging-dir LAYER DIRECTORY"
		cmp "$s/src/sub/f" "$s/og/overlay/$l/diff/sub/f" || die "the directory's file"
		expect_eq "$(readlink "$s/og/overlay/$l/diff/link")" sub/f "the directory's symlink"
		CONTAINERS_STORAGE_CONF=$s/storage.conf $o applydiff-using-staging-dir "$l" "$s/none" 2>/dev/null &&
			die "a missing directory"
		CONTAINERS_STORAGE_CONF=$s/storage.conf $o wipe >/dev/null
		sed -i 's/^driver = "overlay"/driver = "vfs"/' "$s/storage.conf"
	fi
	# Without --debug: nothing said.
	CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" layers >/dev/null 2>"$s/err2"
	expect_eq "$(cat "$s/err2")" "" "stderr without --debug"
}

test_version() {
	expect_eq "$("$CSTOR" version)" "Version: $("$CSTOR" --version | awk '{print $NF}')" "version"
	expect_eq "$("$CSTOR" version -j | jq -r '.[0][0]')" Version "version -j"
	run /dev/null /dev/null version extra
	expect_eq "$RC" 1 "version with an argument"
}

test_unshare() {
	local s; s=$(t_store)
	# As root: the command as it is.
	expect_eq "$("$CSTOR" unshare id -u)" 0 "unshare as root"
	expect_eq "$("$CSTOR" unshare sh -c 'echo $_CONTAINERS_USERNS_CONFIGURED')" "" "no namespace for root"
	SHELL=/bin/echo expect_eq "$(SHELL=/bin/echo "$CSTOR" unshare)" "" "\$SHELL by default"
	run "$s/out" "$s/err" unshare sh -c 'exit 3'
	expect_eq "$RC" 1 "a failing command"
	grep -q "exit status 3" "$s/err" || die "message: $(cat "$s/err")"
	run "$s/out" "$s/err" unshare /nonexistent/cmd
	expect_eq "$RC" 1 "a missing command"
	# Rootless: root of a user namespace mapping the caller.
	command -v setpriv >/dev/null || t_skip "no setpriv" || return
	chmod 755 "$s"
	local out
	if ! out=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -u _CONTAINERS_USERNS_CONFIGURED "$CSTOR" unshare sh -c 'id -u; cat /proc/self/uid_map; echo $_CONTAINERS_ROOTLESS_UID' 2>"$s/err"); then
		grep -q "user namespace" "$s/err" && t_skip "unprivileged user namespaces are disabled" && return
		die "rootless unshare: $(cat "$s/err")"
	fi
	expect_eq "$(echo "$out" | head -1)" 0 "root in the namespace"
	echo "$out" | sed -n 2p | grep -Eq '^ +0 +65534 +1$' || echo "$out" | sed -n 2p | grep -Eq '^ +0 +65534 ' ||
		die "uid_map: $out"
	expect_eq "$(echo "$out" | tail -1)" 65534 "_CONTAINERS_ROOTLESS_UID"
}

# dedup on a filesystem with reflinks: identical files of the images'
# layers share extents, contents stay, every method reports the same.
test_dedup() {
	command -v mkfs.xfs >/dev/null || t_skip "no mkfs.xfs for a filesystem with reflinks" || return
	local s; s=$(t_store)
	truncate -s 320M "$s/img"
	mkfs.xfs -q -m reflink=1 "$s/img" || t_skip "mkfs.xfs cannot make reflink=1" || return
	mkdir "$s/m"
	mount -o loop "$s/img" "$s/m" || t_skip "cannot loop-mount" || return
	local C="$CSTOR -g $s/m/g -R $s/r -s vfs"
	mkdir "$s/t"
	head -c 4000000 /dev/urandom >"$s/t/big"
	echo small >"$s/t/small"
	head -c 100000 /dev/urandom >"$s/t/only-once"
	tar -C "$s/t" -cf "$s/t.tar" big small
	local l1 l2 l3
	l1=$($C create-layer | head -1)
	$C applydiff -f "$s/t.tar" "$l1"
	l2=$($C create-layer | head -1)
	$C applydiff -f "$s/t.tar" "$l2"
	cp "$s/t/only-once" "$s/m/g/vfs/dir/$l2/"
	# A layer no image uses is left alone.
	l3=$($C create-layer | head -1)
	$C applydiff -f "$s/t.tar" "$l3"
	$C create-image "$l1" >/dev/null
	$C create-image "$l2" >/dev/null
	sync
	local before after
	before=$(df -k --output=used "$s/m" | tail -1)
	expect_eq "$($C dedup)" "Deduplicated 4000006 bytes" "dedup"
	sync
	after=$(df -k --output=used "$s/m" | tail -1)
	[ $((before - after)) -ge 3500 ] || die "the filesystem did not get space back: $before KiB before, $after after"
	local m
	for m in size crc sha256; do
		expect_eq "$($C dedup -j --hash-method $m | jq .Deduped)" 4000006 "dedup --hash-method $m"
	done
	local l
	for l in "$l1" "$l2" "$l3"; do
		cmp "$s/t/big" "$s/m/g/vfs/dir/$l/big" || die "layer $l: big changed"
		cmp "$s/t/small" "$s/m/g/vfs/dir/$l/small" || die "layer $l: small changed"
	done
	run "$s/out" "$s/err" dedup --hash-method md5
	expect_eq "$RC" 1 "an unknown method"
	grep -q "invalid hash method: md5" "$s/err" || die "message: $(cat "$s/err")"
	$C wipe >/dev/null
	umount "$s/m"
}

# Without reflinks (tmpfs), dedup says 0, as Go.
test_dedup_without_reflinks() {
	local s; s=$(t_store)
	mkdir "$s/m"
	mount -t tmpfs tmpfs "$s/m" || t_skip "cannot mount tmpfs" || return
	local C="$CSTOR -g $s/m/g -R $s/r -s vfs"
	echo same >"$s/f"
	tar -C "$s" -cf "$s/f.tar" f
	local l1 l2
	l1=$($C create-layer | head -1)
	$C applydiff -f "$s/f.tar" "$l1"
	l2=$($C create-layer | head -1)
	$C applydiff -f "$s/f.tar" "$l2"
	$C create-image "$l1" >/dev/null
	$C create-image "$l2" >/dev/null
	expect_eq "$($C dedup)" "Deduplicated 0 bytes" "dedup on tmpfs"
	$C wipe >/dev/null
	umount "$s/m"
}

# A layer another writer left flagged "incomplete" (as Go leaves one when it
# dies between creating and applying) is removed by the next command that
# opens the store, a reader too, as containers/storage's readers take the
# store for writing to remove it; not in a read-only store. cstor's own
# interrupted-apply mark is another state that stays until an apply or
# delete.
test_incomplete_layer_removed() {
	local s; s=$(t_store)
	t_unchecked "layers flagged incomplete on purpose"
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local keep dead applying
	keep=$($C create-layer -n keep | head -1)
	dead=$($C create-layer -n dead | head -1)
	applying=$($C create-layer | head -1)
	python3 - "$s/g/vfs-layers/layers.json" "$dead" "$applying" <<'PY'
import json, sys
p, dead, applying = sys.argv[1:]
d = json.load(open(p))
for l in d:
    if l["id"] == dead:
        l["flags"] = {"incomplete": True}
    if l["id"] == applying:
        l["flags"] = {"cstor.apply-incomplete": True}
json.dump(d, open(p, "w"))
PY
	# Seen through a read-only view, it stays (and the note says why).
	local ROV="$CSTOR -g $s/p -R $s/pr -s vfs --storage-opt vfs.imagestore=$s/g"
	$ROV layers | grep -q "incomplete: a create or delete was interrupted" || die "layers: $($ROV layers)"
	$ROV layers -q | grep -qx "$dead" || die "a reader of a read-only store removed the layer"
	# The next command on the store removes it, files and name, as Go's
	# `layers` does (its cleanup-layer test).
	expect_eq "$($C layers -q | grep -c "$dead")" 0 "the incomplete layer listed by layers"
	$C layers -q | grep -qx "$dead" && die "the incomplete layer is still listed"
	[ ! -e "$s/g/vfs/dir/$dead" ] || die "its directory is left"
	$C create-layer -n dead >/dev/null || die "its name is free again"
	$C layers -q | grep -qx "$keep" || die "another layer went too"
	$C layers -q | grep -qx "$applying" || die "cstor's interrupted-apply layer went"
	grep -q '"cstor.apply-incomplete":true' "$s/g/vfs-layers/layers.json" || die "the apply mark went"
	if have_go_cs; then
		# Go does the same with a layer cstor's records mark.
		python3 - "$s/g/vfs-layers/layers.json" "$keep" <<'PY'
import json, sys
p, keep = sys.argv[1:]
d = json.load(open(p))
for l in d:
    if l["id"] == keep:
        l["flags"] = {"incomplete": True}
json.dump(d, open(p, "w"))
PY
		"$GO_CS" -g "$s/g" -R "$s/r" -s vfs layers >/dev/null || die "Go layers"
		$C layers -q | grep -qx "$keep" && die "Go left the incomplete layer"
	fi
	return 0
}

# A name given to one object is taken from the object that had it.
test_names_move() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local a b i1 i2 c1 c2
	a=$($C create-layer -n la | head -1)
	b=$($C create-layer | head -1)
	$C add-names -n la "$b" || die "add-names on a layer"
	expect_eq "$($C layer -j "$a" | jq -c '.[0].names')" null "the name left the first layer"
	expect_eq "$($C layer -j "$b" | jq -c '.[0].names')" '["la"]' "the second layer has it"
	i1=$($C create-image -n img "$a" | head -1)
	i2=$($C create-image "$a" | head -1)
	$C set-names -n img -n other "$i2" || die "set-names on an image"
	expect_eq "$($C get-names "$i1")" "" "the name left the first image"
	expect_eq "$($C get-names "$i2")" "img
other" "the second image has it"
	c1=$($C create-container -n ctr "$i1" | head -1)
	c2=$($C create-container "$i1" | head -1)
	$C add-names -n ctr "$c2" || die "add-names on a container"
	expect_eq "$($C get-names "$c1")" "" "the name left the first container"
	expect_eq "$($C get-names "$c2")" ctr "the second container has it"
}

# Names of an image in a read-only store: the image is recorded in the
# read-write store (same ID, top layer, data) with the new names, as newest
# containers/storage does; the read-only store is not written.
test_names_of_read_only_images() {
	local ro; ro=$(t_store)
	local s; s=$(t_store)
	t_unchecked "a store with an additional image store"
	local RO="$CSTOR -g $ro/g -R $ro/r -s vfs"
	local rl ri
	rl=$($RO create-layer | head -1)
	ri=$($RO create-image -n roimg "$rl" | head -1)
	echo data >"$ro/data"
	$RO set-image-data -f "$ro/data" "$ri" key
	local sum; sum=$(ro_checksum "$ro/g")
	local C="$CSTOR -g $s/g -R $s/r -s vfs --storage-opt vfs.imagestore=$ro/g"
	$C add-names -n extra "$ri" || die "add-names on a read-only image"
	expect_eq "$($C get-names "$ri")" "roimg
extra" "names after add-names"
	expect_eq "$($C get-image-data "$ri" key)" data "its data came along"
	expect_eq "$($C image -j "$ri" | jq -r '.[0].layer')" "$rl" "its top layer"
	$C remove-names -n roimg "$ri" || die "remove-names on a read-only image"
	expect_eq "$($C get-names "$ri")" extra "names after remove-names"
	# The read-only copy still says "roimg", but the read-write copy of
	# the same ID replaces it for lookups, as in Go.
	$C exists -i roimg && die "the removed name still finds the image"
	$C exists -i extra || die "the added name does not find the image"
	$C exists -i "$ri" || die "the ID does not find the image"
	# Both copies are listed, the read-write one first, as Go lists them.
	expect_eq "$($C images | grep -c "^$ri")" 2 "listed from both stores"
	expect_eq "$($C images -j | jq -c --arg id "$ri" '[.[] | select(.id == $id) | .names]')" \
		'[["extra"],["roimg"]]' "the names of the two copies"
	expect_eq "$(ro_checksum "$ro/g")" "$sum" "the read-only store changed"
	jq -e --arg id "$ri" '.[] | select(.id == $id)' "$s/g/vfs-images/images.json" >/dev/null ||
		die "the image is not recorded in the read-write store"
	if have_go_cs; then
		"$GO_CS" -g "$s/g" -R "$s/r" -s vfs --storage-opt vfs.imagestore="$ro/g" image "$ri" |
			grep -q "Name: extra" || die "Go does not see the new name"
	fi
}

# A layer changed behind its tar-split (by copy) is reported by check with
# Go's phrase right after the layer, where scripts match it.
test_check_phrase_after_copy() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	head -c 300 /dev/urandom >"$s/d1"
	head -c 300 /dev/urandom >"$s/d3"
	tar -C "$s" -cf "$s/diff.tar" d1
	local l; l=$($C create-layer | head -1)
	$C applydiff -f "$s/diff.tar" "$l"
	$C create-image "$l" >/dev/null
	$C copy "$s/d3" "$l:/d1"
	local rc=0
	$C check >"$s/out" 2>&1 || rc=$?
	expect_eq "$rc" 1 "check of the changed layer"
	grep -qE "layer $l: (layer content incorrect digest|file integrity checksum failed)" "$s/out" ||
		die "check: $(cat "$s/out")"
	$C check -r >/dev/null 2>&1
}

t_run test_copy_like_go
t_run test_copy_confined
t_run test_config
t_run test_conf_keys_not_acted_on
t_run test_version
t_run test_unshare
t_run test_dedup
t_run test_dedup_without_reflinks
t_run test_incomplete_layer_removed
t_run test_names_move
t_run test_names_of_read_only_images
t_run test_check_phrase_after_copy
t_end
