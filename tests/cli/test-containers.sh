#!/bin/bash
# The container commands of cstor on their own: create-container,
# containers, container, delete-container, the container data and directory
# commands, names/metadata/exists/delete/mount of containers through the
# generic commands, containers on images of read-only stores, and wipe.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
C1=cccc111111111111111111111111111111111111111111111111111111111111
C2=cccc222222222222222222222222222222222222222222222222222222222222
# sha256 of "data"
DD=sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7

# Layers L1 <- L2, image img (names i1, i2) on L2. Sets S and G.
setup() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	"$CSTOR" $G create-layer -i $L1 -n base >/dev/null
	"$CSTOR" $G create-layer -i $L2 -n top $L1 >/dev/null
	"$CSTOR" $G create-image -i img -n i1 -n i2 $L2 >/dev/null
}

run() {
	local out=$1 err=$2; shift 2
	RC=0
	"$CSTOR" $G "$@" >"$out" 2>"$err" || RC=$?
}

jq_py() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# The layer of container $1.
layer_of() { "$CSTOR" $G container "$1" | sed -n 's/^Layer: //p'; }

layer_count() { jq_py "$S/g/vfs-layers/layers.json" 'len(d)'; }

test_create_container() {
	setup
	# Go 1.43's plain output: the ID, then each name after a tab, with no
	# newline after the names.
	run "$S/out" "$S/err" create-container -i $C1 -n web -n web2 i1
	expect_eq "$RC" 0 "create-container"
	cmp -s "$S/out" <(printf '%s\n\tweb\tweb2' $C1) || die "plain output: $(od -c "$S/out")"
	local f=$S/g/vfs-containers/containers.json
	expect_eq "$(jq_py "$f" '",".join(d[0].keys())')" "id,names,image,layer,created,flags" "keys in Go's order"
	expect_eq "$(jq_py "$f" 'd[0]["image"]')" "img" "image ID recorded"
	grep -q '"flags":{"MountLabel":"","ProcessLabel":""}' "$f" || die "labels: $(cat "$f")"
	expect_eq "$(stat -c %a "$f"):$(stat -c %s "$S/g/vfs-containers/containers.lock")" "600:64" "mode and token"
	# The layer: random ID, parent the image's top layer, in layers.json.
	local l; l=$(jq_py "$f" 'd[0]["layer"]')
	[[ $l =~ ^[0-9a-f]{64}$ ]] || die "layer ID $l"
	expect_eq "$("$CSTOR" $G layer $l | grep Parent)" "Parent: $L2" "the layer's parent"
	[ -d "$S/g/vfs/dir/$l" ] || die "no layer directory"
	# JSON, metadata from a file, --volatile, a random ID.
	printf 'meta\n' >"$S/md"
	run "$S/out" "$S/err" createcontainer --json -f "$S/md" -m ignored --volatile img
	expect_eq "$RC" 0 "create-container -j"
	local id; id=$(jq_py "$S/out" 'd["id"]')
	expect_eq "$(sed -e 's/"created":"[^"]*"/"created":"T"/' -e 's/"layer":"[^"]*"/"layer":"L"/' "$S/out")" \
		"{\"id\":\"$id\",\"image\":\"img\",\"layer\":\"L\",\"metadata\":\"meta\\n\",\"created\":\"T\",\"flags\":{\"MountLabel\":\"\",\"ProcessLabel\":\"\",\"Volatile\":true}}" \
		"create-container -j output"
	# Refusals leave no layer behind.
	local n; n=$(layer_count)
	run "$S/out" "$S/err" create-container -n web img
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-container: the container name \"web\" is already in use by $C1" "name in use"
	run "$S/out" "$S/err" create-container -i $C1 img
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-container: a container with ID \"$C1\" already exists" "ID in use"
	run "$S/out" "$S/err" create-container nope
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-container: image not known: nope" "unknown image"
	run "$S/out" "$S/err" create-container --uidmap 0:1000:10,5:2000:10 img
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-container: uid map: ranges 0:1000:10 and 5:2000:10 overlap (container IDs)" "bad ID maps (tests/cli/test-idmap.sh has the rest)"
	run "$S/out" "$S/err" create-container --hostuidmap --uidmap 0:1:1 img
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-container: host uid map specified along with UID mapping" "host and map"
	run "$S/out" "$S/err" create-container -i a/b img
	expect_eq "$RC" 1 "bad ID"
	run "$S/out" "$S/err" create-container
	expect_eq "$RC" 1 "no image"
	run "$S/out" "$S/err" create-container img img
	expect_eq "$RC" 1 "two images"
	expect_eq "$(layer_count)" "$n" "no layer left by refusals"
	# --hostuidmap alone is accepted (there are no maps).
	run "$S/out" "$S/err" create-container --hostuidmap --hostgidmap -n plain img
	expect_eq "$RC" 0 "--hostuidmap"
	# A container's layer cannot be a parent.
	run "$S/out" "$S/err" create-layer $l
	expect_eq "$RC" 1 "create-layer on a container's layer"
	grep -q "layer of container $C1" "$S/err" || die "message: $(cat "$S/err")"
}

