#!/bin/bash
# The lookup index cached next to each records file (cstor-images.index,
# cstor-layers.index, cstor-containers.index; docs/formats.md §3.8): a
# lookup served from it gives what a full load gives; a hand edit of the
# records file is seen at once; a damaged, truncated or hostile index is
# ignored (no crash, the right answers); `cstor check`, gc and repair
# (check -r) leave it and the records alone. The Go CLI's side is
# tests/interop/test-lookup-index-go.sh.
. "$(dirname "$0")/../lib.sh"

L1=1111111111111111111111111111111111111111111111111111111111111111
L2=2222222222222222222222222222222222222222222222222222222222222222
I1=aaaa111111111111111111111111111111111111111111111111111111111111
I2=aaaa222222222222222222222222222222222222222222222222222222222222
I3=bbbb333333333333333333333333333333333333333333333333333333333333

# Two layers, three images, one container; sets S, G, IMG (images dir).
setup() {
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	IMG=$S/g/vfs-images
	cs create-layer -i $L1 -n base >/dev/null
	cs create-layer -i $L2 -n top $L1 >/dev/null
	cs create-image -i $I1 -n example.com/a/one:latest -n one-more $L1 >/dev/null
	cs create-image -i $I2 -n example.com/a/two:latest -m meta2 $L2 >/dev/null
	cs create-image -i $I3 -n example.com/b/three:1 $L2 >/dev/null
	cs create-container -n ctr1 --id cccc111111111111111111111111111111111111111111111111111111111111 $I2 >/dev/null
}

cs() { "$CSTOR" $G "$@"; }

# The lookups compared, one per line: command and arguments.
LOOKUPS="image example.com/a/one:latest
image one-more
image $I2
image aaaa2
image example.com/b/three:1
image --json example.com/a/two:latest
layer top
layer $L1
layer 2222
container ctr1
exists example.com/a/two:latest
exists base
exists ctr1
exists example.com/no/such:latest
exists nothing
image example.com/no/such:latest
image aaaa
metadata example.com/a/two:latest
names example.com/a/one:latest"

# answers: each lookup's exit code and output
answers() {
	local l
	while read -r l; do
		# shellcheck disable=SC2086 # the arguments are words
		echo "== $l: $(cs $l 2>&1; echo "rc=$?")"
	done <<<"$LOOKUPS"
}

# Whole loads: no index files (each full load writes them again).
full_answers() {
	local l
	while read -r l; do
		rm -f "$S"/g/vfs-*/cstor-*.index
		# shellcheck disable=SC2086
		echo "== $l: $(cs $l 2>&1; echo "rc=$?")"
	done <<<"$LOOKUPS"
}

# Make every index current: a reader's full load writes them.
make_indexes() {
	cs images >/dev/null
	cs layers >/dev/null
	cs containers >/dev/null
	for k in images layers containers; do
		[ -s "$S/g/vfs-$k/cstor-$k.index" ] || die "no cstor-$k.index after listing $k"
	done
}

# Overwrite @2 bytes of FILE at the first occurrence of the text $2 with
# $3 (same length), in place, and give the file back its mtime: the index
# still matches it (docs/formats.md §3.8).
poke_keep_mtime() {
	python3 - "$1" "$2" "$3" <<'EOF'
import os, sys
p, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
assert len(old) == len(new)
st = os.stat(p)
with open(p, "r+b") as f:
    d = f.read()
    i = d.index(old)
    f.seek(i)
    f.write(new)
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
EOF
}

test_index_same_answers() {
	setup
	local full
	full=$(full_answers)
	make_indexes
	expect_eq "$(answers)" "$full" "answers served with the index"
	# Answers twice in one process (a later lookup reuses what an earlier
	# one parsed): image reads the image twice and its layer.
	expect_eq "$(cs image example.com/a/one:latest example.com/a/two:latest $I1 2>&1)" \
		"$(rm -f "$IMG/cstor-images.index"; cs image example.com/a/one:latest example.com/a/two:latest $I1 2>&1)" \
		"several lookups in one process"
}

# Proof that lookups are served from the index: damage another record in
# place, keeping the file's size and mtime. A full load now fails; the
# lookup of an undamaged record still answers, from the index.
test_index_serves_lookups() {
	setup
	make_indexes
	local want
	want=$(cs image --json example.com/a/one:latest)
	poke_keep_mtime "$IMG/images.json" '"id":"aaaa2222' '"id":!aaaa2222'
	expect_eq "$(cs image --json example.com/a/one:latest)" "$want" "lookup served by the index"
	cs exists example.com/b/three:1 || die "exists example.com/b/three:1 not served by the index"
	if cs images >/dev/null 2>&1; then die "a full load read the damaged file"; fi
	# The damaged record itself: its span does not parse as the record
	# the index names, so the lookup loads the file, which fails.
	if cs image example.com/a/two:latest >/dev/null 2>&1; then
		die "the damaged record was served"
	fi
	poke_keep_mtime "$IMG/images.json" '"id":!aaaa2222' '"id":"aaaa2222'
	cs images >/dev/null || die "restored file does not load"
}

