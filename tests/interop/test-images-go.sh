#!/bin/bash
# The image and container commands against the Go CLI (containers-storage
# 1.43): the same command sequence run by cstor and by Go on two fresh vfs
# stores, comparing exit codes, stdout, and the resulting images.json,
# containers.json and layers.json; both CLIs taking turns on one store, each
# reading what the other wrote field for field; read-only image stores
# prepared by Go; Go waiting for cstor's images.lock; then the deliberate
# differences (README), each pinned down.
. "$(dirname "$0")/../lib.sh"
HOLD=${CSTOR_BUILD:-$(dirname "$CSTOR")/../..}/tests/hold-lock

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
L3=3333333333333333333333333333333333333333333333333333333333333333
D0=sha256:0000000000000000000000000000000000000000000000000000000000000000
DH=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824

need_go() { have_go_cs || skip "containers-storage (Go CLI) is not installed"; }

# Store A is cstor's, store B is Go's.
pair() {
	A=$(t_store)
	B=$(t_store)
	GA="-g $A/g -R $A/r -s vfs"
	GB="-g $B/g -R $B/r -s vfs"
	N=0
}

# sed expressions naming each container's (random) layer after its
# container, from one side's containers.json.
layer_names() {
	[ -e "$1/g/vfs-containers/containers.json" ] || return 0
	python3 -c 'import json,sys
for c in json.load(open(sys.argv[1])): print("-e s/%s/LAYER-OF-%s/g" % (c["layer"], c["id"]))' \
		"$1/g/vfs-containers/containers.json"
}

# Store paths, creation times and container layer IDs are the only
# expected differences. SIDE is the store whose output is normalised.
norm() {
	local side=$1
	# shellcheck disable=SC2046
	sed -e "s#$side#STORE#g" -e 's/"created":"[^"]*"/"created":"T"/g' $(layer_names "$side") \
		${NORM:+-e "$NORM"}
}

# both ARGS...: run `cstor $GA ARGS` and `containers-storage $GB ARGS`;
# compare exit codes and stdout (normalised). Settings, per call:
#   IN=FILE     stdin for both (default /dev/null)
#   SORT=1      sort stdout and stderr lines (Go prints maps in random order)
#   NORM=EXPR   an extra sed expression for stdout and stderr
#   ERR=skip    do not compare stderr (wording deliberately differs)
#   ERR=match   (default) compare stderr after NORM, with cstor's
#               "cstor: <command>: " prefix taken off
both() {
	N=$((N + 1))
	local d=$A/cmp.$N
	mkdir -p "$d"
	local rc_c=0 rc_g=0
	"$CSTOR" $GA "$@" <"${IN:-/dev/null}" >"$d/c.out" 2>"$d/c.err" || rc_c=$?
	"$GO_CS" $GB "$@" <"${IN:-/dev/null}" >"$d/g.out" 2>"$d/g.err" || rc_g=$?
	local what="[$*]"
	expect_eq "$rc_c" "$rc_g" "exit code of $what (stderr: cstor: $(cat "$d/c.err") go: $(cat "$d/g.err"))"
	local s=cat
	[ -n "${SORT:-}" ] && s=sort
	norm "$A" <"$d/c.out" | $s >"$d/c.n"
	norm "$B" <"$d/g.out" | $s >"$d/g.n"
	cmp -s "$d/c.n" "$d/g.n" || {
		diff "$d/g.n" "$d/c.n" | head -20 >&2
		die "stdout of $what differs (< go, > cstor)"
	}
	if [ "${ERR:-match}" = match ]; then
		sed "s/^cstor: [a-z-]*: //" "$d/c.err" | norm "$A" | sort >"$d/c.en"
		norm "$B" <"$d/g.err" | sort >"$d/g.en"
		cmp -s "$d/c.en" "$d/g.en" || {
			diff "$d/g.en" "$d/c.en" | head -20 >&2
			die "stderr of $what differs (< go, > cstor)"
		}
	fi
	return 0
}

store_file() {
	if [ -e "$2/$1" ]; then norm "$2" <"$2/$1"; else echo "[]"; fi
}