test_list_and_lookup() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	"$CSTOR" $G create-container -i $C2 i2 >/dev/null
	printf x | "$CSTOR" $G set-container-data web k1
	expect_eq "$("$CSTOR" $G containers)" "$C1
	name: web
	data: k1
$C2" "containers"
	local recs; recs=$(cat "$S/g/vfs-containers/containers.json")
	expect_eq "$("$CSTOR" $G containers -j)" "$recs" "containers -j"
	local l1; l1=$(layer_of $C1)
	# By ID, name, layer ID, unique ID prefix.
	for ref in $C1 web $l1 cccc1; do
		expect_eq "$("$CSTOR" $G container $ref)" "ID: $C1
Name: web
Image: img
Image name: i1
Image name: i2
Size: 1
Layer: $l1
Data: k1" "container $ref"
	done
	# Size counts the layer's changes, the data and both directories.
	local d; d=$("$CSTOR" $G get-container-dir web)
	printf 1234 >"$d/f"
	printf 12 >"$("$CSTOR" $G get-container-run-dir web)/g"
	printf abc >"$S/g/vfs/dir/$l1/new"
	expect_eq "$("$CSTOR" $G container web | grep Size)" "Size: 10" "size 3+1+4+2"
	run "$S/out" "$S/err" container -j web nope
	expect_eq "$RC:$(cat "$S/out")" "1:[$(jq_py "$S/g/vfs-containers/containers.json" 'json.dumps(d[0],separators=(",",":"))')]" \
		"container -j with an unknown one"
	expect_eq "$(cat "$S/err")" "cstor: container: container not known: nope" "container error"
	run "$S/out" "$S/err" container cccc
	expect_eq "$RC" 1 "ambiguous prefix"
	grep -q ambiguous "$S/err" || die "message: $(cat "$S/err")"
	run "$S/out" "$S/err" containers -j
	"$CSTOR" $G wipe
	expect_eq "$("$CSTOR" $G containers -j)" "[]" "containers -j of none"
}

test_container_data() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	expect_eq "$("$CSTOR" $G list-container-data -j web)" "null" "no data"
	printf data | "$CSTOR" $G set-container-data web Config
	printf data >"$S/d"
	"$CSTOR" $G setcontainerdata -f "$S/d" $C1 state.json
	expect_eq "$(cd "$S/g/vfs-containers/$C1" && ls | tr '\n' ' ')" "=Q29uZmln state.json " "file names"
	expect_eq "$("$CSTOR" $G list-container-data web)" "Config
state.json" "list-container-data"
	expect_eq "$("$CSTOR" $G listcontainerdata --json web)" '["Config","state.json"]' "list -j"
	expect_eq "$("$CSTOR" $G get-container-data web Config)" "data" "get"
	"$CSTOR" $G getcontainerdata --file "$S/out" web state.json
	cmp -s "$S/out" "$S/d" || die "get -f"
	expect_eq "$("$CSTOR" $G get-container-data-size web Config)" 4 "size"
	expect_eq "$("$CSTOR" $G get-container-data-digest web state.json)" "$DD" "digest"
	grep -q "\"big-data-digests\":{\"Config\":\"$DD\",\"state.json\":\"$DD\"}" \
		"$S/g/vfs-containers/containers.json" || die "digests map"
	# Sizes and digests missing from an older record are read from the file.
	python3 - "$S/g/vfs-containers/containers.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); del d[0]["big-data-sizes"]; del d[0]["big-data-digests"]
