#!/bin/bash
# The layer commands of cstor on their own: layer, exists, delete-layer,
# delete, metadata, set-metadata, remove-names, list/get/set-layer-data,
# mount, unmount, mounted, and the notes of `layers`. Every command with its
# flags in both syntaxes, its output, exit codes and error messages.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
L3=3333333333333333333333333333333333333333333333333333333333333333

# A store with L1 (base) <- L2 (child), and L3 (other) on its own.
# Sets S and G.
setup() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	"$CSTOR" $G create-layer -i $L1 -n base >/dev/null
	"$CSTOR" $G create-layer -i $L2 -n child $L1 >/dev/null
	"$CSTOR" $G create-layer -i $L3 -n other >/dev/null
}

# run OUT ERR CMD...: run cstor with the store flags; sets RC.
run() {
	local out=$1 err=$2; shift 2
	RC=0
	"$CSTOR" $G "$@" >"$out" 2>"$err" || RC=$?
}

# Edit layers.json with a python expression on `d` (the list of records).
edit_layers() {
	python3 - "$S/g/vfs-layers/layers.json" "$1" <<'PY'
import json, sys
p, code = sys.argv[1], sys.argv[2]
d = json.load(open(p))
exec(code)
open(p, "w").write(json.dumps(d, separators=(",", ":")))
PY
}

test_layer() {
	setup
	run "$S/out" "$S/err" layer $L2 base
	expect_eq $RC 0 "layer exit code"
	expect_eq "$(cat "$S/out")" "ID: $L2
Parent: $L1
Name: child
ID: $L1
Name: base" "layer plain output"
	[ ! -s "$S/err" ] || die "stderr on success: $(cat "$S/err")"
	# JSON: the records as stored, in argument order, both syntaxes.
	local rec1 rec2
	rec1=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d[0],separators=(",",":")))' \
		"$S/g/vfs-layers/layers.json")
	rec2=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d[1],separators=(",",":")))' \
		"$S/g/vfs-layers/layers.json")
	for j in -j --json --json=true; do
		run "$S/out" "$S/err" layer $j child $L1
		expect_eq $RC 0 "layer $j exit code"
		expect_eq "$(cat "$S/out")" "[$rec2,$rec1]" "layer $j output"
	done
	# An unmatched argument: the others are still printed, exit 1.
	run "$S/out" "$S/err" layer nosuch $L1
	expect_eq $RC 1 "layer with an unknown argument"
	expect_eq "$(cat "$S/out")" "ID: $L1
Name: base" "layer output with an unknown argument"
	expect_eq "$(cat "$S/err")" "cstor: layer: layer not known: nosuch" "layer error message"
	run "$S/out" "$S/err" layer -j nosuch
	expect_eq $RC 1 "layer -j unknown"
	expect_eq "$(cat "$S/out")" "[]" "layer -j with nothing matched"
	# ID prefixes work; an ambiguous one does not.
	run "$S/out" "$S/err" layer 3333
	expect_eq "$(head -1 "$S/out")" "ID: $L3" "layer by ID prefix"
	"$CSTOR" $G create-layer -i ${L3%333}444 >/dev/null
	run "$S/out" "$S/err" layer 3333
	expect_eq $RC 1 "ambiguous prefix"
	grep -q ambiguous "$S/err" || die "ambiguous prefix message: $(cat "$S/err")"
	# ID maps (written by containers-storage --uidmap/--gidmap).
	edit_layers "d[0]['uidmap'] = [{'container_id': 0, 'host_id': 1000, 'size': 10},
		{'container_id': 10, 'host_id': 5000, 'size': 1}]
d[0]['gidmap'] = [{'container_id': 0, 'host_id': 2000, 'size': 5}]"
	run "$S/out" "$S/err" layer base
	expect_eq "$(cat "$S/out")" "ID: $L1
UID mapping: (container=0, host=1000, size=10)
UID mapping: (container=10, host=5000, size=1)
GID mapping: (container=0, host=2000, size=5)
Name: base" "layer with ID maps"
	# No arguments: usage, exit 1.
	run "$S/out" "$S/err" layer
	expect_eq $RC 1 "layer without arguments"
	grep -q "layer: more arguments required" "$S/err" || die "missing argument message"
}