# The store files of both sides are the same, once normalised.
same_files() {
	local f
	for f in g/vfs-images/images.json g/vfs-containers/containers.json g/vfs-layers/layers.json; do
		expect_eq "$(store_file $f "$A")" "$(store_file $f "$B")" "$f after step $N"
	done
	# The same big-data files, with the same content.
	expect_eq "$(cd "$A/g" && find vfs-images vfs-containers -type f ! -name '*.json' ! -name '*.lock' ! -name '.spare-*' ! -name 'cstor-*.index' | sort | xargs -r md5sum)" \
		"$(cd "$B/g" && find vfs-images vfs-containers -type f ! -name '*.json' ! -name '*.lock' ! -name '.spare-*' ! -name 'cstor-*.index' | sort | xargs -r md5sum)" \
		"big data files after step $N"
}

JSON_ERRS='s/"error":"\([^"\\]\|\\.\)\{1,\}"/"error":"E"/g'
MAP_ERRS='s/":"\([^"\\]\|\\.\)\{1,\}"/":"E"/g'

test_same_sequence_two_stores() {
	need_go
	pair
	printf 'hello' >"$A/hello"
	printf 'a\0b\377\n<&>' >"$A/bin"
	printf 'meta\nline\n' >"$A/md"

	both images
	both images -j
	both containers -j
	both create-layer -i $L1 -n base
	both create-layer -i $L2 -n mid $L1
	both create-layer -i $L3 -n top mid

	# create-image and its refusals
	both create-image -i img1 -n foo -n bar $L3
	both createimage -j -i img2 -d $D0 -m meta $L1
	both create-image --json --id=img3 --metadata-file="$A/md" base
	both create-image -i img4 -n dup -n dup -n dup2 mid
	both create-image -j -i nolayer
	ERR=skip both create-image -i img1 $L1
	ERR=skip both create-image -n foo $L1
	ERR=skip both create-image nosuch
	both create-image -d sha256:abc $L1
	same_files

	# listings
	both images
	both images -q
	both images --json
	both image img1 img2 nolayer
	both image -j foo img3
	ERR=skip both image nope img1
	ERR=skip both image -j nope

	# data
	IN=$A/hello both set-image-data img1 manifest
	both setimagedata -f "$A/bin" img1 Config
	IN=$A/bin both set-image-data --file=/dev/stdin foo manifest-sha256:abc
	IN=$A/hello both set-image-data img1 abc.def9
	IN=$A/hello both set-image-data img2 manifest
	same_files
	both list-image-data img1
	both listimagedata --json img1
	both list-image-data -j img3
	both get-image-data img1 Config
	both getimagedata img1 manifest-sha256:abc
	both get-image-data-size img1 Config
	both getimagedatasize img1 manifest
	both get-image-data-digest img1 manifest
	both getimagedatadigest img1 abc.def9
	ERR=skip both get-image-data img1 nokey
	ERR=skip both get-image-data-size img1 nokey
	ERR=skip both get-image-data-digest img1 nokey
	ERR=skip both list-image-data nope
	both images
	both image img1 img2
	SORT=1 both images-by-digest $DH
	both images-by-digest -j $DH
	both images-by-digest -q $D0
	both images-by-digest -j sha256:1111111111111111111111111111111111111111111111111111111111111111
	both images-by-digest sha256:abc
	both images-by-digest md5:00

	# names and metadata of images
	both add-names -n x -n bar img1
	both set-names -j -n a -n b -n a img1
	both get-names img1
	both get-names -j img2
	both addnames -j -n img2name img2
	both setnames --json img4
	both set-metadata -m imeta a
	both setmetadata -f "$A/md" img2
	both metadata -j a img2 $L1
	both metadata -q img2
	SORT=1 both exists img1 a nope $L1
	both exists -i a
	both exists -l a
	both exists -c a
	both exists -j a nope
	same_files

	# containers
	both create-container -i k1 -n ctr1 -n ctr1b img1
	both create-container -j -i k2 -m cmeta --volatile img2
	both createcontainer --json -i k3 -f "$A/md" img3
	ERR=skip both create-container -i k4 -n ctr1 img1
	ERR=skip both create-container -i k1 img1
	ERR=skip both create-container nope
	both create-container --hostuidmap --hostgidmap -i k5 nolayer
	same_files
	both containers
	both containers -j
	both container k1 ctr1b
	both container -j k2
	ERR=skip both container k1 nope
	both layers
	both layers -t
	both layer-parent-owners $L1 top
	both layer-parent-owners -j $L2
	both container-parent-owners k1 ctr1b
	both container-parent-owners --json k2

	# container data, directories, names, metadata
	IN=$A/hello both set-container-data k1 Config
	both setcontainerdata -f "$A/bin" ctr1 state.json
	both list-container-data k1
	both listcontainerdata -j k1
	both list-container-data -j k2
	both get-container-data k1 Config
	both getcontainerdata k1 state.json
	both get-container-data-size k1 state.json
	both get-container-data-digest k1 Config
	ERR=skip both get-container-data k1 nokey
	ERR=skip both list-container-data nope
	both get-container-dir k1
	both getcontainerrundir ctr1
	ERR=skip both get-container-dir nope
	both container k1
	both add-names -j -n extra -n ctr1b k2
	both get-names k1
	both set-names -n only k3
	both set-metadata -m cm ctr1
	both metadata -j ctr1 k2 k3
	both exists -c ctr1
	both exists -i ctr1
	both containers
	same_files

	# mounts through containers
	both mount k1
	both mount -j ctr1
	both unmount k2
	both unmount k1
	both umount -j ctr1
	both mounted k1

	# deletes
	NORM=$JSON_ERRS both delete-image -j img1 img2 nope
	ERR=skip both delete-image img2
	NORM=$MAP_ERRS both delete-container -j k1 nope
	both delete-container k2
	both delete-image -t img1
	both delete-image --test -j img1
	both delete-image img2
	both delete-image -j img4
	same_files
	both delete k3
	both delete img3
	both layers
	both images
	both containers -j
	same_files
	both create-container -i k6 a
	both wipe -j
	both layers -j
	both images -j
	both containers -j
	same_files
	both wipe
}