open(sys.argv[1], "w").write(json.dumps(d))
PY
	expect_eq "$("$CSTOR" $G get-container-data-size web Config):$("$CSTOR" $G get-container-data-digest web Config)" \
		"4:$DD" "size and digest from the file"
	for c in get-container-data get-container-data-size get-container-data-digest; do
		run "$S/out" "$S/err" $c web nokey
		expect_eq "$RC:$(cat "$S/out")" "1:" "$c of a missing item"
		run "$S/out" "$S/err" $c nope k
		expect_eq "$RC:$(cat "$S/err")" "1:cstor: $c: container not known: nope" "$c of an unknown container"
	done
	run "$S/out" "$S/err" set-container-data nope k </dev/null
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: set-container-data: container not known: nope" "set of an unknown container"
	run "$S/out" "$S/err" get-container-data web Config extra
	expect_eq "$RC" 1 "extra argument"
}

test_dirs_and_delete() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	[ ! -e "$S/g/vfs-containers/$C1" ] || die "directory made before it was asked for"
	expect_eq "$("$CSTOR" $G get-container-dir web)" "$S/g/vfs-containers/$C1/userdata" "get-container-dir"
	expect_eq "$("$CSTOR" $G getcontainerrundir cccc)" "$S/r/vfs-containers/$C1/userdata" "get-container-run-dir"
	expect_eq "$(stat -c %a "$S/g/vfs-containers/$C1/userdata"):$(stat -c %a "$S/r/vfs-containers/$C1/userdata")" "700:700" "modes"
	run "$S/out" "$S/err" get-container-dir nope
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: get-container-dir: container not known: nope" "unknown"
	printf x | "$CSTOR" $G set-container-data web k
	local l; l=$(layer_of web)
	# Mounted: refused, nothing deleted.
	"$CSTOR" $G mount web >/dev/null
	for c in delete-container delete; do
		run "$S/out" "$S/err" $c web
		expect_eq "$RC" 1 "$c of a mounted container"
		grep -q "web: delete container: layer $l is mounted" "$S/err" || die "message: $(cat "$S/err")"
	done
	"$CSTOR" $G container web >/dev/null || die "container deleted"
	"$CSTOR" $G unmount web >/dev/null
	run "$S/out" "$S/err" delete-container -j web nope
	expect_eq "$RC:$(cat "$S/out")" '1:{"nope":"container not known: nope","web":""}' "delete-container -j"
	[ ! -e "$S/g/vfs-containers/$C1" ] && [ ! -e "$S/r/vfs-containers/$C1" ] || die "directories left"
	[ ! -e "$S/g/vfs/dir/$l" ] || die "layer directory left"
	"$CSTOR" $G layer $l >/dev/null 2>&1 && die "layer record left"
	expect_eq "$(cat "$S/g/vfs-containers/containers.json")" "[]" "record gone"
	# delete (generic) of a container does the same.
	"$CSTOR" $G create-container -n c2 img >/dev/null
	l=$(layer_of c2)
	run "$S/out" "$S/err" delete c2
	expect_eq "$RC:$(cat "$S/err")" "0:" "delete of a container"
	"$CSTOR" $G layer $l >/dev/null 2>&1 && die "layer left by delete"
	# Its layer and image are in use while it exists.
	"$CSTOR" $G create-container -n c3 img >/dev/null
	l=$(layer_of c3)
	run "$S/out" "$S/err" delete-layer $l
	expect_eq "$RC:$(cat "$S/err")" "1:$l: delete layer $l: layer is used by container $("$CSTOR" $G container c3 | sed -n 's/^ID: //p')" \
		"delete-layer of a container's layer"
	for c in delete-image delete; do
		run "$S/out" "$S/err" $c img
		expect_eq "$RC" 1 "$c of an image in use"
		grep -q "image is in use by a container" "$S/err" || die "message: $(cat "$S/err")"
	done
	run "$S/out" "$S/err" delete-container
	expect_eq "$RC" 1 "delete-container without arguments"
}

