#!/bin/bash
# Hostile or corrupt metadata (issue #11, docs/hostile-input.md): record
# files that are truncated, garbage or nested past any stack, duplicate IDs
# and names, IDs that are paths, tar-splits that point outside their layer
# or lie about sizes, holder state that is garbage, and mount records that
# point outside the store. Each is a clear error naming the file (or is
# read the way Go reads it), never a crash, never a write, and never an act
# on a path outside the store.
. "$(dirname "$0")/../lib.sh"
# Every test here hands cstor stores that are broken on purpose.
T_UNCHECKED_FILE="hostile stores made by hand"

need_root() { [ "$(id -u)" = 0 ] || skip "needs root (real mounts)"; }
need_py() { command -v python3 >/dev/null || skip "python3 is not installed"; }

# run OUT ERR CMD...: $RC gets the exit code; a crash (a signal, a stack
# overflow) or a hang is a failure by itself.
run() {
	local out=$1 err=$2
	shift 2
	RC=0
	timeout 60 "$@" >"$out" 2>"$err" || RC=$?
	[ $RC -ne 124 ] || die "$*: hung"
	[ $RC -le 1 ] || die "$*: exit $RC (crashed?): $(head -c 300 "$err")"
}

# Everything in the store but the lock files (a failed writer may have
# taken a lock), read with stat only, and every file's content.
# (The lookup indexes, cstor-*.index, are a cache any reader may write
# after loading another, sound records file: left out, with the
# directories' mtimes that their replacement changes.)
store_state() {
	(cd "$1" && find g r ! -name '*.lock' ! -name 'cstor-*.index' ! -type d \
		-printf '%p %y %m %s %T@\n' | sort &&
		find g r -type d -printf '%p %y %m\n' | sort &&
		find g r -type f ! -name '*.lock' ! -name 'cstor-*.index' -exec md5sum {} + | sort)
}

# A vfs store with a layer L under image I and container K, and a free
# layer F (mounted once, so that the run root has holder state).
setup() {
	S=$(t_store)
	C="$CSTOR -g $S/g -R $S/r -s vfs"
	L=$($C create-layer -n lname | head -1)
	F=$($C create-layer -n fname | head -1)
	I=$($C create-image -n iname "$L" | head -1)
	K=$($C create-container -n kname "$I" | head -1)
	$C mount "$F" >/dev/null
	$C unmount "$F" >/dev/null
	printf '[{"id":"%s","names":["vname"],"parent":"%s","flags":{"Volatile":true}}]' \
		7777777777777777777777777777777777777777777777777777777777777777 "$L" \
		>"$S/g/vfs-layers/volatile-layers.json"
	mkdir -p "$S/g/vfs/dir/7777777777777777777777777777777777777777777777777777777777777777"
	[ -f "$S/r/vfs-layers/mountpoints.json" ] || echo '[]' >"$S/r/vfs-layers/mountpoints.json"
}

DEEP=$(head -c 100000 /dev/zero | tr '\0' '[')

# corrupt FILE KIND: write a broken version of FILE.
corrupt() {
	local f=$1 good=$2
	case $3 in
	truncated)
		head -c 25 "$good" >"$f"
		# A short file ("[]") is not cut by that.
		if cmp -s "$f" "$good"; then printf '[{"id":"%s","names"' "$F" >"$f"; fi
		;;
	garbage) head -c 4000 /dev/urandom >"$f" ;;
	not-utf8) printf '[{"id":"\xff\xfe"}]' >"$f" ;;
	deep) printf '%s' "$DEEP" >"$f" ;;
	deep-in-record) printf '[{"id":"%s","x":%s' "$F" "$DEEP" >"$f" ;;
	deep-object) printf '[{"id":"%s","x":%s' "$F" "$(head -c 60000 /dev/zero | sed 's/\x0/{"a":/g')" >"$f" ;;
	wrong-type) printf '{"id":"%s"}' "$F" >"$f" ;;
	esac
}