test_layer_read_only() {
	setup
	local ro; ro=$(t_store)
	"$CSTOR" -g "$ro/g" -R "$ro/r" -s vfs create-layer -i rolayer -n roname >/dev/null
	local RG="$G --storage-opt vfs.imagestore=$ro/g"
	expect_eq "$("$CSTOR" $RG layer roname)" "ID: rolayer
Name: roname
Read Only: true" "layer of an additional store"
	"$CSTOR" $G layer roname >/dev/null 2>&1 && die "found without the image store"
	# Read-only layers cannot be changed.
	local rc=0
	"$CSTOR" $RG set-metadata -m x rolayer 2>"$S/err" || rc=$?
	expect_eq $rc 1 "set-metadata on a read-only layer"
	grep -q "read-only" "$S/err" || die "read-only message: $(cat "$S/err")"
	rc=0; "$CSTOR" $RG delete-layer rolayer 2>"$S/err" || rc=$?
	expect_eq $rc 1 "delete-layer on a read-only layer"
	"$CSTOR" -g "$ro/g" -R "$ro/r" -s vfs layer rolayer >/dev/null || die "read-only layer was deleted"
	# Mounted, read-only: the only mount it can have (tests/interop/test-ro-stores.sh).
	local mp; mp=$("$CSTOR" $RG mount rolayer) || die "mount of a read-only layer"
	touch "$mp/probe" 2>/dev/null && die "the mount of a read-only layer is writable"
	"$CSTOR" $RG unmount rolayer >/dev/null
	expect_eq "$("$CSTOR" $RG exists -l roname)" "roname: true" "exists in an additional store"
	expect_eq "$("$CSTOR" $RG metadata rolayer)" "rolayer: " "metadata of a read-only layer"
}

test_exists() {
	setup
	run "$S/out" "$S/err" exists $L1 base nope
	expect_eq $RC 1 "exists with a missing argument"
	expect_eq "$(cat "$S/out")" "$L1: true
base: true
nope: false" "exists output"
	[ ! -s "$S/err" ] || die "stderr from exists: $(cat "$S/err")"
	run "$S/out" "$S/err" exists $L1 child 2222
	expect_eq $RC 0 "exists, all found"
	# JSON: an object with sorted keys; a repeated argument once.
	for j in -j --json; do
		run "$S/out" "$S/err" exists $j zzz other nope other
		expect_eq $RC 1 "exists $j exit code"
		expect_eq "$(cat "$S/out")" '{"nope":false,"other":true,"zzz":false}' "exists $j output"
	done
	for q in -q --quiet; do
		run "$S/out" "$S/err" exists $q base
		expect_eq "$RC:$(cat "$S/out")" "0:" "exists $q (found)"
		run "$S/out" "$S/err" exists $q nope
		expect_eq "$RC:$(cat "$S/out")" "1:" "exists $q (missing)"
	done
	# Only layers exist so far: -l succeeds, -i and -c fail but still say
	# that the name exists (as the Go CLI does).
	for l in -l --layer; do
		run "$S/out" "$S/err" exists $l base
		expect_eq "$RC:$(cat "$S/out")" "0:base: true" "exists $l"
	done
	for f in -i --image -c --container; do
		run "$S/out" "$S/err" exists $f base
		expect_eq "$RC:$(cat "$S/out")" "1:base: true" "exists $f of a layer"
	done
	run "$S/out" "$S/err" exists -ql base
	expect_eq "$RC:$(cat "$S/out")" "0:" "exists -ql"
	run "$S/out" "$S/err" exists -qj nope
	expect_eq "$RC:$(cat "$S/out")" '1:{"nope":false}' "exists -qj prints JSON"
	run "$S/out" "$S/err" exists
	expect_eq $RC 1 "exists without arguments"
	run "$S/out" "$S/err" exists --frob base
	expect_eq $RC 125 "exists with a bad flag"
}