test_names_metadata() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	"$CSTOR" $G create-container -i $C2 -n db img >/dev/null
	expect_eq "$("$CSTOR" $G get-names web)" "web" "get-names"
	run "$S/out" "$S/err" add-names -j -n extra -n db web
	expect_eq "$RC:$(cat "$S/out")" '0:["web","extra","db"]' "add-names steals db"
	expect_eq "$("$CSTOR" $G get-names -j $C2)" "[]" "stolen"
	expect_eq "$("$CSTOR" $G set-names -j -n x $C2)" '["x"]' "set-names"
	"$CSTOR" $G remove-names -n extra web
	expect_eq "$("$CSTOR" $G get-names $C1 | tr '\n' ' ')" "web db " "remove-names"
	expect_eq "$(jq_py "$S/g/vfs-containers/containers.json" '"names-history" in d[0]')" "False" "no history for containers"
	# A container and an image may share a name; images come first.
	"$CSTOR" $G add-names -n i1 $C2
	expect_eq "$("$CSTOR" $G get-names i1 | tr '\n' ' ')" "i1 i2 " "get-names finds the image first"
	"$CSTOR" $G set-metadata -m cm web
	expect_eq "$("$CSTOR" $G metadata web db)" "web: cm
db: cm" "metadata"
	expect_eq "$("$CSTOR" $G exists -c web)" "web: true" "exists -c"
	run "$S/out" "$S/err" exists -i web
	expect_eq "$RC" 1 "exists -i of a container"
	run "$S/out" "$S/err" exists -l web
	expect_eq "$RC" 1 "exists -l of a container"
	# Its layer ID finds it too.
	expect_eq "$("$CSTOR" $G exists -c -l "$(layer_of web)")" "$(layer_of web): true" "exists -c -l of its layer"
}

test_mount() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	local l; l=$(layer_of web)
	expect_eq "$("$CSTOR" $G mount web)" "$S/g/vfs/dir/$l" "mount a container"
	expect_eq "$("$CSTOR" $G mounted web | head -1)" "web mounted" "mounted"
	expect_eq "$("$CSTOR" $G layers -t | grep -A3 "─$l")" "    └─$l
      mount: $S/g/vfs/dir/$l
      container: $C1
      container name: web" "layers -t notes"
	expect_eq "$("$CSTOR" $G unmount web)" "web mountpoint unmounted" "unmount"
	# mount -r of an image mounts its top layer read-only; unmount of
	# the image name unmounts it silently (as Go).
	expect_eq "$("$CSTOR" $G mount -r i1)" "$S/g/vfs/dir/$L2" "mount -r image"
	expect_eq "$("$CSTOR" $G mounted -j $L2 | head -1)" "$L2 mounted" "its top layer is mounted"
	run "$S/out" "$S/err" unmount i1
	expect_eq "$RC:$(cat "$S/out")$(cat "$S/err")" "0:" "unmount of an image"
	expect_eq "$("$CSTOR" $G mounted $L2)" "" "unmounted"
	"$CSTOR" $G create-image -i empty >/dev/null
	run "$S/out" "$S/err" mount -r empty
	expect_eq "$RC:$(cat "$S/err")" "1:image has no layers: empty while mounting empty" "mount -r of an image without layers"
}

test_plain_layers_notes() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web -n www img >/dev/null
	local l; l=$(layer_of web)
	expect_eq "$("$CSTOR" $G layers)" "$L1
	name: base
$L2
	name: top
	image: img
		name: i1
		name: i2
$l
	container: $C1
		name: web
		name: www" "layers with container notes"
}

test_read_only_image() {
	setup
	local R; R=$(t_store)
	local RG="-g $R/g -R $R/r -s vfs"
	"$CSTOR" $RG create-layer -i rl >/dev/null
	echo hi >"$R/g/vfs/dir/rl/hello"
	"$CSTOR" $RG create-image -i rimg -n rname rl >/dev/null
	mount --bind "$R/g" "$R/g" && mount -o remount,bind,ro "$R/g" "$R/g" ||
		skip "cannot make a read-only bind mount"
	local before; before=$(cd "$R/g" && find . -printf '%p %s %T@ %m\n' | sort)
	G="$G --storage-opt vfs.imagestore=$R/g"
	run "$S/out" "$S/err" create-container -i $C1 -n rc rname
	expect_eq "$RC:$(cat "$S/err")" "0:" "container of a read-only store's image"
	local l; l=$(layer_of rc)
	expect_eq "$("$CSTOR" $G layer $l | grep Parent)" "Parent: rl" "parent in the read-only store"
	expect_eq "$(cat "$("$CSTOR" $G mount rc)/hello")" "hi" "the layer starts with its parent's content"
	"$CSTOR" $G unmount rc >/dev/null
	"$CSTOR" $G delete-container rc
	expect_eq "$(cd "$R/g" && find . -printf '%p %s %T@ %m\n' | sort)" "$before" "nothing written in the read-only store"
	"$CSTOR" $G layer rl >/dev/null || die "read-only layer gone"
}