# Every record file, broken every way, under every command that reads it:
# exit 1 with the file's path in the message; nothing in the store changes.
test_corrupt_record_files() {
	setup
	local -A reads=(
		[g/vfs-layers/layers.json]="layers|mount $F|delete-layer $F|layer $F|create-layer"
		[g/vfs-layers/volatile-layers.json]="layers|mount $F|delete-layer $F|create-layer"
		[g/vfs-images/images.json]="images|image $I|delete-layer $F|create-image $F"
		[g/vfs-containers/containers.json]="containers|container $K|delete-layer $F|create-container $I"
		[r/vfs-layers/mountpoints.json]="mount $F|unmount $F|delete-layer $F"
	)
	local others="layers|images|containers|mount $F|unmount $F|mounted $F|delete-layer $F|shutdown"
	local rel kind cmd
	for rel in "${!reads[@]}"; do
		local f=$S/$rel
		cp "$f" "$S/good"
		for kind in truncated garbage not-utf8 deep deep-in-record deep-object wrong-type; do
			corrupt "$f" "$S/good" "$kind"
			cp "$f" "$S/bad"
			local before; before=$(store_state "$S")
			local IFS='|'
			for cmd in ${reads[$rel]}; do
				IFS=' '
				run "$S/out" "$S/err" $C $cmd
				expect_eq "$RC" 1 "$cmd with $rel $kind"
				grep -qF "$f" "$S/err" || die "$cmd with $rel $kind: message does not name $f: $(head -c 300 "$S/err")"
				IFS='|'
			done
			IFS=$' \t\n'
			[ "$(store_state "$S")" = "$before" ] || {
				diff <(echo "$before") <(store_state "$S") | head >&2
				die "the store changed with a $kind $rel"
			}
			# Commands that may not need it: whatever they do, no
			# crash, and the file is left as it is.
			IFS='|'
			for cmd in $others; do
				IFS=' '
				run "$S/out" "$S/err" $C $cmd
				IFS='|'
			done
			IFS=$' \t\n'
			cmp -s "$f" "$S/bad" || die "$rel ($kind) was rewritten"
		done
		cp "$S/good" "$f"
	done
	# Repaired by hand, the store works again.
	$C layers | grep -qx "$F" || die "layers after the files were restored"
	$C delete-layer "$F" || die "delete-layer after the files were restored"
}

# Nesting jansson accepts (below its depth limit) in a key cstor does not
# know is kept and written back, without recursing out of stack.
test_deep_unknown_key_kept() {
	need_py
	setup
	local f=$S/g/vfs-layers/layers.json depth=2000
	python3 -c "
import json, sys
sys.setrecursionlimit(100000)
l = json.load(open('$f'))
l[0]['future'] = json.loads('[' * $depth + ']' * $depth)
json.dump(l, open('$f', 'w'))
" || die "python3 could not write the nested key"
	$C set-names -n renamed "$L"
	python3 -c "
import json, sys
sys.setrecursionlimit(100000)
l = json.load(open('$f'))
d, v = 0, [r for r in l if r['id'] == '$L'][0]['future']
while v: v, d = v[0], d + 1
assert d == $depth - 1, d
" || die "the nested key was not kept"
}

# Side files cstor parses: an image's manifest and config (export), and an
# export destination's index.json. Errors name the item, nothing written.
test_corrupt_json_side_files() {
	setup
	local kind
	for kind in truncated garbage deep; do
		corrupt "$S/item" /dev/null "$kind"
		[ "$kind" != truncated ] || printf '{"schemaVersion":2,"config":{' >"$S/item"
		$C set-image-data "$I" manifest <"$S/item"
		run "$S/out" "$S/err" $C export "$I" "oci:$S/dest"
		expect_eq "$RC" 1 "export with a $kind manifest"
		grep -q "manifest of image $I" "$S/err" || die "message: $(cat "$S/err")"
		[ ! -e "$S/dest" ] || die "export with a $kind manifest wrote $S/dest"
	done
	# A valid manifest whose config is nested past the parser's limit, of
	# an image without layers: exported as it is (a config that is not
	# JSON is, its DiffIDs then go unchecked), without a crash.
	I=$($C create-image | head -1)
	local cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
	local cd; cd=sha256:$(printf '%s' "$DEEP" | sha256sum | cut -d' ' -f1)
	printf '%s' "$DEEP" | $C set-image-data "$I" "$cd"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}' \
		"$cd" "${#DEEP}" | $C set-image-data "$I" manifest
	run "$S/out" "$S/err" $C export "$I" "oci:$S/deep"
	expect_eq "$RC" 0 "export with a deeply nested config: $(cat "$S/err")"
	cmp -s "$S/deep/blobs/sha256/${cd#sha256:}" <(printf '%s' "$DEEP") || die "the config blob"
	# A destination layout whose index.json is hostile is not replaced.
	printf '%s' "$cfg" >"$S/cfg"
	cd=sha256:$(sha256sum <"$S/cfg" | cut -d' ' -f1)
	$C set-image-data "$I" "$cd" <"$S/cfg"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}' \
		"$cd" "${#cfg}" | $C set-image-data "$I" manifest
	mkdir -p "$S/dest"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$S/dest/oci-layout"
	printf '%s' "$DEEP" >"$S/dest/index.json"
	run "$S/out" "$S/err" $C export "$I" "oci:$S/dest"
	expect_eq "$RC" 1 "export into a layout with a deeply nested index.json"
	grep -q "index.json" "$S/err" || die "message: $(cat "$S/err")"
	cmp -s "$S/dest/index.json" <(printf '%s' "$DEEP") || die "index.json was replaced"
}