# cstor and Go taking turns on one store: each reads what the other wrote,
# and both print the same at every step.
test_shared_store() {
	need_go
	local S; S=$(t_store)
	local G="-g $S/g -R $S/r -s vfs"
	c() { "$CSTOR" $G "$@"; }
	go() { "$GO_CS" $G "$@"; }
	same() {
		local rc_c=0 rc_g=0 out_c out_g s=cat
		[ -n "${SORT:-}" ] && s=sort
		out_c=$(c "$@" 2>/dev/null | $s; exit "${PIPESTATUS[0]}") || rc_c=$?
		out_g=$(go "$@" 2>/dev/null | $s; exit "${PIPESTATUS[0]}") || rc_g=$?
		expect_eq "$rc_c:$out_c" "$rc_g:$out_g" "cstor vs go: $*"
	}
	# The file as the other side encodes it: its JSON output of the store.
	file_is_json_of() { # file command...
		local f=$1; shift
		expect_eq "$(cat "$S/$f")" "$(go "$@")" "$f is what Go encodes ($*)"
		expect_eq "$(cat "$S/$f")" "$(c "$@")" "$f is what cstor encodes ($*)"
	}
	printf hello >"$S/hello"
	printf 'x\0y\377' >"$S/bin"

	go create-layer -i $L1 -n base >/dev/null
	c create-layer -i $L2 -n mid base >/dev/null
	# Go's image on cstor's layer, cstor's image on Go's.
	go create-image -i gimg -n gname -m gmeta $L2 >/dev/null
	c create-image -i cimg -n cname -d $D0 base >/dev/null
	same images
	same images -j
	file_is_json_of g/vfs-images/images.json images -j
	same image gimg cimg
	go set-image-data -f "$S/hello" cimg manifest
	c set-image-data -f "$S/bin" gimg Config
	c get-image-data cimg manifest | cmp -s - "$S/hello" || die "cstor reads Go's image data"
	go get-image-data gimg Config | cmp -s - "$S/bin" || die "Go reads cstor's image data"
	same list-image-data -j gimg
	same get-image-data-digest cimg manifest
	same images
	file_is_json_of g/vfs-images/images.json images -j
	# Names and their history written alternately.
	go add-names -n g2 gimg
	c add-names -n k2 -n g2 cimg
	go set-names -n k2 gimg
	same images -j
	file_is_json_of g/vfs-images/images.json images -j
	expect_eq "$(python3 -c 'import json,sys; print([i.get("names-history") for i in json.load(open(sys.argv[1]))])' "$S/g/vfs-images/images.json")" \
		"[['k2', 'g2', 'gname'], ['g2', 'k2', 'cname']]" "names history kept by both"
	# Containers.
	go create-container -i gc -n gctr cimg >/dev/null
	c create-container -i kc -n cctr gimg >/dev/null
	same containers -j
	file_is_json_of g/vfs-containers/containers.json containers -j
	same container gc kc
	same layers
	same layers -t
	c set-container-data gc k <"$S/hello"
	go set-container-data kc k <"$S/bin"
	same list-container-data -j gc
	same get-container-data-digest kc k
	c set-metadata -m cm gctr
	go set-metadata -m gm cctr
	same metadata -j gctr cctr gimg
	file_is_json_of g/vfs-containers/containers.json containers -j
	expect_eq "$(c get-container-dir gc)" "$(go get-container-dir gc)" "container dir"
	# Each side's safety checks see the other's objects.
	local rc=0
	c delete-layer $L2 2>/dev/null || rc=$?
	expect_eq $rc 1 "cstor refuses to delete Go's image's layer"
	rc=0; c delete-image cimg 2>/dev/null || rc=$?
	expect_eq $rc 1 "cstor refuses to delete an image Go's container uses"
	local gl; gl=$(go container gc | sed -n 's/^Layer: //p')
	go mount gc >/dev/null
	rc=0; c delete-container gc 2>"$S/err" || rc=$?
	expect_eq $rc 1 "cstor refuses to delete a container whose layer Go mounted"
	grep -q "is mounted" "$S/err" || die "message: $(cat "$S/err")"
	c unmount gctr >/dev/null
	c delete-container gc
	go layer "$gl" >/dev/null 2>&1 && die "Go still sees the deleted container's layer"
	go delete-container cctr
	same containers -j
	same layers
	rc=0; go delete-image cimg 2>/dev/null || rc=$?
	expect_eq $rc 0 "Go deletes cstor's image"
	c delete-image gimg 2>/dev/null
	same images -j
	same layers -j
	expect_eq "$(cat "$S/g/vfs-layers/layers.json")" "[]" "layers.json after both deleted their images"
	# Go reads an images.json cstor repaired, and the other way round.
	go create-layer -i $L1 >/dev/null
	go create-image -i x1 -n n1 $L1 >/dev/null
	c create-image -i x2 $L1 >/dev/null
	python3 - "$S/g/vfs-images/images.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d[1]["names"] = ["n1"]
open(sys.argv[1], "w").write(json.dumps(d, separators=(",", ":")))
PY
	same images
	c set-metadata -m m x1
	same images -j
	file_is_json_of g/vfs-images/images.json images -j
	go wipe
	same images -j
	c wipe
}