test_wipe() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	"$CSTOR" $G create-container -i $C2 i1 >/dev/null
	"$CSTOR" $G get-container-dir web >/dev/null
	"$CSTOR" $G get-container-run-dir web >/dev/null
	printf x | "$CSTOR" $G set-image-data img k
	"$CSTOR" $G create-layer -i lone >/dev/null
	# Nothing goes while a layer is mounted.
	"$CSTOR" $G mount lone >/dev/null
	run "$S/out" "$S/err" wipe -j
	expect_eq "$RC:$(cat "$S/out")" "1:{}" "wipe -j with a mounted layer"
	grep -q "^cstor: wipe: layer lone is mounted" "$S/err" || die "message: $(cat "$S/err")"
	expect_eq "$("$CSTOR" $G containers | grep -c cccc)" 2 "containers kept"
	"$CSTOR" $G unmount lone >/dev/null
	run "$S/out" "$S/err" wipe --json
	expect_eq "$RC:$(cat "$S/out")$(cat "$S/err")" '0:""' "wipe -j"
	for f in g/vfs-containers/containers.json g/vfs-images/images.json g/vfs-layers/layers.json; do
		expect_eq "$(cat "$S/$f")" "[]" "$f after wipe"
	done
	# The lookup indexes (a cache of a state now gone) may stay.
	expect_eq "$(ls "$S/g/vfs-containers" "$S/g/vfs-images" "$S/g/vfs/dir" "$S/r/vfs-containers" | grep -v ':$' | grep -v '^$' |
		grep -v '^cstor-.*\.index$' | tr '\n' ' ')" \
		"containers.json containers.lock images.json images.lock " "no directories left"
	run "$S/out" "$S/err" wipe
	expect_eq "$RC:$(cat "$S/out")$(cat "$S/err")" "0:" "wipe of an empty store"
}

test_parent_owners() {
	setup
	"$CSTOR" $G create-container -i $C1 -n web img >/dev/null
	# Without ID mappings, nothing is unmapped.
	expect_eq "$("$CSTOR" $G layer-parent-owners $L1 top)" "ID: $L1
ID: $L2" "layer-parent-owners (plain prints no empty lists)"
	expect_eq "$("$CSTOR" $G layer-parent-owners -j $L1)" "{\"ID\":\"$L1\",\"UIDs\":null,\"GIDs\":null}" "-j"
	expect_eq "$("$CSTOR" $G container-parent-owners web)" "ID: $C1
UIDs: []
GIDs: []" "container-parent-owners (always prints both)"
	run "$S/out" "$S/err" container-parent-owners nope web
	expect_eq "$RC:$(cat "$S/out")" "1:ID: $C1
UIDs: []
GIDs: []" "an unknown container"
	# A layer with ID maps (as Go writes them): root-owned parents of its
	# mount point are unmapped; it must be mounted to know them.
	python3 - "$S/g/vfs-layers/layers.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d[0]["uidmap"] = [{"container_id": 0, "host_id": 100000, "size": 65536}]
d[0]["gidmap"] = [{"container_id": 0, "host_id": 200000, "size": 1000}]
open(sys.argv[1], "w").write(json.dumps(d))
PY
	run "$S/out" "$S/err" layer-parent-owners $L1
	expect_eq "$RC:$(cat "$S/err")" "1:LayerParentOwner: layer is not mounted" "not mounted"
	"$CSTOR" $G mount $L1 >/dev/null
	chown 100005:7 "$S/g/vfs/dir"
	expect_eq "$("$CSTOR" $G layer-parent-owners $L1)" "ID: $L1
UIDs: [0]
GIDs: [0 7]" "unmapped owners"
	expect_eq "$("$CSTOR" $G layer-parent-owners --json $L1)" "{\"ID\":\"$L1\",\"UIDs\":[0],\"GIDs\":[0,7]}" "--json"
	"$CSTOR" $G unmount $L1 >/dev/null
}

t_begin
t_run test_create_container
t_run test_list_and_lookup
t_run test_container_data
t_run test_dirs_and_delete
t_run test_names_metadata
t_run test_mount
t_run test_plain_layers_notes
t_run test_read_only_image
t_run test_wipe
t_run test_parent_owners
t_end