# The holder state cstor keeps in the run root is its own, written
# atomically: one that cannot be read (torn by hand, garbage, nested) is
# read as no state, as documented, which counts the holds from
# mountpoints.json and the holder files; no crash, and the layer mounts and
# unmounts as before.
test_garbage_holder_state() {
	setup
	local hd=$S/r/vfs-layers/cstor-holders/$F kind
	for kind in garbage deep deep-object truncated; do
		$C mount "$F" >/dev/null
		[ -f "$hd/state" ] || die "no holder state at $hd/state"
		cp "$hd/state" "$S/good"
		corrupt "$hd/state" "$S/good" "$kind"
		run "$S/out" "$S/err" $C mounted "$F"
		expect_eq "$RC" 0 "mounted with a $kind holder state"
		grep -qx "$F mounted" "$S/out" || die "the hold was lost with a $kind state"
		run "$S/out" "$S/err" $C unmount "$F"
		expect_eq "$RC" 0 "unmount with a $kind holder state"
		# Without the state, our hold recorded in mountpoints.json
		# counts as a foreign one: the mount is kept, never dropped
		# under a holder, until a forced unmount.
		$C mounted -v "$F" | grep -q "holder: foreign x1" || die "the foreign hold ($kind)"
		run "$S/out" "$S/err" $C unmount --force "$F"
		expect_eq "$RC" 0 "unmount --force with a $kind holder state"
		expect_eq "$($C mounted "$F")" "" "mounted after the unmount ($kind)"
		# The same with a holder file (its description) that is garbage.
		$C mount "$F" >/dev/null
		local h
		for h in "$hd"/s-*; do break; done
		[ -f "$h" ] || die "no holder file in $hd"
		corrupt "$h" "$S/good" "$kind"
		run "$S/out" "$S/err" $C mounted "$F"
		expect_eq "$RC" 0 "mounted with a $kind holder file"
		$C unmount "$F" >/dev/null
		expect_eq "$($C mounted "$F")" "" "mounted after the unmount ($kind holder file)"
	done
	$C shutdown
}

