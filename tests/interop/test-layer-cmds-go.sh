#!/bin/bash
# The layer commands against the Go CLI (containers-storage 1.43): the same
# command sequence run by cstor and by Go on two fresh vfs stores, comparing
# exit codes, stdout, stderr where the wording is meant to match, and the
# resulting layers.json and mountpoints.json; then both CLIs taking turns on
# one store; then the deliberate differences (README), each pinned down;
# then a file with duplicated names, loaded and repaired the same way.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
L3=3333333333333333333333333333333333333333333333333333333333333333

need_go() { have_go_cs || skip "containers-storage (Go CLI) is not installed"; }

# Store A is cstor's, store B is Go's.
pair() {
	A=$(t_store)
	B=$(t_store)
	GA="-g $A/g -R $A/r -s vfs"
	GB="-g $B/g -R $B/r -s vfs"
	N=0
}

# Store paths and creation times are the only expected differences.
norm() {
	go_view | sed -e "s#$A#STORE#g" -e "s#$B#STORE#g" -e 's/"created":"[^"]*"/"created":"T"/g' ${NORM:+-e "$NORM"}
}

# both ARGS...: run `cstor $GA ARGS` and `containers-storage $GB ARGS` and
# compare exit codes and stdout (normalised). Settings, per call:
#   IN=FILE     stdin for both (default /dev/null)
#   SORT=1      sort stdout lines (Go prints maps in random order)
#   NORM=EXPR   an extra sed expression for stdout and stderr
#   ERR=skip    do not compare stderr (wording deliberately differs)
#   ERR=match   (default) compare the sorted stderr lines after NORM, with
#               cstor's "cstor: <command>: " prefix taken off
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
	norm <"$d/c.out" | $s >"$d/c.n"
	norm <"$d/g.out" | $s >"$d/g.n"
	cmp -s "$d/c.n" "$d/g.n" || {
		diff "$d/g.n" "$d/c.n" | head -20 >&2
		die "stdout of $what differs (< go, > cstor)"
	}
	if [ "${ERR:-match}" = match ]; then
		sed "s/^cstor: [a-z-]*: //" "$d/c.err" | norm | sort >"$d/c.en"
		norm <"$d/g.err" | sort >"$d/g.en"
		cmp -s "$d/c.en" "$d/g.en" || {
			diff "$d/g.en" "$d/c.en" | head -20 >&2
			die "stderr of $what differs (< go, > cstor)"
		}
	fi
	return 0
}

# A store file, or "[]" if it was not written yet (Go writes an empty
# mountpoints.json when it creates the first layer, cstor on the first mount).
store_file() {
	if [ -e "$1" ]; then norm <"$1"; else echo "[]"; fi
}

# The store files of both sides are the same, once normalised.
same_files() {
	local f
	for f in g/vfs-layers/layers.json r/vfs-layers/mountpoints.json; do
		expect_eq "$(store_file "$A/$f")" "$(store_file "$B/$f")" "$f after step $N"
	done
}

# Error texts in JSON and on stderr differ by design; the rest must not.
JSON_ERRS='s/"error":"\([^"\\]\|\\.\)\{1,\}"/"error":"E"/g'
MAP_ERRS='s/":"\([^"\\]\|\\.\)\{1,\}"/":"E"/g'