test_delete_layer() {
	setup
	for cmd in delete-layer deletelayer delete; do
		# A parent, by ID and by name (the Go CLI skips its checks for
		# a name; cstor checks the layer it found).
		for ref in $L1 base 1111; do
			run "$S/out" "$S/err" $cmd $ref
			expect_eq $RC 1 "$cmd $ref (has a child)"
			expect_eq "$(cat "$S/err")" "$ref: delete layer $L1: layer has children" \
				"$cmd refusal message"
			[ ! -s "$S/out" ] || die "$cmd printed on stdout"
		done
	done
	"$CSTOR" $G layer $L1 >/dev/null || die "the parent was deleted"
	# Mounted layers are refused until unmounted.
	"$CSTOR" $G mount other >/dev/null
	for cmd in delete-layer delete; do
		run "$S/out" "$S/err" $cmd other
		expect_eq $RC 1 "$cmd of a mounted layer"
		grep -q "other: delete layer $L3: layer is mounted (1 times)" "$S/err" ||
			die "mounted refusal: $(cat "$S/err")"
	done
	"$CSTOR" $G unmount other >/dev/null
	# JSON map: argument -> error, "" for success; exit 1 if any failed.
	for j in -j --json; do
		"$CSTOR" $G create-layer -i tmp$j >/dev/null
		run "$S/out" "$S/err" delete-layer $j tmp$j nope base
		expect_eq $RC 1 "delete-layer $j exit code"
		expect_eq "$(cat "$S/out")" "{\"base\":\"delete layer $L1: layer has children\",\"nope\":\"delete layer: layer not known: nope\",\"tmp$j\":\"\"}" \
			"delete-layer $j output"
		[ ! -s "$S/err" ] || die "delete-layer $j wrote to stderr"
		"$CSTOR" $G layer tmp$j >/dev/null 2>&1 && die "tmp$j not deleted"
	done
	# Child first, then parent: both go, with their directories.
	run "$S/out" "$S/err" delete-layer child base
	expect_eq "$RC:$(cat "$S/out")$(cat "$S/err")" "0:" "delete-layer child then parent"
	[ ! -e "$S/g/vfs/dir/$L1" ] && [ ! -e "$S/g/vfs/dir/$L2" ] || die "layer directories left"
	expect_eq "$("$CSTOR" $G layers)" "$L3
	name: other" "layers after deletes"
	# The same argument twice: deleted once, then unknown.
	run "$S/out" "$S/err" delete -j other other
	expect_eq "$RC:$(cat "$S/out")" '1:{"other":"delete layer: layer not known: other"}' \
		"delete of a repeated argument"
	run "$S/out" "$S/err" delete-layer
	expect_eq $RC 1 "delete-layer without arguments"
}