# Duplicate IDs in a record file: one object, the last record (the one
# Go's lookups return), with the earlier records' names; a name on two
# objects belongs to the later one. The file is deduplicated by the next
# write; deleting the object leaves no record naming its removed files.
test_duplicate_ids_and_names() {
	command -v jq >/dev/null || skip "jq is not installed"
	setup
	local f=$S/g/vfs-layers/layers.json
	jq -c --arg f "$F" --arg l "$L" \
		'. + [(.[] | select(.id == $f) | .names = ["fname2", "lname"])]' "$f" >"$S/dup"
	cp "$S/dup" "$f"
	expect_eq "$($C layers | grep -c "^$F\$")" 1 "layers lists a duplicated ID once"
	expect_eq "$($C get-names "$F" | sort | tr '\n' ' ')" "fname fname2 lname " "names of the duplicated layer"
	expect_eq "$($C get-names "$L")" "" "the later record took lname"
	# A read does not rewrite the file; a write deduplicates it.
	cmp -s "$f" "$S/dup" || die "a read rewrote layers.json"
	$C set-names -n other "$L"
	expect_eq "$(jq --arg f "$F" '[.[] | select(.id == $f)] | length' "$f")" 1 "records of $F after a write"
	# Deleting it leaves nothing behind.
	cp "$S/dup" "$f"
	$C delete-layer "$F"
	expect_eq "$(jq --arg f "$F" '[.[] | select(.id == $f)] | length' "$f")" 0 "records of $F after delete-layer"
	[ ! -e "$S/g/vfs/dir/$F" ] || die "the layer's directory is left"
	$C create-layer -n again >/dev/null || die "the store is not usable"
	if have_go_cs; then
		"$GO_CS" -g "$S/g" -R "$S/r" -s vfs layers >/dev/null || die "Go cannot read the store"
	fi
	# Images and containers: the same engine.
	local fi=$S/g/vfs-images/images.json fc=$S/g/vfs-containers/containers.json
	jq -c '. + [(.[0] | .names = ["iname2"])]' "$fi" >"$fi.new" && mv "$fi.new" "$fi"
	expect_eq "$($C images -q | grep -c "$I")" 1 "images lists a duplicated ID once"
	expect_eq "$($C get-names "$I" | sort | tr '\n' ' ')" "iname iname2 " "names of the duplicated image"
	jq -c '. + [(.[0] | .names = ["kname2"])]' "$fc" >"$fc.new" && mv "$fc.new" "$fc"
	expect_eq "$($C containers | grep -c "^$K\$")" 1 "containers lists a duplicated ID once"
	$C delete-container "$K"
	expect_eq "$(jq length "$fc")" 0 "containers after deleting the duplicated one"
	$C delete-image "$I"
	expect_eq "$(jq length "$fi")" 0 "images after deleting the duplicated one"
}

# A layer recorded twice in mountpoints.json: the last record is the one
# Go reads; cstor reads and keeps that one, and writes one record back.
test_duplicate_mount_records() {
	command -v jq >/dev/null || skip "jq is not installed"
	setup
	local mj=$S/r/vfs-layers/mountpoints.json dir=$S/g/vfs/dir/$F
	printf '[{"id":"%s","path":"%s","count":7},{"id":"%s","path":"%s","count":2}]' \
		"$F" "$dir" "$F" "$dir" >"$mj"
	$C mount "$F" >/dev/null
	expect_eq "$(jq -c --arg f "$F" '[.[] | select(.id == $f) | .count]' "$mj")" "[3]" \
		"one record, the last one's count and ours"
	if have_go_cs; then
		"$GO_CS" -g "$S/g" -R "$S/r" -s vfs mounted "$F" | grep -q mounted || die "Go does not see it mounted"
	fi
	$C unmount --force "$F" >/dev/null
	expect_eq "$(jq -c . "$mj")" "[]" "records after unmount --force"
}

