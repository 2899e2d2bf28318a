#!/bin/bash
# The lookup index (docs/formats.md §3.8) against the Go
# CLI (containers-storage 1.43) on one store: every change Go makes
# (names, a new image or layer, a delete) is seen by cstor's next lookup,
# though cstor's index from before the change is still there; and Go reads
# the store as before with cstor's index files in it.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
I1=aaaa111111111111111111111111111111111111111111111111111111111111
I2=aaaa222222222222222222222222222222222222222222222222222222222222

need_go() { have_go_cs || skip "containers-storage (Go CLI) is not installed"; }

setup() {
	need_go
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	cs create-layer -i $L1 -n base >/dev/null
	cs create-image -i $I1 -n example.com/a/one:latest $L1 >/dev/null
	cs create-image -i $I2 -n example.com/a/two:latest $L1 >/dev/null
}

cs() { "$CSTOR" $G "$@"; }
gocs() { "$GO_CS" --graph "$S/g" --run "$S/r" --storage-driver vfs "$@"; }

# A reader's full load makes the indexes; the index of images is kept to
# be put back after each Go change (a stale index, as another cstor
# process might have left it).
make_indexes() {
	cs images >/dev/null
	cs layers >/dev/null
	[ -s "$S/g/vfs-images/cstor-images.index" ] || die "no images index"
	[ -s "$S/g/vfs-layers/cstor-layers.index" ] || die "no layers index"
}

test_go_changes_seen() {
	setup
	make_indexes
	gocs add-names -n example.com/a/added:latest $I1 >/dev/null
	cs exists example.com/a/added:latest || die "name added by Go not seen"
	expect_eq "$(cs image example.com/a/added:latest | head -1)" "ID: $I1" "image by Go's name"

	make_indexes
	gocs set-names -n example.com/a/only:latest $I2 >/dev/null
	cs exists example.com/a/only:latest || die "name set by Go not seen"
	if cs exists example.com/a/two:latest; then die "name Go removed still found"; fi

	make_indexes
	local id
	id=$(gocs create-image -n example.com/a/new:latest $L1 | head -1)
	[ -n "$id" ] || die "Go create-image printed no ID"
	expect_eq "$(cs image example.com/a/new:latest | head -1)" "ID: $id" "image created by Go"
	expect_eq "$(cs image "$id" | head -1)" "ID: $id" "image created by Go, by ID"

	make_indexes
	gocs delete-image $I1 >/dev/null
	if cs exists example.com/a/added:latest; then die "image Go deleted still found by name"; fi
	if cs exists $I1; then die "image Go deleted still found by ID"; fi
	if cs image ${I1:0:8} >/dev/null 2>&1; then die "image Go deleted still found by prefix"; fi

	make_indexes
	local lid
	lid=$(gocs create-layer -n golayer $L1 | head -1)
	expect_eq "$(cs layer golayer | head -1)" "ID: $lid" "layer created by Go"
	make_indexes
	gocs delete-layer "$lid" >/dev/null
	if cs exists golayer; then die "layer Go deleted still found"; fi
}

# Go lists and reads the store the same with cstor's index files there.
test_go_not_disturbed() {
	setup
	local imgs lays img
	imgs=$(gocs images)
	lays=$(gocs layers)
	img=$(gocs image example.com/a/one:latest)
	make_indexes
	cs image example.com/a/one:latest >/dev/null
	expect_eq "$(gocs images)" "$imgs" "Go's images with the index"
	expect_eq "$(gocs layers)" "$lays" "Go's layers with the index"
	expect_eq "$(gocs image example.com/a/one:latest)" "$img" "Go's image with the index"
	# Go writes; cstor's next lookups and listings agree with Go's.
	gocs add-names -n example.com/a/more:latest $I2 >/dev/null
	expect_eq "$(cs image example.com/a/more:latest | head -1)" "ID: $I2" "after Go's write"
	expect_eq "$(cs images -q | sort)" "$(printf '%s\n' $I1 $I2 | sort)" "cstor images after Go's write"
}

t_begin
t_run test_go_changes_seen
t_run test_go_not_disturbed
t_end