test_same_sequence_two_stores() {
	need_go
	pair
	printf 'a\0b\377\n\r\0<&>' >"$A/bin"
	head -c 200000 /dev/urandom >"$A/big"
	printf 'line one\nline two\n' >"$A/md"

	both create-layer -i $L1 -n base
	both create-layer --id=$L2 --name child $L1
	both createlayer -j -i $L3 -n other -n other2
	same_files

	# layer
	both layer $L1 $L2 other2
	ERR=skip both layer -j base nope $L2
	ERR=skip both layer nope
	both layer --json 3333

	# exists
	SORT=1 both exists $L1 base nope other
	both exists -j base nope zzz base
	both exists --json $L2
	both exists -q base
	both exists --quiet nope
	SORT=1 both exists -l base child
	both exists --layer nope
	both exists -i base
	both exists --image nope
	both exists -c base
	both exists --container other
	both exists -qj nope

	# metadata
	both metadata base
	both set-metadata -m 'hello <&> "x"' base
	both setmetadata --metadata-file "$A/md" child
	both set-metadata -f "$A/md" --metadata=ignored other
	ERR=skip both metadata base child nope other
	ERR=skip both metadata -q base child nope
	ERR=skip both metadata --quiet other
	ERR=skip both metadata -j base child nope other
	both set-metadata base
	both set-metadata -m '' base
	ERR=skip both set-metadata -m x nope
	both metadata --json base
	same_files

	# layer data
	both set-layer-data -f "$A/bin" other Config
	IN=$A/big both set-layer-data other manifest-sha256:abc
	IN=$A/bin both setlayerdata $L1 lower.key.1
	both set-layer-data --file="$A/md" other Config
	both list-layer-data other
	both listlayerdata --json other
	both list-layer-data -j child
	both list-layer-data child
	both get-layer-data other manifest-sha256:abc
	both getlayerdata base lower.key.1
	both get-layer-data other Config
	ERR=skip both get-layer-data other nokey
	ERR=skip both get-layer-data nope Config
	ERR=skip both list-layer-data nope
	same_files

	# mounts: counts 1 -> 2 -> 1 -> 0
	both mount $L3
	both mount -l label -o ro $L3
	same_files
	both mounted other
	both mounted -j other $L3
	both layers -t
	both layers
	both layers --json
	both unmount other
	same_files
	both umount -j other
	same_files
	both unmount other
	both mounted other
	both mount --json $L1 $L2
	both unmount --force $L1 $L2
	same_files
	NORM=$JSON_ERRS both mount -j $L1 nope
	NORM='s/.* while mounting /E while mounting /' both mount nope $L1
	NORM='s/.* checking if /E checking if /' both mounted nope $L1
	NORM=$JSON_ERRS both mounted -j nope
	NORM='s/.* while unmounting /E while unmounting /' both unmount nope $L1
	NORM=$JSON_ERRS both unmount --json nope $L1
	same_files

	# deletes, with their safety checks (mounted layers: see
	# test_deliberate_differences)
	NORM='s/: .*/: E/' both delete-layer $L1 nope
	NORM=$MAP_ERRS both delete-layer -j $L1 nope
	both delete-layer $L2
	same_files
	both delete -j $L1 $L3
	NORM=$MAP_ERRS both deletelayer --json $L1
	same_files
	both layers
	both layers -j
	[ "$(cat "$A/g/vfs-layers/layers.json")" = "[]" ] || die "layers left: $(cat "$A/g/vfs-layers/layers.json")"
}