# A hand edit keeps the lock's token but changes the file: seen at once,
# whether it is rewritten (a new inode), written in place with another
# size, or in place with the same size (a new mtime).
test_hand_edit_seen() {
	setup
	make_indexes
	python3 - "$IMG/images.json" <<'EOF'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d[0]["names"] = ["example.com/a/renamed:latest"]
open(p + ".new", "w").write(json.dumps(d))
os.rename(p + ".new", p)
EOF
	cs exists example.com/a/renamed:latest || die "renamed image (new file) not seen"
	if cs exists example.com/a/one:latest; then die "old name still found (new file)"; fi
	make_indexes
	# In place, longer.
	python3 - "$IMG/images.json" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d[0]["names"] = ["example.com/a/renamed-again:latest"]
open(p, "r+").write(json.dumps(d))
EOF
	cs exists example.com/a/renamed-again:latest || die "renamed image (in place) not seen"
	make_indexes
	# In place, same size: only the mtime tells.
	sleep 0.02
	python3 - "$IMG/images.json" <<'EOF'
import sys
p = sys.argv[1]
d = open(p).read().replace("renamed-again", "renamed-AGAIN")
open(p, "r+").write(d)
EOF
	cs exists example.com/a/renamed-AGAIN:latest || die "same-size edit not seen"
	if cs exists example.com/a/renamed-again:latest; then die "old name still found (same size)"; fi
	# A record added by hand to layers.json.
	make_indexes
	python3 - "$S/g/vfs-layers/layers.json" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d.append({"id": "3" * 64, "names": ["by-hand"], "parent": d[0]["id"], "created": "2026-01-01T00:00:00Z"})
open(p, "w").write(json.dumps(d))
EOF
	mkdir -p "$S/g/vfs/dir/$(printf '3%.0s' $(seq 64))"
	expect_eq "$(cs layer by-hand | head -1)" "ID: $(printf '3%.0s' $(seq 64))" "layer added by hand"
	cs delete-layer by-hand >/dev/null
}