# A read-only image store prepared by Go: cstor lists it, builds on it, and
# writes nothing into it.
test_go_read_only_store() {
	need_go
	local R; R=$(t_store)
	local RG="-g $R/g -R $R/r -s vfs"
	"$GO_CS" $RG create-layer -i rl >/dev/null
	"$GO_CS" $RG create-layer -i rl2 rl >/dev/null
	echo hi >"$R/g/vfs/dir/rl2/hello"
	"$GO_CS" $RG create-image -i rimg -n rname -m rmeta rl2 >/dev/null
	printf hello | "$GO_CS" $RG set-image-data rimg manifest
	printf cfg | "$GO_CS" $RG set-image-data rimg Config
	mount --bind "$R/g" "$R/g" && mount -o remount,bind,ro "$R/g" "$R/g" ||
		skip "cannot make a read-only bind mount"
	local before; before=$(cd "$R/g" && find . -printf '%p %s %T@ %m\n' | sort)
	pair
	GA="$GA --storage-opt vfs.imagestore=$R/g"
	GB="$GB --storage-opt vfs.imagestore=$R/g"
	both images
	both images -j
	both image rname
	both image -j rimg
	both layers
	both layers -t
	both get-image-data rimg Config
	both get-image-data-size rname manifest
	both get-image-data-digest rimg manifest
	both list-image-data -j rimg
	both metadata rimg
	both exists -i rname
	both images-by-digest -q $DH
	both create-container -i k1 -n ctr rname
	both container k1
	both create-image -i onro rl2
	both images
	ERR=skip both delete-image rimg
	same_files
	expect_eq "$(cat "$("$CSTOR" $GA mount k1)/hello")" "hi" "cstor's container starts with Go's layer"
	"$CSTOR" $GA unmount k1 >/dev/null
	both delete-container k1
	# Go walks on into the read-only store's layers and fails deleting
	# them after the record is gone; cstor stops at the primary store.
	local rc_c=0 rc_g=0
	"$CSTOR" $GA delete-image onro >"$A/out" 2>&1 || rc_c=$?
	"$GO_CS" $GB delete-image onro >"$B/out" 2>&1 || rc_g=$?
	expect_eq "$rc_c:$(cat "$A/out"):$rc_g:$(cat "$B/out")" "0::1:onro: layer not known" \
		"delete-image of an image on a read-only store's layer"
	same_files
	expect_eq "$(cd "$R/g" && find . -printf '%p %s %T@ %m\n' | sort)" "$before" \
		"nothing written in the read-only store"
}