# IDs that are paths, empty or too long for a file name, in every record
# file: an error naming the file and the ID; a directory outside the store
# named by it is never touched.
test_invalid_ids_every_file() {
	setup
	local long; long=$(head -c 300 /dev/zero | tr '\0' a)
	make_victim() {
		mkdir -p "$S/victim/sub"
		echo keep >"$S/victim/sub/file"
	}
	make_victim
	# From a layer's directory (g/vfs/dir/<id>) and from a holder
	# directory (r/vfs-layers/cstor-holders/<id>): $S/victim.
	local vrel=../../../victim
	local rel id
	for rel in g/vfs-layers/layers.json g/vfs-layers/volatile-layers.json \
		g/vfs-images/images.json g/vfs-containers/containers.json; do
		local f=$S/$rel
		cp "$f" "$S/good"
		for id in "$vrel" "$S/victim" "" "." ".." "a/b" "$long"; do
			printf '[{"id":"%s","layer":"%s","image":"%s"}]' "$id" "$L" "$I" >"$f"
			local cmd
			case $rel in
			*layers.json) cmd="layers" ;;
			*images.json) cmd="images" ;;
			*) cmd="containers" ;;
			esac
			run "$S/out" "$S/err" $C $cmd
			expect_eq "$RC" 1 "$cmd with ID '${id:0:20}' in $rel"
			grep -qF "$f" "$S/err" || die "message does not name $f: $(cat "$S/err")"
			grep -q "invalid .* id\|without an id" "$S/err" || die "message: $(cat "$S/err")"
			run "$S/out" "$S/err" $C delete-layer "$F"
			run "$S/out" "$S/err" $C wipe
			[ -f "$S/victim/sub/file" ] || die "a directory outside the store was removed"
		done
		cp "$S/good" "$f"
	done
	# References that are paths (a container's layer, an image's layer, a
	# layer's parent) are looked up as IDs, never followed.
	local fl=$S/g/vfs-layers/layers.json fi=$S/g/vfs-images/images.json
	local fc=$S/g/vfs-containers/containers.json
	sed -i "s|\"layer\":\"[0-9a-f]*\"|\"layer\":\"$vrel\"|" "$fc" "$fi"
	sed -i "s|\"id\":\"$F\"|\"id\":\"$F\",\"parent\":\"$vrel\"|" "$fl"
	grep -qF "$vrel" "$fc" && grep -qF "$vrel" "$fi" && grep -qF "$vrel" "$fl" || die "sed"
	for cmd in containers images layers "mount $K" "unmount $K" "mount $F" "unmount $F" \
		"delete-container $K" "delete-image $I" "delete-layer $F" "shutdown --force" wipe; do
		run "$S/out" "$S/err" $C $cmd
		[ -f "$S/victim/sub/file" ] || die "$cmd removed a directory outside the store"
	done
	setup
	make_victim
	# mountpoints.json: the invalid records are never acted on, the valid
	# one is.
	local mj=$S/r/vfs-layers/mountpoints.json dir=$S/g/vfs/dir/$F
	touch "$S/victim/.tmp-x" "$S/victim/p-x" "$S/victim/state"
	{
		printf '['
		for id in "$vrel" "$S/victim" "" "." ".." "a/b" "$long"; do
			printf '{"id":"%s","path":"%s","count":1},' "$id" "$S/victim"
		done
		printf '{"id":"%s","path":"%s","count":1}]' "$F" "$dir"
	} >"$mj"
	local cmd
	for cmd in layers "mounted $F" "mount $F" "unmount $F" "unmount $F" "mount $F" "unmount --force $F" \
		"shutdown --force" shutdown; do
		run "$S/out" "$S/err" $C $cmd
		expect_eq "$RC" 0 "$cmd with invalid IDs in mountpoints.json: $(cat "$S/err")"
	done
	[ -f "$S/victim/sub/file" ] && [ -e "$S/victim/.tmp-x" ] && [ -e "$S/victim/p-x" ] &&
		[ -e "$S/victim/state" ] || die "something outside the store was removed"
	[ ! -e "$S/r/vfs-layers/cstor-holders/$long" ] || die "a holder directory for the long ID"
	expect_eq "$(ls "$S/r/vfs-layers/cstor-holders" 2>/dev/null)" "" "holder directories left"
}

# An overlay layer's lower file names its lowers as l/<link>: any other
# name ("l/.." is the driver's home, a path anywhere) is refused, naming
# the layer and the name, and nothing is mounted.
test_overlay_lower_names() {
	need_root
	t_need_overlay
	S=$(t_store)
	C="$CSTOR -g $S/g -R $S/r -s overlay"
	local a b v
	a=$($C create-layer | head -1)
	b=$($C create-layer "$a" | head -1)
	local f=$S/g/overlay/$b/lower
	cp "$f" "$S/good"
	local before; before=$(mounts_under "$S/g") # the driver's home bind
	for v in "l/.." "l/." "l/../../../etc" "/etc" "../$a/diff" "$(cat "$S/good"):l/.."; do
		printf '%s' "$v" >"$f"
		run "$S/out" "$S/err" $C mount "$b"
		expect_eq "$RC" 1 "mount with lower '$v'"
		grep -q "lower file of layer $b names \"[^\"]*\", which is not a link in l/" "$S/err" ||
			die "message: $(cat "$S/err")"
		expect_eq "$(mounts_under "$S/g")" "$before" "mounts after mount with lower '$v'"
	done
	cp "$S/good" "$f"
	$C mount "$b" >/dev/null || die "mount with the lower file restored"
	$C unmount "$b" >/dev/null
	$C shutdown
}