test_metadata() {
	setup
	run "$S/out" "$S/err" metadata base
	expect_eq "$RC:$(cat "$S/out")" "0:base: " "metadata of a layer without any"
	for m in "-m" "--metadata"; do
		run "$S/out" "$S/err" set-metadata $m "meta $m" base
		expect_eq "$RC:$(cat "$S/err")" "0:" "set-metadata $m"
		expect_eq "$("$CSTOR" $G metadata $L1)" "$L1: meta $m" "metadata after $m"
	done
	grep -q '"metadata":"meta --metadata"' "$S/g/vfs-layers/layers.json" || die "not in layers.json"
	# From a file (it wins over -m); one trailing newline is trimmed on output.
	printf 'line one\nline two\n' >"$S/md"
	for f in -f --metadata-file; do
		run "$S/out" "$S/err" setmetadata -m ignored $f "$S/md" child
		expect_eq "$RC:$(cat "$S/err")" "0:" "set-metadata $f"
		expect_eq "$("$CSTOR" $G metadata child)" "child: line one
line two" "metadata from $f"
	done
	grep -q '"metadata":"line one\\nline two\\n"' "$S/g/vfs-layers/layers.json" ||
		die "file metadata not stored verbatim"
	for q in -q --quiet; do
		expect_eq "$("$CSTOR" $G metadata $q base child base)" "meta --metadata
line one
line two
meta --metadata" "metadata $q"
	done
	# JSON: a map of the arguments found, keys sorted.
	run "$S/out" "$S/err" metadata -j other child base nope
	expect_eq $RC 1 "metadata -j with a missing argument"
	expect_eq "$(cat "$S/out")" '{"base":"meta --metadata","child":"line one\nline two","other":""}' \
		"metadata -j output"
	expect_eq "$(cat "$S/err")" "cstor: metadata: layer not known: nope" "metadata -j error"
	run "$S/out" "$S/err" metadata nope base
	expect_eq $RC 1 "metadata with a missing argument"
	expect_eq "$(cat "$S/out")" "nope: 
base: meta --metadata" "metadata output with a missing argument"
	# set-metadata errors.
	for args in "" "-m=" "-m '' -f ''"; do
		RC=0; eval "\"\$CSTOR\" \$G set-metadata $args base" >"$S/out" 2>"$S/err" || RC=$?
		expect_eq "$RC:$(cat "$S/err")" "1:cstor: set-metadata: no new metadata provided" \
			"set-metadata $args"
	done
	run "$S/out" "$S/err" set-metadata -m x nope
	expect_eq $RC 1 "set-metadata of an unknown layer"
	grep -q "^cstor: set-metadata: .*layer not known: nope" "$S/err" || die "message: $(cat "$S/err")"
	run "$S/out" "$S/err" set-metadata -f "$S/nosuchfile" base
	expect_eq $RC 1 "set-metadata from a missing file"
	grep -q "^cstor: set-metadata: read $S/nosuchfile: No such file" "$S/err" || die "message: $(cat "$S/err")"
	expect_eq "$("$CSTOR" $G metadata -q base)" "meta --metadata" "metadata kept after failures"
	run "$S/out" "$S/err" set-metadata -m x base child
	expect_eq $RC 1 "set-metadata with two arguments"
	grep -q "too many arguments" "$S/err" || die "too many arguments message"
}

test_remove_names() {
	setup
	"$CSTOR" $G add-names -n a -n b --name c other
	run "$S/out" "$S/err" remove-names -n b other
	expect_eq "$RC:$(cat "$S/out")$(cat "$S/err")" "0:" "remove-names"
	expect_eq "$("$CSTOR" $G get-names $L3 | tr '\n' ' ')" "other a c " "names after remove-names"
	# The name the layer is given by can go: the layer was resolved first.
	for j in -j --json; do
		"$CSTOR" $G add-names -n x$j $L3
		run "$S/out" "$S/err" removenames $j -n x$j --name=a x$j
		expect_eq "$RC:$(cat "$S/out")" '0:["other","c"]' "remove-names $j"
		"$CSTOR" $G add-names -n a $L3
	done
	# Names that the layer does not have are ignored.
	run "$S/out" "$S/err" remove-names -j -n nosuch other
	expect_eq "$RC:$(cat "$S/out")" '0:["other","c","a"]' "remove-names of a name not there"
	run "$S/out" "$S/err" remove-names -n x nope
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: remove-names: layer not known: nope" "remove-names unknown"
	run "$S/out" "$S/err" remove-names -n x other base
	expect_eq $RC 1 "remove-names with two arguments"
	# set-names by a name it replaces prints the new names with -j.
	run "$S/out" "$S/err" set-names -j -n renamed other
	expect_eq "$RC:$(cat "$S/out")" '0:["renamed"]' "set-names -j of the name given"
}