# Go waits while cstor holds images.lock or containers.lock.
test_go_waits_for_cstor() {
	need_go
	[ -x "$HOLD" ] || skip "tests/hold-lock is not built"
	local S; S=$(t_store)
	local G="-g $S/g -R $S/r -s vfs"
	"$CSTOR" $G create-image -i img >/dev/null
	local f
	for f in vfs-images/images.lock vfs-containers/containers.lock; do
		rm -f "$S/ctl"
		mkfifo "$S/ctl"
		"$HOLD" "$S/g/$f" w <"$S/ctl" >"$S/hold.out" &
		local hold=$!
		exec 7>"$S/ctl"
		local n=0
		until grep -q locked "$S/hold.out" 2>/dev/null; do
			sleep 0.05; n=$((n + 1)); [ $n -lt 200 ] || die "hold-lock did not lock $f"
		done
		local cmd=images
		[ $f = vfs-containers/containers.lock ] && cmd=containers
		"$GO_CS" $G $cmd >"$S/go.out" 2>&1 7>&- &
		local go=$!
		sleep 1.5
		kill -0 $go 2>/dev/null || die "Go $cmd did not wait for cstor's lock on $f"
		echo >&7; exec 7>&-
		wait $hold
		wait $go || die "Go $cmd failed: $(cat "$S/go.out")"
	done
	expect_eq "$(cat "$S/go.out")" "" "Go containers after the wait"
}