# ---- tar-split ----------------------------------------------------------

# A vfs layer applied from a tarball with one file "a" ("hello\n") and a
# symlink "evil" to /tmp; $TS is its tar-split.
tarsplit_setup() {
	local drv=$1 parent=
	need_py
	[ "$drv" = vfs ] || { need_root; t_need_overlay; }
	S=$(t_store)
	C="$CSTOR -g $S/g -R $S/r -s $drv"
	# overlay: with a parent, so that names are looked up in a lower too.
	[ "$drv" = vfs ] || parent=$($C create-layer | head -1)
	python3 - "$S/layer.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("a"); ti.size = 6; ti.mtime = 1700000000
    t.addfile(ti, io.BytesIO(b"hello\n"))
    ti = tarfile.TarInfo("evil"); ti.type = tarfile.SYMTYPE; ti.linkname = "/tmp"
    t.addfile(ti)
PY
	T=$($C create-layer $parent | head -1)
	$C applydiff -f "$S/layer.tar" "$T"
	TS=$S/g/$drv-layers/$T.tar-split.gz
	[ -f "$TS" ] || die "no tar-split at $TS"
	TD=$S/g/vfs/dir/$T
	[ "$drv" = vfs ] || TD=$S/g/overlay/$T/diff
	cp "$TS" "$S/ts.good"
	SECRET=$(mktemp "$T_TMP/secret-XXXXXX") # outside the store, removed at exit
	echo "secret-$RANDOM-$RANDOM" >"$SECRET"
	$C diff -u "$T" >"$S/diff.good" || die "diff of the good layer"
}

# tarsplit_edit PY-EXPR: rewrite the file entry of "a" in the tar-split
# (e = its JSON object, secret = the secret file's path).
tarsplit_edit() {
	python3 - "$S/ts.good" "$TS" "$SECRET" "$1" <<'PY'
import gzip, json, sys
src, dst, secret, expr = sys.argv[1:]
out = []
for line in gzip.open(src).read().decode().splitlines():
    e = json.loads(line)
    if e.get("type") == 1 and e.get("name") == "a":
        exec(expr)
    out.append(json.dumps(e))
gzip.open(dst, "wb").write(("\n".join(out) + "\n").encode())
PY
}

# diff must fail naming the layer and the entry ($1) with $2 in the
# message, write nothing of the secret, and neither hang nor crash.
diff_refused() {
	run "$S/out" "$S/err" $C diff -u "$T"
	cat "$S/err"
	expect_eq "$RC" 1 "diff with $1"
	grep -q "$T" "$S/err" || die "message does not name the layer"
	grep -qF "$1" "$S/err" || die "message does not name the entry $1"
	grep -q "$2" "$S/err" || die "message does not say $2"
	grep -qF "$(cat "$SECRET")" "$S/out" && die "the secret is in the output"
	return 0
}

tarsplit_names_outside_layer() {
	tarsplit_setup "$1"
	# "../" and absolute names stop at the layer's root, as the apply did:
	# the secret's path inside the layer does not exist.
	tarsplit_edit 'e["name"] = "../../../../../../../.." + secret'
	diff_refused "../../..$SECRET" "No such file"
	tarsplit_edit 'e["name"] = secret'
	diff_refused "$SECRET" "No such file"
	# A parent that is a symlink out of the layer is resolved inside it.
	tarsplit_edit 'e["name"] = "evil/" + secret.split("/")[-1]'
	diff_refused "evil/${SECRET##*/}" "No such file"
	# The file itself a symlink to the secret: not followed.
	ln -s "$SECRET" "$TD/s"
	tarsplit_edit 'e["name"] = "s"'
	diff_refused '"s"' "symbolic links"
	rm -f "$SECRET"
}

