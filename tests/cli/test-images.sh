#!/bin/bash
# The image commands of cstor on their own: create-image, images, image,
# images-by-digest, delete-image, the image data commands, names and
# metadata of images through the generic commands, the layer-in-use checks,
# read-only image stores (made really read-only with a read-only bind mount),
# and images.json as containers/storage writes it.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
L3=3333333333333333333333333333333333333333333333333333333333333333
I1=aaaa111111111111111111111111111111111111111111111111111111111111
I2=aaaa222222222222222222222222222222222222222222222222222222222222
D0=sha256:0000000000000000000000000000000000000000000000000000000000000000
# sha256 of "hello", "cfg", "m2"
DH=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
DM2=sha256:29c1b289e7522195b362e44f54e05470b69ad20540ab60a18a05e5bf6951f13d

# A store with L1 (base) <- L2 (mid) <- L3 (top). Sets S and G.
setup() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	"$CSTOR" $G create-layer -i $L1 -n base >/dev/null
	"$CSTOR" $G create-layer -i $L2 -n mid $L1 >/dev/null
	"$CSTOR" $G create-layer -i $L3 -n top $L2 >/dev/null
}

# run OUT ERR CMD...: run cstor with the store flags; sets RC.
run() {
	local out=$1 err=$2; shift 2
	RC=0
	"$CSTOR" $G "$@" >"$out" 2>"$err" || RC=$?
}

# The keys of each record of a JSON file, in order.
keys_of() {
	python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])): print(",".join(r.keys()))' "$1"
}

# Evaluate a python expression on the parsed JSON file (bound to d).
jq_py() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