# Each deliberate difference of README's list that concerns these commands.
test_deliberate_differences() {
	t_unchecked "hand-made records"
	need_go
	pair
	local s cli
	for s in "$A" "$B"; do
		cli=$CSTOR
		[ "$s" = "$B" ] && cli=$GO_CS
		"$cli" -g "$s/g" -R "$s/r" -s vfs create-layer -i $L1 >/dev/null
		"$cli" -g "$s/g" -R "$s/r" -s vfs create-image -i img $L1 >/dev/null
		"$cli" -g "$s/g" -R "$s/r" -s vfs create-container -i ctr img >/dev/null
	done
	local rc_c=0 rc_g=0 out_c out_g
	# delete of an image a container uses: Go has no checks.
	"$CSTOR" $GA delete img 2>/dev/null || rc_c=$?
	"$GO_CS" $GB delete img 2>/dev/null || rc_g=$?
	expect_eq "$rc_c:$rc_g" "1:0" "delete <image in use>: cstor refuses, Go deletes"
	# wipe with a mounted layer: Go unmounts and deletes, cstor refuses.
	"$CSTOR" $GA mount ctr >/dev/null
	"$GO_CS" $GB mount ctr >/dev/null
	rc_c=0 rc_g=0
	"$CSTOR" $GA wipe 2>/dev/null || rc_c=$?
	"$GO_CS" $GB wipe 2>/dev/null || rc_g=$?
	expect_eq "$rc_c:$rc_g" "1:0" "wipe with a mounted container: cstor refuses, Go wipes"
	"$CSTOR" $GA unmount ctr >/dev/null
	# mount -r of an image on vfs: Go 1.43 passes noexec,nosuid, which its
	# vfs driver rejects; cstor mounts the top layer read-only.
	"$GO_CS" $GB create-layer -i $L1 >/dev/null
	"$GO_CS" $GB create-image -i img $L1 >/dev/null
	rc_c=0 rc_g=0
	out_c=$("$CSTOR" $GA mount -r img 2>/dev/null) || rc_c=$?
	out_g=$("$GO_CS" $GB mount -r img 2>/dev/null) || rc_g=$?
	expect_eq "$rc_c:$rc_g:$out_c" "0:1:$A/g/vfs/dir/$L1" "mount -r <image>"
	"$CSTOR" $GA unmount img >/dev/null
	# ID mappings: both make a mapped copy of the top layer (no longer a
	# difference; tests/cli/test-idmap.sh compares the rest).
	rc_c=0 rc_g=0
	"$CSTOR" $GA create-container --uidmap 0:1000:10 img >/dev/null 2>&1 || rc_c=$?
	"$GO_CS" $GB create-container --uidmap 0:1000:10 img >/dev/null 2>&1 || rc_g=$?
	expect_eq "$rc_c:$rc_g" "0:0" "create-container --uidmap"
	expect_eq "$("$CSTOR" $GA image -j img | grep -o '"mapped-layers":\[[^]]*\]' | tr -cd , | wc -c)" \
		"$("$GO_CS" $GB image -j img | grep -o '"mapped-layers":\[[^]]*\]' | tr -cd , | wc -c)" \
		"mapped top layers"
	"$CSTOR" $GA image -j img | grep -q '"mapped-layers"' || die "cstor made no mapped top layer"
	# Unknown objects: Go exits 1 silently for image/container, cstor says why.
	for cmd in image container; do
		"$CSTOR" $GA $cmd nope >/dev/null 2>"$A/err" && die "cstor $cmd nope succeeded"
		"$GO_CS" $GB $cmd nope >/dev/null 2>"$B/err" && die "Go $cmd nope succeeded"
		expect_eq "$(cat "$A/err"):$(cat "$B/err")" "cstor: $cmd: $cmd not known: nope:" "$cmd nope stderr"
	done
	# get-image-data -f of a missing item: Go leaves an empty file.
	"$CSTOR" $GA get-image-data -f "$A/out" img nokey 2>/dev/null && die "cstor: missing item"
	"$GO_CS" $GB get-image-data -f "$B/out" img nokey 2>/dev/null && die "Go: missing item"
	expect_eq "$([ -e "$A/out" ] && echo y):$([ -e "$B/out" ] && echo y)" ":y" "file left for a missing item"
	# set-names on an image of a read-only store: both copy the record
	# into the primary store; Go 1.43 then loses the first name, cstor
	# gives it both, as the newest Go does.
	local R; R=$(t_store)
	"$GO_CS" -g "$R/g" -R "$R/r" -s vfs create-layer -i rl >/dev/null
	"$GO_CS" -g "$R/g" -R "$R/r" -s vfs create-image -i rimg rl >/dev/null
	rc_c=0 rc_g=0
	"$CSTOR" $GA --storage-opt vfs.imagestore=$R/g set-names -n a -n b rimg 2>/dev/null || rc_c=$?
	"$GO_CS" $GB --storage-opt vfs.imagestore=$R/g set-names -n a -n b rimg 2>/dev/null || rc_g=$?
	expect_eq "$rc_c:$rc_g" "0:0" "set-names of a read-only image"
	expect_eq "$(jq -c '.[] | select(.id == "rimg") | [.layer, .names]' "$A/g/vfs-images/images.json"):$(jq -c '.[] | select(.id == "rimg") | [.layer, .names]' "$B/g/vfs-images/images.json")" \
		'["rl",["a","b"]]:["rl",["b"]]' "the records cstor and Go copied"
}

t_begin
t_run test_same_sequence_two_stores
t_run test_shared_store
t_run test_go_read_only_store
t_run test_go_waits_for_cstor
t_run test_deliberate_differences
t_end