tarsplit_size_lies() {
	tarsplit_setup "$1"
	# The entry says smaller than the file (its checksum is the file's,
	# so the old reassembly wrote a tar whose next header was off).
	tarsplit_edit 'e["size"] = 3'
	diff_refused '"a"' "has 6 bytes, its tar-split entry says 3"
	tarsplit_edit 'e["size"] = 600'
	diff_refused '"a"' "has 6 bytes, its tar-split entry says 600"
	# The file changed on disk, same size: the checksum.
	cp "$S/ts.good" "$TS"
	echo jello >"$TD/a"
	diff_refused '"a"' "checksum failed"
	# The file grew on disk.
	echo "hello, and more" >"$TD/a"
	diff_refused '"a"' "has 16 bytes, its tar-split entry says 6"
	# Back as it was: the same tar as before.
	echo hello >"$TD/a"
	$C diff -u "$T" >"$S/diff.again" || die "diff of the restored layer"
	cmp "$S/diff.good" "$S/diff.again" || die "diff differs after the restore"
	rm -f "$SECRET"
}

# A fifo or a device where the file was: refused, neither a hang on the
# open nor an endless read.
tarsplit_special_files() {
	need_root
	tarsplit_setup "$1"
	rm "$TD/a"
	mkfifo "$TD/a"
	diff_refused '"a"' "not a regular file"
	rm "$TD/a"
	mknod "$TD/a" c 1 5 # /dev/zero
	diff_refused '"a"' "not a regular file"
	rm -f "$TD/a" "$SECRET"
}

test_tarsplit_names_outside_layer_vfs() { tarsplit_names_outside_layer vfs; }
test_tarsplit_names_outside_layer_overlay() { tarsplit_names_outside_layer overlay; }
test_tarsplit_size_lies_vfs() { tarsplit_size_lies vfs; }
test_tarsplit_size_lies_overlay() { tarsplit_size_lies overlay; }
test_tarsplit_special_files_vfs() { tarsplit_special_files vfs; }
test_tarsplit_special_files_overlay() { tarsplit_special_files overlay; }

# ---- mount records outside the store ------------------------------------

# A real tmpfs outside the store, recorded in mountpoints.json directly,
# through a symlink in the run root and as a layer's mount point through a
# symlink: no command unmounts it or removes anything in it.
mount_outside_check() {
	local drv=$1 o=$T_TMP/outside-$1
	need_root
	S=$(t_store)
	C="$CSTOR -g $S/g -R $S/r -s $drv"
	local id; id=$($C create-layer | head -1)
	local other; other=$($C create-layer | head -1)
	mkdir -p "$o"
	mount -t tmpfs tmpfs "$o"
	echo keep >"$o/file"
	mkdir -p "$S/r/$drv-layers"
	ln -s "$o" "$S/r/$drv-layers/link"
	printf '[{"id":"%s","path":"%s","count":1},{"id":"%s","path":"%s","count":1},{"id":"%s","path":"/etc","count":5}]' \
		"$id" "$o" "$other" "$S/r/$drv-layers/link" "$($C create-layer | head -1)" \
		>"$S/r/$drv-layers/mountpoints.json"
	local cmd
	for cmd in "mounted $id" "mount $id" "unmount $id" "unmount --force $id" "unmount $other" \
		"mount $other" "unmount --force $other" "delete-layer $other" "shutdown --force" shutdown; do
		run "$S/out" "$S/err" $C $cmd
		[ "$(awk -v p="$o" '$5 == p' /proc/self/mountinfo | wc -l)" = 1 ] ||
			die "$cmd unmounted the tmpfs outside the store"
		[ -f "$o/file" ] || die "$cmd removed a file outside the store"
	done
	[ -d /etc ] || die "/etc"
	umount "$o"
}

test_mount_records_outside_vfs() { mount_outside_check vfs; }
test_mount_records_outside_overlay() {
	t_need_overlay
	mount_outside_check overlay
}

t_begin
t_run test_corrupt_record_files
t_run test_deep_unknown_key_kept
t_run test_corrupt_json_side_files
t_run test_garbage_holder_state
t_run test_duplicate_ids_and_names
t_run test_duplicate_mount_records
t_run test_invalid_ids_every_file
t_run test_overlay_lower_names
t_run test_tarsplit_names_outside_layer_vfs
t_run test_tarsplit_names_outside_layer_overlay
t_run test_tarsplit_size_lies_vfs
t_run test_tarsplit_size_lies_overlay
t_run test_tarsplit_special_files_vfs
t_run test_tarsplit_special_files_overlay
t_run test_mount_records_outside_vfs
t_run test_mount_records_outside_overlay
t_end