test_create_image() {
	setup
	run "$S/out" "$S/err" create-image -i $I1 -n foo --name bar -m meta $L3
	expect_eq "$RC:$(cat "$S/out")" "0:$I1
	foo
	bar" "create-image plain output"
	[ ! -s "$S/err" ] || die "stderr: $(cat "$S/err")"
	local f=$S/g/vfs-images/images.json
	expect_eq "$(keys_of "$f")" "id,names,layer,metadata,created" "record keys in Go's order"
	expect_eq "$(jq_py "$f" 'd[0]["layer"]')" "$L3" "top layer ID"
	expect_eq "$(stat -c %a "$f"):$(stat -c %a "$S/g/vfs-images")" "600:700" "modes"
	[ "$(stat -c %s "$S/g/vfs-images/images.lock")" = 64 ] || die "no token in images.lock"
	# JSON, digest, names by layer name, -f wins over -m, long flags.
	printf 'from\nfile\n' >"$S/md"
	run "$S/out" "$S/err" create-image --json --id=$I2 --digest=$D0 -m ignored -f "$S/md" mid
	expect_eq "$RC" 0 "create-image -j"
	expect_eq "$(sed 's/"created":"[^"]*"/"created":"T"/' "$S/out")" \
		"{\"id\":\"$I2\",\"digest\":\"$D0\",\"layer\":\"$L2\",\"metadata\":\"from\\nfile\\n\",\"created\":\"T\"}" \
		"create-image -j output"
	# Without a layer; a random ID (64 hex digits, not all-digit start).
	run "$S/out" "$S/err" create-image -n nolayer
	expect_eq "$RC" 0 "create-image without a layer"
	local rid; rid=$(head -1 "$S/out")
	[[ $rid =~ ^[0-9a-f]{64}$ ]] || die "random ID: $rid"
	[[ ${rid:0:12} =~ ^[0-9]+$ ]] && die "all-digit prefix: $rid"
	expect_eq "$(jq_py "$f" '"layer" in d[2]')" "False" "no layer key without a layer"
	# Refusals: duplicate ID, a name in use (not stolen at creation), an
	# unknown layer, an invalid digest, a bad ID, extra arguments.
	run "$S/out" "$S/err" create-image -i $I1 $L1
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-image: an image with ID \"$I1\" already exists" "duplicate ID"
	run "$S/out" "$S/err" create-image -n foo $L1
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-image: image name \"foo\" is already associated with image \"$I1\"" "name in use"
	run "$S/out" "$S/err" create-image nosuch
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: create-image: layer not known: nosuch" "unknown layer"
	for d in sha256:abc md5:0123 nonsense; do
		run "$S/out" "$S/err" create-image -d $d $L1
		expect_eq "$RC" 1 "digest $d"
		grep -q "validating image digest \"$d\"" "$S/err" || die "digest message: $(cat "$S/err")"
	done
	run "$S/out" "$S/err" create-image -i a/b $L1
	expect_eq "$RC" 1 "ID with a slash"
	run "$S/out" "$S/err" create-image $L1 $L2
	expect_eq "$RC" 1 "two layers"
	grep -q "too many arguments" "$S/err" || die "too many arguments message"
	run "$S/out" "$S/err" createimage --frob
	expect_eq "$RC" 125 "bad flag"
	expect_eq "$(jq_py "$f" 'len(d)')" 3 "images after the refusals"
	# Names given twice are recorded once.
	run "$S/out" "$S/err" create-image -n dup -n dup -n dup2 $L1
	expect_eq "$(tail -n +2 "$S/out")" "	dup
	dup2" "deduplicated names"
}

test_images_list() {
	setup
	run "$S/out" "$S/err" images
	expect_eq "$RC:$(cat "$S/out")" "0:" "images of an empty store"
	run "$S/out" "$S/err" images -j
	expect_eq "$(cat "$S/out")" "null" "images -j of an empty store (Go's nil slice)"
	"$CSTOR" $G create-image -i $I1 -n foo -n bar $L3 >/dev/null
	"$CSTOR" $G create-image -i $I2 -d $D0 $L1 >/dev/null
	expect_eq "$("$CSTOR" $G images)" "$I1
	name: foo
	name: bar
$I2
	digest: $D0" "images"
	for q in -q --quiet; do
		expect_eq "$("$CSTOR" $G images $q)" "$I1
$I2" "images $q"
	done
	local recs; recs=$(cat "$S/g/vfs-images/images.json")
	expect_eq "$("$CSTOR" $G images --json)" "$recs" "images -j prints the records"
	expect_eq "$("$CSTOR" $G image -j foo $I2)" "$recs" "image -j in argument order"
	run "$S/out" "$S/err" image foo aaaa2
	expect_eq "$RC:$(cat "$S/out")" "0:ID: $I1
Name: foo
Name: bar
Top Layer: $L3
Size: 0
ID: $I2
Top Layer: $L1
Digest: $D0
Size: 0" "image plain output (by name and ID prefix)"
	run "$S/out" "$S/err" image nope foo
	expect_eq "$RC:$(head -1 "$S/out")" "1:ID: $I1" "image with an unknown argument"
	expect_eq "$(cat "$S/err")" "cstor: image: image not known: nope" "image error"
	run "$S/out" "$S/err" image -j nope
	expect_eq "$RC:$(cat "$S/out")" "1:[]" "image -j with nothing matched"
	run "$S/out" "$S/err" image aaaa
	expect_eq "$RC" 1 "ambiguous prefix"
	grep -q ambiguous "$S/err" || die "ambiguous message: $(cat "$S/err")"
	# The size counts the layers (computed: no recorded diff sizes here)
	# and the big data.
	echo -n 12345 >"$S/five"
	"$CSTOR" $G set-image-data -f "$S/five" foo k
	echo -n abc >"$S/g/vfs/dir/$L2/file"
	expect_eq "$("$CSTOR" $G image foo | grep Size)" "Size: 8" "size: 3 bytes in a layer + 5 of data"
	run "$S/out" "$S/err" image
	expect_eq "$RC" 1 "image without arguments"
}

test_image_data() {
	setup
	"$CSTOR" $G create-image -i $I1 -n img $L1 >/dev/null
	run "$S/out" "$S/err" list-image-data -j img
	expect_eq "$RC:$(cat "$S/out")" "0:null" "no data: null"
	printf hello | "$CSTOR" $G set-image-data img manifest
	printf cfg >"$S/cfg"
	"$CSTOR" $G set-image-data -f "$S/cfg" $I1 Config
	printf m2 | "$CSTOR" $G setimagedata img manifest-sha256:abc
	printf 'x\0y' | "$CSTOR" $G set-image-data --file=/dev/stdin img abc.def9
	# Files named as Go names them: plain keys as is, others "=" + base64.
	expect_eq "$(cd "$S/g/vfs-images/$I1" && ls | sort | tr '\n' ' ')" \
		"=Q29uZmln =bWFuaWZlc3Qtc2hhMjU2OmFiYw== abc.def9 manifest " "data file names"
	expect_eq "$(stat -c %a "$S/g/vfs-images/$I1"):$(stat -c %a "$S/g/vfs-images/$I1/manifest")" "700:600" "data modes"
	expect_eq "$("$CSTOR" $G list-image-data img)" "manifest
Config
manifest-sha256:abc
abc.def9" "list-image-data"
	expect_eq "$("$CSTOR" $G listimagedata --json img)" '["manifest","Config","manifest-sha256:abc","abc.def9"]' "list-image-data -j"
	"$CSTOR" $G get-image-data img abc.def9 >"$S/got"
	cmp -s "$S/got" <(printf 'x\0y') || die "get-image-data of binary data"
	"$CSTOR" $G getimagedata -f "$S/got2" img Config
	cmp -s "$S/got2" "$S/cfg" || die "get-image-data -f"
	expect_eq "$("$CSTOR" $G get-image-data-size img Config):$("$CSTOR" $G getimagedatasize img abc.def9)" "3:3" "sizes"
	expect_eq "$("$CSTOR" $G get-image-data-digest img manifest)" "$DH" "manifest digest: sha256 of the bytes"
	expect_eq "$("$CSTOR" $G getimagedatadigest img manifest-sha256:abc)" "$DM2" "second manifest digest"
	# The record: sizes and digests maps with sorted keys, the digest
	# field from the first manifest, the digests list for lookups.
	local f=$S/g/vfs-images/images.json
	expect_eq "$(keys_of "$f")" "id,digest,names,layer,big-data-names,big-data-sizes,big-data-digests,created" "keys"
	grep -q '"big-data-sizes":{"Config":3,"abc.def9":3,"manifest":5,"manifest-sha256:abc":2}' "$f" || die "sizes map: $(cat "$f")"
	expect_eq "$(jq_py "$f" 'd[0]["digest"]')" "$DH" "digest from the first manifest"
	expect_eq "$("$CSTOR" $G images)" "$I1
	name: img
	digest: $DH
	digest: $DM2
	data: manifest
	data: Config
	data: manifest-sha256:abc
	data: abc.def9" "images with data"
	for d in $DH $DM2; do
		expect_eq "$("$CSTOR" $G images-by-digest -q $d)" "$I1" "images-by-digest $d"
	done
	expect_eq "$("$CSTOR" $G images-by-digest -j $D0)" "[]" "images-by-digest of no image"
	run "$S/out" "$S/err" images-by-digest sha256:abc
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: images-by-digest: sha256:abc: invalid checksum digest length" "invalid digest"
	# Setting the same data again changes nothing (Go does not save then).
	local tok; tok=$(od -An -tx1 "$S/g/vfs-images/images.lock")
	printf cfg | "$CSTOR" $G set-image-data img Config
	expect_eq "$(od -An -tx1 "$S/g/vfs-images/images.lock")" "$tok" "no save for unchanged data"
	printf cfg2 | "$CSTOR" $G set-image-data img Config
	[ "$(od -An -tx1 "$S/g/vfs-images/images.lock")" != "$tok" ] || die "no save for changed data"
	expect_eq "$("$CSTOR" $G get-image-data-size img Config)" 4 "new size"
	# Missing items and images.
	run "$S/out" "$S/err" get-image-data img nokey
	expect_eq "$RC:$(cat "$S/out")" "1:" "missing item"
	grep -q 'data item "nokey" does not exist' "$S/err" || die "message: $(cat "$S/err")"
	run "$S/out" "$S/err" get-image-data -f "$S/nofile" img nokey
	[ ! -e "$S/nofile" ] || die "a file was left for a missing item"
	for c in get-image-data-size get-image-data-digest; do
		run "$S/out" "$S/err" $c img nokey
		expect_eq "$RC" 1 "$c of a missing item"
		grep -q "not known" "$S/err" || die "$c message: $(cat "$S/err")"
	done
	for c in list-image-data get-image-data get-image-data-size set-image-data; do
		run "$S/out" "$S/err" $c nope k </dev/null
		[ $c = list-image-data ] && run "$S/out" "$S/err" $c nope
		expect_eq "$RC:$(cat "$S/err")" "1:cstor: $c: image not known: nope" "$c of an unknown image"
	done
	run "$S/out" "$S/err" set-image-data img "" </dev/null
	expect_eq "$RC" 1 "empty key"
	run "$S/out" "$S/err" get-image-data img Config extra
	expect_eq "$RC" 1 "extra argument"
	# A key whose base64 has a '/' cannot be stored (Go would fail too).
	run "$S/out" "$S/err" set-image-data img '???' </dev/null
	expect_eq "$RC" 1 "key with a slash in its file name"
}

test_image_names() {
	setup
	"$CSTOR" $G create-image -i $I1 -n foo $L3 >/dev/null
	"$CSTOR" $G create-image -i $I2 -n bar $L1 >/dev/null
	local f=$S/g/vfs-images/images.json
	# add-names = set-names(old + new); bar is taken from I2.
	run "$S/out" "$S/err" add-names -n x -n bar $I1
	expect_eq "$RC:$(cat "$S/out")" "0:" "add-names"
	expect_eq "$("$CSTOR" $G get-names $I1 | tr '\n' ' ')" "foo x bar " "names after add-names"
	expect_eq "$("$CSTOR" $G get-names -j $I2)" "[]" "the stolen name is gone"
	expect_eq "$(jq_py "$f" 'd[0]["names-history"]')" "['bar', 'x', 'foo']" "history: each name to the front"
	expect_eq "$(jq_py "$f" '"names-history" in d[1]')" "False" "no history at creation"
	run "$S/out" "$S/err" set-names -j -n a -n b -n a foo
	expect_eq "$RC:$(cat "$S/out")" '0:["a","b"]' "set-names -j by a name it replaces"
	expect_eq "$(jq_py "$f" 'd[0]["names-history"]')" "['b', 'a', 'bar', 'x', 'foo']" "history after set-names"
	run "$S/out" "$S/err" remove-names -j -n a $I1
	expect_eq "$RC:$(cat "$S/out")" '0:["b"]' "remove-names"
	run "$S/out" "$S/err" set-names -j $I2
	expect_eq "$RC:$(cat "$S/out")" "0:null" "set-names -j to nothing prints null (as Go)"
	# A layer and an image may share a name; lookups find the layer first.
	"$CSTOR" $G add-names -n top $I2
	expect_eq "$("$CSTOR" $G get-names top)" "top" "get-names finds the layer"
	expect_eq "$("$CSTOR" $G layers | grep -c $'^\tname: top')" 1 "the layer keeps its name"
	expect_eq "$("$CSTOR" $G image top | head -1)" "ID: $I2" "image top finds the image"
	run "$S/out" "$S/err" add-names -n q nope
	expect_eq "$RC:$(cat "$S/err")" "1:cstor: add-names: layer not known: nope" "add-names of an unknown object"
}

test_image_metadata_delete() {
	setup
	"$CSTOR" $G create-image -i $I1 -n img -m m0 $L3 >/dev/null
	expect_eq "$("$CSTOR" $G metadata img)" "img: m0" "metadata of an image"
	"$CSTOR" $G set-metadata -m m1 img
	expect_eq "$("$CSTOR" $G metadata -j img $L1)" "{\"$L1\":\"\",\"img\":\"m1\"}" \
		"metadata -j of an image and a layer"
	# exists: the kinds.
	expect_eq "$("$CSTOR" $G exists -i img)" "img: true" "exists -i"
	run "$S/out" "$S/err" exists -l img
	expect_eq "$RC:$(cat "$S/out")" "1:img: true" "exists -l of an image"
	run "$S/out" "$S/err" exists -c img
	expect_eq "$RC" 1 "exists -c of an image"
	run "$S/out" "$S/err" exists -i $L1
	expect_eq "$RC" 1 "exists -i of a layer"
	# delete of an image removes the record and its data, not its layers.
	printf x | "$CSTOR" $G set-image-data img k
	run "$S/out" "$S/err" delete -j img
	expect_eq "$RC:$(cat "$S/out")" '0:{"img":""}' "delete of an image"
	[ ! -e "$S/g/vfs-images/$I1" ] || die "image data directory left"
	expect_eq "$("$CSTOR" $G layers | grep -c '^[0-9]'):$(cat "$S/g/vfs-images/images.json")" "3:[]" "layers stay"
}

test_delete_image() {
	setup
	# img3 on L3, img2 on L2; L4 is another child of L1.
	local L4=4444444444444444444444444444444444444444444444444444444444444444
	"$CSTOR" $G create-image -i img3 $L3 >/dev/null
	"$CSTOR" $G create-image -i img2 -n two $L2 >/dev/null
	"$CSTOR" $G create-layer -i $L4 $L1 >/dev/null
	for t in -t --test; do
		run "$S/out" "$S/err" delete-image $t img3
		expect_eq "$RC:$(cat "$S/out"):$(cat "$S/err")" "0::img3: $L3" "delete-image $t (plain goes to stderr)"
	done
	run "$S/out" "$S/err" delete-image -t -j img3 two
	expect_eq "$RC:$(cat "$S/out")" "0:{\"img3\":{\"deleted-layers\":[\"$L3\"]},\"two\":{}}" "delete-image -t -j"
	expect_eq "$("$CSTOR" $G images -q | tr '\n' ' ')" "img3 img2 " "nothing deleted by -t"
	# A mounted layer to delete: refused, nothing deleted.
	"$CSTOR" $G mount $L3 >/dev/null
	run "$S/out" "$S/err" delete-image img3
	expect_eq "$RC" 1 "delete-image with a mounted layer"
	grep -q "img3: delete image: layer $L3 is mounted" "$S/err" || die "message: $(cat "$S/err")"
	"$CSTOR" $G image img3 >/dev/null || die "image deleted"
	"$CSTOR" $G unmount $L3 >/dev/null
	# L3 goes (L2 is img2's top layer).
	run "$S/out" "$S/err" deleteimage img3
	expect_eq "$RC:$(cat "$S/err")" "0:img3: $L3" "delete-image img3"
	[ ! -e "$S/g/vfs/dir/$L3" ] || die "layer directory left"
	# img2: L2 goes; L1 has another child (L4) and stays.
	run "$S/out" "$S/err" delete-image --json two nope
	expect_eq "$RC:$(cat "$S/out")" "1:{\"nope\":{\"error\":\"image not known: nope\"},\"two\":{\"deleted-layers\":[\"$L2\"]}}" "delete-image -j"
	expect_eq "$("$CSTOR" $G layers | grep -v name)" "$L1
$L4" "layers left"
	# A whole chain goes when nothing else uses it.
	"$CSTOR" $G create-layer -i $L2 $L4 >/dev/null
	"$CSTOR" $G create-image -i chain $L2 >/dev/null
	"$CSTOR" $G delete-layer base 2>/dev/null && die "deleted a parent"
	"$CSTOR" $G create-image -i other $L1 >/dev/null
	expect_eq "$("$CSTOR" $G delete-image chain 2>&1)" "chain: $L2
chain: $L4" "the chain stops at another image's top layer"
	expect_eq "$("$CSTOR" $G delete-image other 2>&1)" "other: $L1" "then the base"
	expect_eq "$(cat "$S/g/vfs-layers/layers.json"):$(cat "$S/g/vfs-images/images.json")" "[]:[]" "all gone"
	# The same argument twice: the second result wins, as in Go's map.
	"$CSTOR" $G create-image -i img >/dev/null
	run "$S/out" "$S/err" delete-image -j img img
	expect_eq "$RC:$(cat "$S/out")" '1:{"img":{"error":"image not known: img"}}' "repeated argument"
	run "$S/out" "$S/err" delete-image
	expect_eq "$RC" 1 "delete-image without arguments"
}

test_layer_in_use() {
	setup
	"$CSTOR" $G create-image -i img $L3 >/dev/null
	for c in delete-layer delete; do
		run "$S/out" "$S/err" $c $L3
		expect_eq "$RC:$(cat "$S/err")" "1:$L3: delete layer $L3: layer is used by image img" "$c of an image's top layer"
	done
	"$CSTOR" $G layer $L3 >/dev/null || die "top layer deleted"
	# A mapped top layer (written by Go for ID-mapped containers) too.
	"$CSTOR" $G create-layer -i mapped $L2 >/dev/null
	python3 - "$S/g/vfs-images/images.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d[0]["mapped-layers"] = ["mapped"]
open(sys.argv[1], "w").write(json.dumps(d, separators=(",", ":")))
PY
	run "$S/out" "$S/err" delete-layer mapped
	expect_eq "$RC:$(cat "$S/err")" "1:mapped: delete layer mapped: layer is used by image img" "mapped top layer"
	expect_eq "$("$CSTOR" $G image img | grep 'Top Layer')" "Top Layer: $L3
Top Layer: mapped" "image lists the mapped layer"
	# Mapped layers go first; L2's only other child is being deleted.
	expect_eq "$("$CSTOR" $G delete-image -t img 2>&1)" "img: mapped
img: $L3
img: $L2
img: $L1" "mapped layers are deleted first"
	"$CSTOR" $G delete-image img 2>/dev/null
	expect_eq "$(cat "$S/g/vfs-layers/layers.json")" "[]" "all deleted"
}

test_layers_notes() {
	setup
	"$CSTOR" $G create-image -i img -n i1 -n i2 $L3 >/dev/null
	"$CSTOR" $G create-image -i img2 $L3 >/dev/null
	expect_eq "$("$CSTOR" $G layers)" "$L1
	name: base
$L2
	name: mid
$L3
	name: top
	image: img
		name: i1
		name: i2
	image: img2" "layers with image notes"
	expect_eq "$("$CSTOR" $G layers -t)" "(base)
└─$L1
  name: base
  └─$L2
    name: mid
    └─$L3
      name: top
      image: img
      image name: i1
      image name: i2
      image: img2" "layers -t with image notes"
	"$CSTOR" $G layers -j | grep -q image && die "layers -j has image notes"
	return 0
}

test_images_json() {
	setup
	"$CSTOR" $G create-image -i $I1 -n foo $L1 >/dev/null
	local f=$S/g/vfs-images/images.json
	# Unknown keys (a newer Go) are kept; the created text is kept as is;
	# records written by hand are rewritten in Go's form.
	cat >"$f" <<EOF
[{"id":"$I1","names":["foo","dup"],"layer":"$L1","created":"2020-01-02T03:04:05.5+02:00","future":{"b":1,"a":[true]},"flags":{"z":1,"a":"x"}},
 {"id":"$I2","names":["dup"],"big-data-names":["manifest"],"big-data-digests":{"manifest":"$DH"},"big-data-sizes":{"manifest":5},"created":"2021-01-01T00:00:00Z"}]
EOF
	# The later record keeps a duplicated name; the digest comes from the
	# manifest item when the record has none.
	expect_eq "$("$CSTOR" $G images)" "$I1
	name: foo
$I2
	name: dup
	digest: $DH
	data: manifest" "images of a hand-written file"
	"$CSTOR" $G set-metadata -m m $I1
	expect_eq "$(cat "$f")" "[{\"id\":\"$I1\",\"names\":[\"foo\"],\"layer\":\"$L1\",\"metadata\":\"m\",\"created\":\"2020-01-02T03:04:05.5+02:00\",\"flags\":{\"a\":\"x\",\"z\":1},\"future\":{\"a\":[true],\"b\":1}},{\"id\":\"$I2\",\"digest\":\"$DH\",\"names\":[\"dup\"],\"big-data-names\":[\"manifest\"],\"big-data-sizes\":{\"manifest\":5},\"big-data-digests\":{\"manifest\":\"$DH\"},\"created\":\"2021-01-01T00:00:00Z\"}]" \
		"rewritten in Go's form, unknown keys kept"
	# A corrupt file is an error naming it, never an empty store.
	printf '[{"id":' >"$f"
	for c in images "image $I1" "create-image $L1" "set-names -n x $I1"; do
		run "$S/out" "$S/err" $c
		expect_eq "$RC" 1 "$c with a corrupt images.json"
		grep -q "images.json" "$S/err" || die "$c message: $(cat "$S/err")"
	done
	expect_eq "$(cat "$f")" '[{"id":' "the corrupt file is left alone"
	# So is an invalid digest or ID.
	echo "[{\"id\":\"x\",\"digest\":\"sha256:zz\"}]" >"$f"
	run "$S/out" "$S/err" images
	expect_eq "$RC" 1 "invalid digest in images.json"
	echo '[{"id":"../x"}]' >"$f"
	run "$S/out" "$S/err" images
	expect_eq "$RC" 1 "ID climbing out of the store"
	# Empty, null and [] are no images.
	for c in "" "null" "[]" " "; do
		printf '%s' "$c" >"$f"
		run "$S/out" "$S/err" images
		expect_eq "$RC:$(cat "$S/out")" "0:" "images.json '$c'"
	done
}

# A read-only image store: prepared by cstor, then made really read-only
# with a read-only bind mount (root ignores file modes).
test_read_only_store() {
	setup
	local R; R=$(t_store)
	local RG="-g $R/g -R $R/r -s vfs"
	"$CSTOR" $RG create-layer -i rbase >/dev/null
	"$CSTOR" $RG create-layer -i rtop rbase >/dev/null
	"$CSTOR" $RG create-image -i rimg -n rname -m rmeta rtop >/dev/null
	printf hello | "$CSTOR" $RG set-image-data rimg manifest
	printf cfg | "$CSTOR" $RG set-image-data rimg Config
	"$CSTOR" $G create-image -i pimg -n pname $L1 >/dev/null
	mount --bind "$R/g" "$R/g" && mount -o remount,bind,ro "$R/g" "$R/g" ||
		skip "cannot make a read-only bind mount"
	local before; before=$(cd "$R/g" && find . -printf '%p %s %T@ %m\n' | sort; cat vfs-images/images.lock | od -An -tx1)
	G="$G --storage-opt vfs.imagestore=$R/g"
	expect_eq "$("$CSTOR" $G images -q | tr '\n' ' ')" "pimg rimg " "primary images first"
	expect_eq "$("$CSTOR" $G image rname)" "ID: rimg
Name: rname
Top Layer: rtop
Digest: $DH
Data: manifest
Data: Config
Size: 8
Read Only: true" "image of a read-only store"
	expect_eq "$("$CSTOR" $G get-image-data rimg Config)" "cfg" "data of a read-only image"
	expect_eq "$("$CSTOR" $G get-image-data-digest rname manifest)" "$DH" "digest of a read-only image's data"
	expect_eq "$("$CSTOR" $G metadata rimg)" "rimg: rmeta" "metadata of a read-only image"
	expect_eq "$("$CSTOR" $G exists -i rname)" "rname: true" "exists -i"
	expect_eq "$("$CSTOR" $G images-by-digest -q $DH)" "rimg" "images-by-digest finds it"
	expect_eq "$("$CSTOR" $G layers -t)" "(base)
├─$L1
│ name: base
│ image: pimg
│ image name: pname
│ └─$L2
│   name: mid
│   └─$L3
│     name: top
└─rbase
  └─rtop
    image: rimg
    image name: rname" "layers -t with both stores"
	# Nothing of it can be changed (its names change on a copy in the
	# primary store, as in newest Go: test-go-parity-cmds.sh).
	for c in "set-metadata -m x rimg" "delete-image rimg" "delete rimg" "delete-layer rtop"; do
		run "$S/out" "$S/err" $c </dev/null
		expect_eq "$RC" 1 "$c"
		grep -q "read-only" "$S/err" || die "$c message: $(cat "$S/err")"
	done
	printf x | { run "$S/out" "$S/err" set-image-data rimg k; expect_eq "$RC" 1 "set-image-data"; }
	grep -q "read-only" "$S/err" || die "set-image-data message: $(cat "$S/err")"
	# A primary image may use its layers.
	"$CSTOR" $G create-image -i onro rtop >/dev/null || die "create-image on a read-only layer"
	expect_eq "$("$CSTOR" $G delete-image onro 2>&1)" "" "deleting it leaves the read-only layers"
	local after; after=$(cd "$R/g" && find . -printf '%p %s %T@ %m\n' | sort; cat vfs-images/images.lock | od -An -tx1)
	expect_eq "$after" "$before" "nothing written in the read-only store"
	# A read-only store without images.json is an empty one.
	local E; E=$(t_store)
	expect_eq "$("$CSTOR" $G --storage-opt vfs.imagestore=$E/g images -q | tr '\n' ' ')" "pimg rimg " "missing images.json"
	[ ! -e "$E/g/vfs-images" ] || die "created a directory in a read-only store"
}

# cstor holds images.lock the way Go does: a process holding it exclusively
# makes `images` wait.
test_images_lock() {
	setup
	local HOLD=${CSTOR_BUILD:-$(dirname "$CSTOR")/../..}/tests/hold-lock
	[ -x "$HOLD" ] || skip "tests/hold-lock is not built"
	"$CSTOR" $G create-image -i img >/dev/null
	mkfifo "$S/ctl"
	"$HOLD" "$S/g/vfs-images/images.lock" w <"$S/ctl" >"$S/hold.out" &
	local hold=$!
	exec 7>"$S/ctl"
	local n=0
	until grep -q locked "$S/hold.out"; do sleep 0.05; n=$((n + 1)); [ $n -lt 200 ] || die "no lock"; done
	"$CSTOR" $G images >"$S/images.out" 7>&- &
	local c=$!
	sleep 1
	kill -0 $c 2>/dev/null || die "images did not wait for the lock"
	echo >&7; exec 7>&-
	wait $hold
	wait $c || die "images failed"
	expect_eq "$(cat "$S/images.out")" "img" "images after the lock was released"
}

t_begin
t_run test_create_image
t_run test_images_list
t_run test_image_data
t_run test_image_names
t_run test_image_metadata_delete
t_run test_delete_image
t_run test_layer_in_use
t_run test_layers_notes
t_run test_images_json
t_run test_read_only_store
t_run test_images_lock
t_end
