#!/bin/bash
# Lock files interoperate with containers/storage (the Go CLI): each side
# waits while the other holds a store's layer lock, and each sees the other's
# writes on its next read.
. "$(dirname "$0")/../lib.sh"
HOLD=${CSTOR_BUILD:-$(dirname "$CSTOR")/../..}/tests/hold-lock

# Is the lock file locked (by anyone) against a shared lock? Uses classic
# fcntl locks, independent of both implementations.
locked() {
	python3 - "$1" <<'PY'
import fcntl, sys
f = open(sys.argv[1], "rb")
try:
    fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}

wait_for() { # wait_for SECONDS CMD...
	local n=$(($1 * 20)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.05; n=$((n - 1)); done
	return 1
}

test_go_waits_for_cstor_lock() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	"$CSTOR" -g "$s/g" -R "$s/r" -s vfs layers >/dev/null
	mkfifo "$s/ctl"
	"$HOLD" "$s/g/vfs-layers/layers.lock" w <"$s/ctl" >"$s/hold.out" &
	local hold=$!
	exec 7>"$s/ctl"
	wait_for 10 grep -q locked "$s/hold.out" || die "hold-lock did not lock"
	"$GO_CS" -g "$s/g" -R "$s/r" -s vfs layers >"$s/go.out" 2>&1 7>&- &
	local go=$!
	sleep 1.5
	kill -0 $go 2>/dev/null || die "Go layers did not wait for cstor's exclusive lock"
	echo >&7; exec 7>&-
	wait $hold
	wait_for 10 bash -c "! kill -0 $go 2>/dev/null" || die "Go layers still blocked after release"
	wait $go || die "Go layers failed: $(cat "$s/go.out")"
}

test_cstor_waits_for_go_lock() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	local id
	id=$("$GO_CS" -g "$s/g" -R "$s/r" -s vfs create-layer | head -1)
	mkfifo "$s/tar"
	exec 7<>"$s/tar"
	# applydiff holds the layer store lock while it reads the diff.
	# Children must not inherit fd 7, or the fifo never sees EOF.
	"$GO_CS" -g "$s/g" -R "$s/r" -s vfs applydiff -f "$s/tar" "$id" >"$s/go.out" 2>&1 7>&- &
	local go=$!
	wait_for 10 locked "$s/g/vfs-layers/layers.lock" || die "Go did not take the layer lock"
	"$CSTOR" -g "$s/g" -R "$s/r" -s vfs layers >"$s/c.out" 2>&1 7>&- &
	local c=$!
	sleep 1.5
	kill -0 $c 2>/dev/null || die "cstor layers did not wait for Go's lock: $(cat "$s/c.out")"
	tar -cf - -T /dev/null >&7
	exec 7>&-
	wait $go || die "Go applydiff failed: $(cat "$s/go.out")"
	wait $c || die "cstor layers failed: $(cat "$s/c.out")"
	grep -q "$id" "$s/c.out" || die "cstor did not list the layer"
}

test_writes_seen_both_ways() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local gid cid
	gid=$("$GO_CS" $G create-layer -n from-go | head -1)
	"$CSTOR" $G layers | grep -qx "$gid" || die "cstor does not see Go's layer"
	cid=$("$CSTOR" $G create-layer -n from-cstor "$gid" | head -1)
	"$GO_CS" $G layers | grep -qx "$cid" || die "Go does not see cstor's layer"
	"$CSTOR" $G add-names -n extra "$gid"
	"$GO_CS" $G get-names "$gid" | grep -qx extra || die "Go does not see cstor's names"
	"$GO_CS" $G set-names -n renamed "$cid"
	expect_eq "$("$CSTOR" $G get-names "$cid")" renamed "cstor sees Go's rename"
	# Both implementations print the same records, byte for byte.
	expect_eq "$("$CSTOR" $G layers --json)" "$("$GO_CS" $G layers --json)" "layers --json"
}