# damage HOW: write each kind's damaged index from $S/good into the store.
damage() {
	local k
	for k in images layers containers; do
		python3 - "$S/good/cstor-$k.index" "$S/g/vfs-$k/cstor-$k.index" "$1" <<'EOF'
import random, struct, sys
src, dst, how = sys.argv[1:4]
d = bytearray(open(src, "rb").read())
rnd = random.Random(how)
H = 8 + 4 * 4 + 64  # magic, version, bom, token_len, pad, token
# after the token, u64s: size, mtime_sec, mtime_nsec, ino, dev, n_recs,
# n_slots, recs_off, slots_off, sorted_off, strings_off, strings_len, total
def get(i): return struct.unpack_from("=Q", d, H + 8 * i)[0]
def put(i, v): struct.pack_into("=Q", d, H + 8 * i, v)
hdr = H + 13 * 8
if how == "empty": d = b""
elif how == "truncate-header": d = d[:hdr // 2]
elif how == "truncate-half": d = d[:len(d) // 2]
elif how == "magic": d[0] ^= 0xff
elif how == "zero-body":
    for i in range(hdr, len(d)): d[i] = 0
elif how == "random-body":
    for i in range(hdr, len(d)): d[i] = rnd.randrange(256)
elif how == "random-all":
    for i in range(8, len(d)): d[i] = rnd.randrange(256)
elif how == "big-counts": put(5, 2**62); put(6, 2**40)
elif how == "bad-offsets": put(7, 2**63 + 8); put(9, len(d) - 8)
elif how == "bad-spans":
    for r in range(get(5)):
        struct.pack_into("=QQ", d, get(7) + 24 * r, 2**64 - 5 * (r + 1), 10 + r)
elif how == "bad-sorted":
    for r in range(get(5)): struct.pack_into("=I", d, get(9) + 4 * r, 0xfffffff0 - r)
elif how == "bad-strings":
    for i in range(get(10), len(d)): d[i] = 0x41
elif how == "swap-kinds":
    # IDs become names and names IDs: the parsed record does not have
    # the key the index claims.
    for s in range(get(6)):
        k, r = struct.unpack_from("=II", d, get(8) + 8 * s)
        if k and r >> 30 in (1, 2):
            struct.pack_into("=II", d, get(8) + 8 * s, k, r ^ (3 << 30))
elif how == "wrong-record":
    # Every record's span is another record's.
    n = get(5)
    spans = [struct.unpack_from("=QQ", d, get(7) + 24 * r) for r in range(n)]
    for r in range(n):
        struct.pack_into("=QQ", d, get(7) + 24 * r, *spans[(r + 1) % n])
open(dst, "wb").write(bytes(d))
EOF
	done
}

# Damaged, truncated and hostile index files: ignored, the right answers.
# A full load writes a good index over a damaged one, so each lookup meets
# freshly damaged files.
test_damaged_index() {
	setup
	local full
	full=$(full_answers)
	make_indexes
	mkdir -p "$S/good"
	cp "$S"/g/vfs-*/cstor-*.index "$S/good/"
	local how l got
	for how in empty truncate-header truncate-half magic random-body random-all big-counts \
		bad-offsets bad-spans bad-sorted bad-strings swap-kinds wrong-record zero-body; do
		got=$(while read -r l; do
			damage "$how"
			# shellcheck disable=SC2086
			echo "== $l: $(cs $l 2>&1; echo "rc=$?")"
		done <<<"$LOOKUPS")
		if [ "$how" = zero-body ]; then
			# An emptied table only loses keys, and a miss is what the
			# index is trusted with (docs/formats.md §3.8): no crash, no
			# wrong record.
			if grep -Eq 'rc=(1[3-9][0-9]|2[0-9][0-9])$' <<<"$got"; then
				die "a lookup crashed with an emptied index: $got"
			fi
			continue
		fi
		expect_eq "$got" "$full" "answers with a damaged index ($how)"
	done
}

# `cstor check` does not see the index files as anything wrong; gc and
# repair leave them and every record alone; a stale index after a write
# is ignored, and rewritten by the next reader.
test_check_gc_repair() {
	setup
	make_indexes
	local layers containers
	layers=$(cs layers -q | sort)
	containers=$(cs containers -q | sort)
	cs check >"$S/out" 2>&1 || die "check with index files: $(cat "$S/out")"
	cs gc >"$S/out" 2>&1 || die "gc: $(cat "$S/out")"
	cs check -r >"$S/out" 2>&1 || die "check -r: $(cat "$S/out")"
	expect_eq "$(cs images -q | sort)" "$(printf '%s\n' $I1 $I2 $I3 | sort)" "images after gc and repair"
	expect_eq "$(cs layers -q | sort)" "$layers" "layers after gc and repair"
	expect_eq "$(cs containers -q | sort)" "$containers" "containers after gc and repair"
	[ -f "$IMG/cstor-images.index" ] || die "gc or repair removed the index"
	# A write by cstor: the index no longer matches; the next lookup sees
	# the change, and a reader's full load makes a matching index again.
	cs add-names -n example.com/a/added:latest $I3 >/dev/null
	cs exists example.com/a/added:latest || die "name added by cstor not seen"
	cs delete-image example.com/a/one:latest >/dev/null
	if cs exists example.com/a/one:latest; then die "deleted image still found"; fi
	if cs exists one-more; then die "deleted image's second name still found"; fi
	cs images >/dev/null
	poke_keep_mtime "$IMG/images.json" '"id":"aaaa2222' '"id":!aaaa2222'
	cs exists example.com/a/added:latest || die "the new index does not serve lookups"
	poke_keep_mtime "$IMG/images.json" '"id":!aaaa2222' '"id":"aaaa2222'
}

# A read-only store (an additional image store) gets no index.
test_read_only_store_no_index() {
	setup
	local R
	R=$(t_store)
	# IDs of its own: an image the read-write store has by ID shadows the
	# read-only copy (as newest containers/storage's Image()).
	local rl=ee$(printf '%062d' 1) ri=ff$(printf '%062d' 1)
	"$CSTOR" -g "$R/g" -R "$R/r" -s vfs create-layer -i "$rl" >/dev/null
	"$CSTOR" -g "$R/g" -R "$R/r" -s vfs create-image -i "$ri" -n ro/img:1 "$rl" >/dev/null
	"$CSTOR" $G --storage-opt "vfs.imagestore=$R/g" image ro/img:1 >/dev/null ||
		die "image from the read-only store"
	"$CSTOR" $G --storage-opt "vfs.imagestore=$R/g" images >/dev/null
	[ ! -e "$R/g/vfs-images/cstor-images.index" ] || die "an index in a read-only store"
}

t_begin
t_run test_index_same_answers
t_run test_index_serves_lookups
t_run test_hand_edit_seen
t_run test_damaged_index
t_run test_check_gc_repair
t_run test_read_only_store_no_index
t_end