test_layer_data() {
	setup
	# Binary data through a file and through stdin.
	printf 'a\0b\377\n\r\0' >"$S/bin"
	head -c 300000 /dev/urandom >"$S/big"
	for f in -f --file --file=; do
		local arg=$f
		[ "$f" = --file= ] && arg="--file=$S/bin" || arg="$f $S/bin"
		run "$S/out" "$S/err" set-layer-data $arg other Config
		expect_eq "$RC:$(cat "$S/err")" "0:" "set-layer-data $f"
	done
	"$CSTOR" $G setlayerdata base manifest-sha256:abc <"$S/big" || die "set-layer-data from stdin"
	"$CSTOR" $G set-layer-data other plain.key-1 </dev/null || die "set-layer-data of nothing"
	printf 'v1' | "$CSTOR" $G set-layer-data other manifest-sha256:abc
	# Keys that are not [a-z0-9.] are stored under "=" + base64 names.
	[ -f "$S/g/vfs-layers/$L3/=Q29uZmln" ] || die "Config not stored as =Q29uZmln: $(ls "$S/g/vfs-layers/$L3")"
	[ -f "$S/g/vfs-layers/$L1/=bWFuaWZlc3Qtc2hhMjU2OmFiYw==" ] || die "manifest-sha256:abc file name"
	[ -f "$S/g/vfs-layers/$L3/=cGxhaW4ua2V5LTE=" ] || die "plain.key-1 file name"
	"$CSTOR" $G set-layer-data other lower.case.9 </dev/null
	[ -f "$S/g/vfs-layers/$L3/lower.case.9" ] || die "a plain key is stored under its own name"
	# Round trips, to stdout and to a file.
	"$CSTOR" $G get-layer-data other Config >"$S/got"
	cmp "$S/bin" "$S/got" || die "binary data differs (stdout)"
	"$CSTOR" $G getlayerdata -f "$S/got2" base manifest-sha256:abc
	cmp "$S/big" "$S/got2" || die "big data differs (-f)"
	"$CSTOR" $G get-layer-data --file="$S/got3" $L3 manifest-sha256:abc
	expect_eq "$(cat "$S/got3")" v1 "get-layer-data --file"
	expect_eq "$("$CSTOR" $G get-layer-data other plain.key-1 | wc -c)" 0 "empty data item"
	# Overwriting keeps one entry.
	printf 'v2' | "$CSTOR" $G set-layer-data other manifest-sha256:abc
	expect_eq "$("$CSTOR" $G get-layer-data other manifest-sha256:abc)" v2 "overwritten value"
	# Listing, plain and JSON (null when there is nothing).
	expect_eq "$("$CSTOR" $G list-layer-data other)" "Config
plain.key-1
manifest-sha256:abc
lower.case.9" "list-layer-data"
	expect_eq "$("$CSTOR" $G listlayerdata --json other)" '["Config","plain.key-1","manifest-sha256:abc","lower.case.9"]' \
		"list-layer-data --json"
	expect_eq "$("$CSTOR" $G list-layer-data -j child)" null "list-layer-data -j of a layer without data"
	expect_eq "$("$CSTOR" $G list-layer-data child)" "" "list-layer-data of a layer without data"
	grep -q '"big-data-names":\["Config","plain.key-1","manifest-sha256:abc","lower.case.9"\]' \
		"$S/g/vfs-layers/layers.json" || die "big-data-names in layers.json"
	# Errors.
	run "$S/out" "$S/err" get-layer-data other nokey
	expect_eq "$RC:$(cat "$S/err")" '1:cstor: get-layer-data: data item "nokey" does not exist' "unknown key"
	run "$S/out" "$S/err" get-layer-data -f "$S/nofile" other nokey
	[ ! -e "$S/nofile" ] || die "get-layer-data -f created a file for a missing item"
	run "$S/out" "$S/err" get-layer-data nope Config
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: get-layer-data: layer not known: nope" "unknown layer"
	run "$S/out" "$S/err" set-layer-data -f "$S/nofile" other k
	expect_eq $RC 1 "set-layer-data from a missing file"
	grep -q "open $S/nofile: No such file" "$S/err" || die "message: $(cat "$S/err")"
	run "$S/out" "$S/err" set-layer-data -f "$S/bin" nope k
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: set-layer-data: set layer data: layer not known: nope" \
		"set-layer-data of an unknown layer"
	run "$S/out" "$S/err" get-layer-data -f /nonexistent/dir/x other Config
	expect_eq $RC 1 "get-layer-data to an unwritable file"
	run "$S/out" "$S/err" list-layer-data nope
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: list-layer-data: layer not known: nope" "list unknown"
	run "$S/out" "$S/err" get-layer-data other
	expect_eq $RC 1 "get-layer-data with one argument"
	grep -q "more arguments required" "$S/err" || die "more arguments message"
	run "$S/out" "$S/err" get-layer-data other Config extra
	expect_eq $RC 1 "get-layer-data with three arguments"
	run "$S/out" "$S/err" list-layer-data other base
	expect_eq $RC 1 "list-layer-data with two arguments"
	run "$S/out" "$S/err" set-layer-data -f "$S/bin" other ""
	expect_eq $RC 1 "empty key"
	run "$S/out" "$S/err" get-layer-data -x other Config
	expect_eq $RC 125 "bad flag"
}