test_each_side_rewrites_the_others_file() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local a b
	a=$("$GO_CS" $G create-layer -n a | head -1)
	b=$("$GO_CS" $G create-layer -n b "$a" | head -1)
	"$GO_CS" $G set-names -n b2 "$b"
	cp "$s/g/vfs-layers/layers.json" "$s/go.json"
	# cstor rewrites the file Go wrote without a change of meaning: the
	# same bytes once the names are put back.
	"$CSTOR" $G set-names -n b3 "$b"
	"$CSTOR" $G set-names -n b2 "$b"
	cmp "$s/go.json" "$s/g/vfs-layers/layers.json" || {
		diff <(tr ',' '\n' <"$s/go.json") <(tr ',' '\n' <"$s/g/vfs-layers/layers.json")
		die "layers.json written by cstor differs from Go's"
	}
}

# A layer big enough that its tarball fills any pipe buffer many times.
big_layer() { # STORE-OPTS... -> prints the layer ID
	local d; d=$(mktemp -d "$T_TMP/big.XXXXXX")
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$d/big"
	tar -C "$d" -cf "$d.tar" big
	local id; id=$("$CSTOR" "$@" create-layer | head -n 1)
	"$CSTOR" "$@" applydiff -f "$d.tar" "$id" >/dev/null
	rm -rf "$d" "$d.tar"
	echo "$id"
}

# No layer store lock is held while a diff's tarball is written
# (docs/locking.md, "Mount, unmount, diff"): with the consumer stalled, other
# processes, cstor and Go, still create layers; and the diff, once read,
# is the same tarball.
diff_lets_writers_go() { # DRIVER
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s $1"
	local id; id=$(big_layer $G)
	"$CSTOR" $G diff -u "$id" >"$s/want.tar"
	# Against another layer than the parent, the diff is computed (on
	# overlay, through mounts: the mount state is held, not the store).
	local other; other=$("$CSTOR" $G create-layer | head -n 1)
	local verb
	for verb in "diff -u $id" "diff -u $id $other" "changes $id" "diffsize $id $other"; do
		{ "$CSTOR" $G $verb; echo "rc=$?" >"$s/rc"; } | { sleep 3; cat >"$s/got"; } &
		local bg=$!
		sleep 0.7
		timeout 2 "$CSTOR" $G create-layer >/dev/null || die "$1 $verb: cstor create-layer waited for it"
		if have_go_cs; then
			timeout 2 "$GO_CS" $G create-layer >/dev/null || die "$1 $verb: Go create-layer waited for it"
		fi
		wait $bg
		expect_eq "$(cat "$s/rc")" rc=0 "$1 $verb exit status"
	done
	"$CSTOR" $G diff -u "$id" | { sleep 2; cat >"$s/got.tar"; }
	cmp "$s/want.tar" "$s/got.tar" || die "$1: diff read slowly differs"
}

test_diff_lets_writers_go_vfs() { diff_lets_writers_go vfs; }
test_diff_lets_writers_go_overlay() { t_need_overlay; diff_lets_writers_go overlay; }

# A layer deleted while its diff is being written: the delete goes on, the
# diff fails saying so (what it wrote is not the layer's tarball).
test_diff_of_layer_deleted_meanwhile() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local id; id=$(big_layer $G)
	{ "$CSTOR" $G diff -u "$id" 2>"$s/err"; echo "rc=$?" >"$s/rc"; } | { sleep 3; cat >/dev/null; } &
	local bg=$!
	sleep 0.7
	timeout 2 "$CSTOR" $G delete-layer "$id" || die "delete-layer waited for the diff"
	wait $bg
	[ "$(cat "$s/rc")" != rc=0 ] || die "the diff of a layer deleted meanwhile succeeded"
	grep -q "was deleted while it was being read" "$s/err" || die "diff error: $(cat "$s/err")"
}

t_begin
t_run test_go_waits_for_cstor_lock
t_run test_cstor_waits_for_go_lock
t_run test_writes_seen_both_ways
t_run test_each_side_rewrites_the_others_file
t_run test_diff_lets_writers_go_vfs
t_run test_diff_lets_writers_go_overlay
t_run test_diff_of_layer_deleted_meanwhile
t_end
