#!/bin/bash
# Behaviour scripts written for the newest containers-storage rely on
# (issue #13): `mounted` prints only Go's line (details with -v or --json),
# `layers -q` prints IDs, relative --graph/--run are taken from the working
# directory, and error texts contain the phrases Go's tests match (a non-tar
# input to applydiff: "invalid tar header" or "unexpected EOF"; a missing
# big-data key: "does not exist").
if [ -n "${BUILD_DIR:-}" ] && [ -z "${CSTOR:-}" ]; then
	case $BUILD_DIR in
	/*) CSTOR=$BUILD_DIR/src/cli/cstor ;;
	*) CSTOR=$(cd "$(dirname "$0")/../.." && pwd)/$BUILD_DIR/src/cli/cstor ;;
	esac
fi
. "$(dirname "$0")/../lib.sh"

test_mounted_prints_go_line_only() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local l; l=$($C create-layer)
	$C mount "$l" >/dev/null
	expect_eq "$($C mounted "$l")" "$l mounted" "mounted"
	if have_go_cs; then
		expect_eq "$($C mounted "$l")" "$("$GO_CS" -g "$s/g" -R "$s/r" -s vfs mounted "$l")" "as Go prints it"
	fi
	$C mounted -v "$l" | grep -q "^	count: 1$" || die "mounted -v: $($C mounted -v "$l")"
	# Go prints its line before the JSON too.
	expect_eq "$($C mounted --json "$l" | tail -1 | jq -r '.[0].count')" 1 "mounted --json"
	$C unmount "$l" >/dev/null
	expect_eq "$($C mounted "$l")" "" "not mounted"
}

test_layers_quiet() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local a b
	a=$($C create-layer -n first | head -1)
	b=$($C create-layer "$a" | head -1)
	expect_eq "$($C layers -q | sort)" "$(printf '%s\n%s\n' "$a" "$b" | sort)" "layers -q"
	expect_eq "$($C layers --quiet | wc -l)" 2 "layers --quiet"
}

test_relative_roots() {
	local s; s=$(t_store)
	local id
	id=$(cd "$s" && "$CSTOR" -g g/../g -R ./r -s vfs create-layer)
	[ -d "$s/g/vfs/dir/$id" ] || die "the layer is not under $s/g"
	expect_eq "$(cd "$s" && "$CSTOR" -g g -R r -s vfs layers -q)" "$id" "the same store, relative"
	expect_eq "$("$CSTOR" -g "$s/g" -R "$s/r" -s vfs layers -q)" "$id" "the same store, absolute"
	# Only -R given, -g from storage.conf: still works.
	printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\n' "$s/g" >"$s/storage.conf"
	expect_eq "$(cd "$s" && CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" -R r layers -q)" "$id" \
		"graph root from storage.conf, relative run root"
	# Nothing was made anywhere else.
	[ ! -e "$PWD/g" ] || [ "$PWD" = "$s" ] || die "a store appeared in the working directory"
}

test_error_phrases() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local l rc
	l=$($C create-layer)
	rc=0; echo "this is not a tar archive" | $C applydiff "$l" 2>"$s/err" || rc=$?
	[ $rc -ne 0 ] || die "applydiff of text succeeded"
	grep -qE "invalid tar header|unexpected EOF" "$s/err" || die "applydiff of text: $(cat "$s/err")"
	l=$($C create-layer)
	rc=0; head -c 4096 /dev/urandom | $C applydiff "$l" 2>"$s/err" || rc=$?
	[ $rc -ne 0 ] && grep -qE "invalid tar header|unexpected EOF" "$s/err" || die "applydiff of noise: $(cat "$s/err")"
	rc=0; $C get-layer-data "$l" nokey 2>"$s/err" || rc=$?
	[ $rc -eq 1 ] && grep -q "does not exist" "$s/err" || die "missing key: $(cat "$s/err")"
	t_unchecked "layers left flagged by the failed applies, on purpose"
}

# storage-layers and create-storage-layer, as the newest CLI's check tests
# use them: driver layers without records, found and removed by check -r.
test_storage_layers() {
	for drv in vfs overlay; do
		[ "$drv" = overlay ] && t_need_overlay
		local s; s=$(t_store)
		local C="$CSTOR -g $s/g -R $s/r -s $drv"
		expect_eq "$($C storage-layers)" "" "$drv: none at first"
		local a b rec
		a=$($C create-storage-layer)
		b=$($C create-storage-layer "$a")
		rec=$($C create-layer)
		expect_eq "$($C storage-layers | sort)" "$(printf '%s\n' "$a" "$b" "$rec" | sort)" "$drv: listed"
		expect_eq "$($C layers -q)" "$rec" "$drv: only one has a record"
		$C create-storage-layer "$a" -i "$a" 2>/dev/null && die "$drv: created over an existing one"
		$C check -r >"$s/out" || die "$drv: check -r: $(cat "$s/out")"
		grep -q "layer $a: layer in lower level storage driver not accounted for" "$s/out" &&
			grep -q "layer $b: layer in lower level storage driver not accounted for" "$s/out" ||
			die "$drv: check: $(cat "$s/out")"
		expect_eq "$($C storage-layers)" "$rec" "$drv: after check -r"
	done
}

test_image_dirs() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local l img
	l=$($C create-layer)
	img=$($C create-image -n dirs:v1 "$l" | head -1)
	expect_eq "$($C get-image-dir dirs:v1)" "$s/g/vfs-images/$img/userdata" "get-image-dir"
	expect_eq "$($C get-image-run-dir "$img")" "$s/r/vfs-images/$img/userdata" "get-image-run-dir"
	[ -d "$s/g/vfs-images/$img/userdata" ] && [ -d "$s/r/vfs-images/$img/userdata" ] || die "not created"
	# (containers-storage 1.43 has no get-image-dir: the newest one's path.)
	local rc=0
	$C get-image-dir nosuchimage 2>"$s/err" || rc=$?
	[ $rc -eq 1 ] || die "unknown image: status $rc"
}

t_begin
t_run test_mounted_prints_go_line_only
t_run test_layers_quiet
t_run test_relative_roots
t_run test_error_phrases
t_run test_storage_layers
t_run test_image_dirs
t_end