count_of() { # count_of ID: the count recorded in mountpoints.json
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(sum(m["count"] for m in d if m["id"] == sys.argv[2]))' "$S/r/vfs-layers/mountpoints.json" "$1"
}

test_mount_counts() {
	setup
	local mp=$S/g/vfs/dir/$L3
	run "$S/out" "$S/err" mount other
	expect_eq "$RC:$(cat "$S/out")" "0:$mp" "mount"
	expect_eq "$(count_of $L3)" 1 "count after one mount"
	expect_eq "$("$CSTOR" $G mounted other | go_view)" "other mounted" "mounted"
	expect_eq "$("$CSTOR" $G layer -j other | grep -c mount)" 0 "mount state in layer --json"
	# By ID prefix, with a label and options (accepted, as in Go).
	run "$S/out" "$S/err" mount -l mylabel --opt=ro,nodev -o x 3333
	expect_eq "$RC:$(cat "$S/out")" "0:$mp" "second mount"
	expect_eq "$(count_of $L3)" 2 "count after two mounts"
	expect_eq "$(cat "$S/r/vfs-layers/mountpoints.json")" "[{\"id\":\"$L3\",\"path\":\"$mp\",\"count\":2}]" \
		"mountpoints.json"
	# Dropping one of two: nothing printed.
	run "$S/out" "$S/err" unmount other
	expect_eq "$RC:$(cat "$S/out")$(cat "$S/err")" "0:" "unmount 2 -> 1"
	expect_eq "$(count_of $L3)" 1 "count after one unmount"
	expect_eq "$("$CSTOR" $G mounted -j other | go_view)" "other mounted
[{\"id\":\"other\",\"error\":\"\"}]" "mounted -j prints the line and the JSON"
	run "$S/out" "$S/err" umount -j other
	expect_eq "$RC:$(cat "$S/out")" '0:other mountpoint unmounted
[{"id":"other","error":""}]' "umount -j 1 -> 0"
	expect_eq "$(count_of $L3)" 0 "count after the last unmount"
	expect_eq "$(cat "$S/r/vfs-layers/mountpoints.json")" "[]" "mountpoints.json when nothing is mounted"
	run "$S/out" "$S/err" mounted other
	expect_eq "$RC:$(cat "$S/out")" "0:" "mounted when not mounted"
	# Unmounting what is not mounted succeeds.
	run "$S/out" "$S/err" unmount other
	expect_eq "$RC:$(cat "$S/out")" "0:other mountpoint unmounted" "unmount when not mounted"
	# --force drops every mount at once.
	for f in -f --force; do
		"$CSTOR" $G mount other >/dev/null
		"$CSTOR" $G mount other >/dev/null
		"$CSTOR" $G mount $L3 >/dev/null
		expect_eq "$(count_of $L3)" 3 "count before unmount $f"
		run "$S/out" "$S/err" unmount $f other
		expect_eq "$RC:$(cat "$S/out")" "0:other mountpoint unmounted" "unmount $f"
		expect_eq "$(count_of $L3)" 0 "count after unmount $f"
	done
	# JSON, several arguments, one unknown: an empty mount point.
	run "$S/out" "$S/err" mount --json base nope
	expect_eq $RC 1 "mount -j with an unknown layer"
	expect_eq "$(cat "$S/out")" "[{\"id\":\"base\",\"mountpoint\":\"$S/g/vfs/dir/$L1\",\"error\":\"\"},{\"id\":\"nope\",\"mountpoint\":\"\",\"error\":\"mount: layer not known: nope\"}]" \
		"mount --json output"
	[ ! -s "$S/err" ] || die "mount -j wrote to stderr"
	# Plain: an empty line for the failure, Go's message on stderr.
	run "$S/out" "$S/err" mount nope base
	expect_eq $RC 1 "mount with an unknown layer"
	expect_eq "$(cat "$S/out")" "
$S/g/vfs/dir/$L1" "mount output with an unknown layer"
	expect_eq "$(cat "$S/err")" "mount: layer not known: nope while mounting nope" "mount error"
	expect_eq "$(count_of $L1)" 2 "the good argument was mounted"
	run "$S/out" "$S/err" mounted base nope
	expect_eq "$RC:$(go_view <"$S/out")" "1:base mounted" "mounted with an unknown layer"
	expect_eq "$(cat "$S/err")" "mounted: layer not known: nope checking if nope is mounted" "mounted error"
	run "$S/out" "$S/err" mounted -j nope
	expect_eq "$RC:$(go_view <"$S/out")" '1:[{"id":"nope","error":"mounted: layer not known: nope"}]' "mounted -j error"
	run "$S/out" "$S/err" unmount nope base
	expect_eq "$RC:$(cat "$S/out")" "1:" "unmount with an unknown layer (2 -> 1)"
	expect_eq "$(cat "$S/err")" "unmount: layer not known: nope while unmounting nope" "unmount error"
	run "$S/out" "$S/err" unmount --json nope
	expect_eq "$RC:$(cat "$S/out")" '1:[{"id":"nope","error":"unmount: layer not known: nope"}]' "unmount -j error"
	# -r of a layer mounts it read-only (one more holder).
	for r in -r --ro; do
		run "$S/out" "$S/err" mount $r base
		expect_eq "$RC" 0 "mount $r of a layer"
		run "$S/out" "$S/err" unmount base
	done
	expect_eq "$(count_of $L1)" 1 "mount -r then unmount"
	for c in mount unmount umount mounted; do
		run "$S/out" "$S/err" $c
		expect_eq $RC 1 "$c without arguments"
	done
}

test_layers_notes() {
	t_unchecked "layers flagged by hand"
	setup
	local json_before
	json_before=$("$CSTOR" $G layers --json)
	"$CSTOR" $G mount other >/dev/null
	"$CSTOR" $G mount child >/dev/null
	expect_eq "$("$CSTOR" $G layers --json)" "$json_before" "layers --json does not show mounts"
	expect_eq "$("$CSTOR" $G layers -t)" "(base)
├─$L1
│ name: base
│ └─$L2
│   name: child
│   mount: $S/g/vfs/dir/$L2
└─$L3
  name: other
  mount: $S/g/vfs/dir/$L3" "layers -t with mount notes"
	expect_eq "$("$CSTOR" $G layers)" "$L1
	name: base
$L2
	name: child
$L3
	name: other" "plain layers has no mount notes"
	"$CSTOR" $G unmount $L2 >/dev/null
	expect_eq "$("$CSTOR" $G layers --tree | grep -c mount:)" 1 "mount note gone after unmount"
	# An interrupted apply (cstor's flag) is noted in both listings.
	edit_layers "d[2]['flags'] = {'cstor.apply-incomplete': True}"
	expect_eq "$("$CSTOR" $G layers)" "$L1
	name: base
$L2
	name: child
$L3
	name: other
	incomplete: an apply was interrupted; apply again or delete" "layers with an incomplete layer"
	expect_eq "$("$CSTOR" $G layers -t | tail -3)" "  name: other
  mount: $S/g/vfs/dir/$L3
  incomplete: an apply was interrupted; apply again or delete" "layers -t with an incomplete layer"
	"$CSTOR" $G layers -j | grep -q '"flags":{"cstor.apply-incomplete":true}' || die "flags in layers -j"
	# The incomplete layer cannot be mounted again.
	run "$S/out" "$S/err" mount other
	expect_eq "$RC:$(cat "$S/out")" "1:" "mount of an incomplete layer"
	grep -q "incomplete.* while mounting other" "$S/err" || die "message: $(cat "$S/err")"
}

t_begin
t_run test_layer
t_run test_layer_read_only
t_run test_exists
t_run test_delete_layer
t_run test_metadata
t_run test_remove_names
t_run test_layer_data
t_run test_mount_counts
t_run test_layers_notes
t_end