# cstor and Go taking turns on one store: each sees the other's writes, and
# both print the same thing at every step.
test_shared_store() {
	need_go
	local S; S=$(t_store)
	local G="-g $S/g -R $S/r -s vfs"
	A=$S B=$S
	c() { "$CSTOR" $G "$@"; }
	go() { "$GO_CS" $G "$@"; }
	# Both CLIs print the same for a read-only command (SORT=1: the
	# lines in any order, for Go's maps).
	same() {
		local rc_c=0 rc_g=0 out_c out_g s=cat
		[ -n "${SORT:-}" ] && s=sort
		out_c=$(c "$@" 2>/dev/null | $s; exit "${PIPESTATUS[0]}") || rc_c=$?
		out_g=$(go "$@" 2>/dev/null | $s; exit "${PIPESTATUS[0]}") || rc_g=$?
		expect_eq "$rc_c:$out_c" "$rc_g:$out_g" "cstor vs go: $*"
	}
	printf 'x\0y\377' >"$S/bin"
	printf 'tab\tand \377 <&>\n' >"$S/md"
	head -c 100000 /dev/urandom >"$S/big"

	go create-layer -i $L1 -n base >/dev/null
	c create-layer -i $L2 -n child base >/dev/null
	same layers -j
	same layers -t
	same layer $L1 child
	SORT=1 same exists base child nope
	same exists -j base child nope
	# ID maps written by Go, read by cstor.
	go create-layer -i $L3 -n mapped --uidmap 0:100000:65536 --gidmap 0:200000:1000 >/dev/null
	same layer mapped
	expect_eq "$(c layer mapped | grep mapping)" "UID mapping: (container=0, host=100000, size=65536)
GID mapping: (container=0, host=200000, size=1000)" "ID maps of a Go layer"
	same layer -j $L3

	c set-metadata -m m1 base
	expect_eq "$(go metadata base)" "base: m1" "Go reads cstor's metadata"
	go set-metadata -f "$S/md" child
	same metadata -j base child
	same metadata -q $L1 $L2

	c set-layer-data -f "$S/bin" $L1 Config
	go get-layer-data base Config >"$S/got"
	cmp "$S/bin" "$S/got" || die "Go reads cstor's layer data"
	go set-layer-data $L2 manifest-sha256:abc <"$S/big"
	c get-layer-data child manifest-sha256:abc >"$S/got"
	cmp "$S/big" "$S/got" || die "cstor reads Go's layer data"
	same list-layer-data -j base
	same list-layer-data child
	same layers -j

	# Mount counts shared through mountpoints.json.
	local mp=$S/g/vfs/dir/$L1
	expect_eq "$(c mount base)" "$mp" "cstor mounts"
	expect_eq "$(go mounted base)" "base mounted" "Go sees cstor's mount"
	expect_eq "$(go mount $L1)" "$mp" "Go mounts again"
	expect_eq "$(c mounted -j $L1 | go_view)" "$L1 mounted
[{\"id\":\"$L1\",\"error\":\"\"}]" "cstor sees the count"
	same layers -t
	expect_eq "$(grep -o '"count":[0-9]*' "$S/r/vfs-layers/mountpoints.json")" '"count":2' "count 2"
	expect_eq "$(c unmount base)" "" "cstor unmounts 2 -> 1"
	expect_eq "$(go unmount $L1)" "$L1 mountpoint unmounted" "Go unmounts 1 -> 0"
	expect_eq "$(c mounted $L1 | go_view)" "" "cstor sees it unmounted"
	expect_eq "$(cat "$S/r/vfs-layers/mountpoints.json")" "[]" "mountpoints.json"

	# The safety checks see the other side's state.
	go mount $L2 >/dev/null
	local rc=0
	c delete-layer child 2>"$S/err" || rc=$?
	expect_eq $rc 1 "cstor refuses to delete a layer Go mounted"
	grep -q "mounted" "$S/err" || die "message: $(cat "$S/err")"
	go unmount $L2 >/dev/null
	rc=0; go delete-layer $L1 2>/dev/null || rc=$?
	expect_eq $rc 1 "Go refuses to delete cstor's layer's parent"
	rc=0; c delete-layer $L1 2>/dev/null || rc=$?
	expect_eq $rc 1 "cstor refuses to delete the parent"
	c delete-layer child
	rc=0; go layer $L2 >/dev/null 2>&1 || rc=$?
	expect_eq $rc 1 "Go sees the deletion"
	same exists child
	SORT=1 same exists child base
	go add-names -n n1 -n n2 mapped
	c remove-names -n n1 -n mapped $L3
	expect_eq "$(go get-names $L3)" "n2" "Go sees remove-names"
	go delete-layer n2
	same layers -j
	same layers
	expect_eq "$(c layers)" "$L1
	name: base" "what is left"
}

# Each deliberate difference of README's list that concerns these commands.
test_deliberate_differences() {
	t_unchecked "hand-made records"
	need_go
	pair
	# mount -r of a layer: Go only takes images; cstor mounts the layer
	# read-only (how layers of read-only stores are mounted).
	local l3
	l3=$("$CSTOR" $GA create-layer | head -1)
	rc=0; "$GO_CS" $GA mount -r "$l3" >/dev/null 2>&1 || rc=$?
	expect_eq $rc 1 "Go refuses mount -r of a layer"
	"$CSTOR" $GA mount -r "$l3" | grep -q "$l3" || die "cstor mount -r of a layer"
	"$CSTOR" $GA unmount "$l3" >/dev/null
	local c g
	for s in "$A" "$B"; do
		local cli=$CSTOR
		[ "$s" = "$B" ] && cli=$GO_CS
		"$cli" -g "$s/g" -R "$s/r" -s vfs create-layer -i $L1 -n base >/dev/null
		"$cli" -g "$s/g" -R "$s/r" -s vfs create-layer -i $L2 -n child $L1 >/dev/null
		"$cli" -g "$s/g" -R "$s/r" -s vfs set-layer-data $L2 k </dev/null
	done
	# delete-layer by name: Go skips its checks and deletes the parent.
	local rc_c=0 rc_g=0
	"$CSTOR" $GA delete-layer base 2>/dev/null || rc_c=$?
	"$GO_CS" $GB delete-layer base 2>/dev/null || rc_g=$?
	expect_eq "$rc_c:$rc_g" "1:0" "delete-layer <parent name>: cstor refuses, Go deletes"
	"$CSTOR" $GA layer $L1 >/dev/null || die "cstor deleted the parent"
	# delete: Go has no checks at all; cstor keeps them.
	"$GO_CS" $GB create-layer -i $L1 -n base >/dev/null
	rc_c=0 rc_g=0
	"$CSTOR" $GA delete $L1 2>/dev/null || rc_c=$?
	"$GO_CS" $GB delete $L1 2>/dev/null || rc_g=$?
	expect_eq "$rc_c:$rc_g" "1:0" "delete <parent>: cstor refuses, Go deletes"
	# mount by name: Go hands the name to the driver and fails.
	rc_c=0 rc_g=0
	c=$("$CSTOR" $GA mount child 2>/dev/null) || rc_c=$?
	g=$("$GO_CS" $GB mount child 2>/dev/null) || rc_g=$?
	expect_eq "$rc_c:$rc_g:$g" "0:1:" "mount <name>: cstor mounts, Go fails"
	expect_eq "$c" "$A/g/vfs/dir/$L2" "cstor's mount point for a name"
	# delete-layer of a mounted layer: Go unmounts and deletes it.
	rc_c=0 rc_g=0
	"$GO_CS" $GB create-layer -i $L3 >/dev/null
	"$GO_CS" $GB mount $L3 >/dev/null
	"$CSTOR" $GA delete-layer child 2>"$A/err" || rc_c=$?
	"$GO_CS" $GB delete-layer $L3 2>/dev/null || rc_g=$?
	expect_eq "$rc_c:$rc_g" "1:0" "delete-layer <mounted>: cstor refuses, Go unmounts and deletes"
	grep -q "layer is mounted" "$A/err" || die "message: $(cat "$A/err")"
	"$CSTOR" $GA unmount child >/dev/null
	# Unknown layers: Go exits 1 silently, cstor says why.
	for cmd in layer metadata; do
		"$CSTOR" $GA $cmd nope >/dev/null 2>"$A/err" && die "cstor $cmd nope succeeded"
		"$GO_CS" $GB $cmd nope >/dev/null 2>"$B/err" && die "Go $cmd nope succeeded"
		expect_eq "$(cat "$A/err"):$(cat "$B/err")" "cstor: $cmd: layer not known: nope:" "$cmd nope stderr"
	done
	# get-layer-data: an extra argument is an error; a missing item
	# leaves no empty file behind.
	rc_c=0 rc_g=0
	"$CSTOR" $GA get-layer-data child k extra >/dev/null 2>&1 || rc_c=$?
	"$GO_CS" $GB get-layer-data child k extra >/dev/null 2>&1 || rc_g=$?
	expect_eq "$rc_c:$rc_g" "1:0" "get-layer-data with an extra argument"
	"$CSTOR" $GA get-layer-data -f "$A/out" child nokey 2>/dev/null && die "cstor: missing item"
	"$GO_CS" $GB get-layer-data -f "$B/out" child nokey 2>/dev/null && die "Go: missing item"
	expect_eq "$([ -e "$A/out" ] && echo y):$([ -e "$B/out" ] && echo y)" ":y" \
		"file left by get-layer-data -f of a missing item"
}

t_begin
# A file that gives one name to several records, or repeats a name within
# one: both load it the same way (Go 1.43's load(): the last record naming a
# name keeps it; a layer repeating a name loses it, an image keeps it), list
# the same, and save the same repair with the next write.
test_duplicate_names_as_go() {
	need_go
	pair
	local I1=aaaa111111111111111111111111111111111111111111111111111111111111
	local I2=aaaa222222222222222222222222222222222222222222222222222222222222
	local I3=aaaa333333333333333333333333333333333333333333333333333333333333
	local s
	for s in "$A" "$B"; do
		mkdir -p "$s/g/vfs-layers" "$s/g/vfs-images" "$s/g/vfs/dir/$L1" "$s/g/vfs/dir/$L2" \
			"$s/g/vfs/dir/$L3"
		cat >"$s/g/vfs-layers/layers.json" <<-EOF
		[{"id":"$L1","names":["x","a"],"created":"2024-01-01T00:00:00Z"},
		 {"id":"$L2","names":["x","x","b","y"],"created":"2024-01-01T00:00:00Z"},
		 {"id":"$L3","names":["c","c","y"],"created":"2024-01-01T00:00:00Z"}]
		EOF
		cat >"$s/g/vfs-images/images.json" <<-EOF
		[{"id":"$I1","names":["x","a"],"layer":"$L1","created":"2024-01-01T00:00:00Z"},
		 {"id":"$I2","names":["x","x","b","y"],"layer":"$L2","created":"2024-01-01T00:00:00Z"},
		 {"id":"$I3","names":["c","c","y"],"layer":"$L3","created":"2024-01-01T00:00:00Z"}]
		EOF
	done
	both layers
	both images
	both image y
	both layer y
	# A write saves the repair: the same names in both files.
	both set-names -n zz "$L1"
	both set-names -n zz "$I1"
	local names='import json,sys
for r in json.load(open(sys.argv[1])): print(r["id"], r.get("names"))'
	expect_eq "$(python3 -c "$names" "$A/g/vfs-layers/layers.json")" \
		"$(python3 -c "$names" "$B/g/vfs-layers/layers.json")" "layers.json names"
	expect_eq "$(python3 -c "$names" "$A/g/vfs-images/images.json")" \
		"$(python3 -c "$names" "$B/g/vfs-images/images.json")" "images.json names"
	expect_eq "$(python3 -c "$names" "$A/g/vfs-layers/layers.json" | sed -n 2p)" \
		"$L2 ['b']" "a layer repeating a name loses it"
	expect_eq "$(python3 -c "$names" "$A/g/vfs-images/images.json" | sed -n 2p)" \
		"$I2 ['x', 'x', 'b']" "an image repeating a name keeps it"
}

t_run test_same_sequence_two_stores
t_run test_shared_store
t_run test_deliberate_differences
t_run test_duplicate_names_as_go
t_end
