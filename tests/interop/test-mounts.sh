#!/bin/bash
# The mount contract (docs/mounts.md): counts equal live holders through
# crashes, process-bound holds die with their processes (not their pids),
# persistent holds last until unmount, Go processes take part, the kernel's
# mount table is the truth, and layers of read-only stores are mounted
# read-only without a single write under that store.
#
# TORTURE_SECONDS (default 6) makes the torture runs longer.
. "$(dirname "$0")/../lib.sh"
TOOLS=${CSTOR_BUILD:-$(dirname "$CSTOR")/../..}/tests
SECS=${TORTURE_SECONDS:-6}

# A store with a base layer (from a real tarball) and N children.
make_store() { # make_store DIR DRIVER N -> prints layer IDs, base first
	local d=$1 drv=$2 n=$3
	mkdir -p "$d/src/etc" "$d/src/data"
	echo hello >"$d/src/etc/hello"
	head -c 100000 /dev/urandom >"$d/src/data/blob"
	tar -C "$d/src" -cf "$d/base.tar" .
	local C="$CSTOR -g $d/g -R $d/r -s $drv"
	local base
	base=$($C import-layer -f "$d/base.tar" | head -1)
	echo "$base"
	for _ in $(seq 1 "$n"); do $C create-layer "$base" | head -1; done
}

torture() { # torture DRIVER [go]
	local drv=$1 with_go=${2:-}
	[ "$drv" = overlay ] && ! grep -qw overlay /proc/filesystems && skip "no overlay filesystem"
	local s; s=$(t_store)
	local ids
	ids=$(make_store "$s" "$drv" 4)
	local base; base=$(echo "$ids" | head -1)
	local gopid=
	if [ -n "$with_go" ]; then
		have_go_cs || skip "containers-storage (Go CLI) is not installed"
		local golayer; golayer=$(echo "$ids" | sed -n 2p)
		# A Go process mounting and unmounting the shared layer and one of
		# its own, until told to stop (it stops between iterations).
		(
			while [ ! -e "$s/stop" ]; do
				"$GO_CS" -g "$s/g" -R "$s/r" -s "$drv" mount "$base" >/dev/null
				"$GO_CS" -g "$s/g" -R "$s/r" -s "$drv" mount "$golayer" >/dev/null
				"$GO_CS" -g "$s/g" -R "$s/r" -s "$drv" unmount "$golayer" >/dev/null
				"$GO_CS" -g "$s/g" -R "$s/r" -s "$drv" unmount "$base" >/dev/null
				echo x >>"$s/go-iterations"
			done
		) &
		gopid=$!
	fi
	"$TOOLS/cstor-torture" ${with_go:+-F} -g "$s/g" -R "$s/r" -s "$drv" -w 8 -t "$SECS" -k 5 -d "$base" $ids \
		>"$s/torture.out" 2>&1 || { cat "$s/torture.out"; touch "$s/stop"; wait; die "torture failed"; }
	if [ -n "$gopid" ]; then
		touch "$s/stop"
		wait $gopid
		[ -s "$s/go-iterations" ] || die "the Go loop never completed an iteration"
		echo "Go mount/unmount iterations: $(wc -l <"$s/go-iterations")"
		# Go's holds are all released: every count must be 0 again.
		for id in $ids; do
			local out; out=$("$CSTOR" -g "$s/g" -R "$s/r" -s "$drv" mounted "$id" | go_view)
			[ -z "$out" ] || die "layer $id still counted after the Go loop: $out"
		done
		grep -q '"count"' "$s/r/$drv-layers/mountpoints.json" &&
			die "mountpoints.json still counts: $(cat "$s/r/$drv-layers/mountpoints.json")"
	fi
	cat "$s/torture.out"
	expect_eq "$(mounts_under "$s/g/$drv")$(mounts_under "$s/r")" 00 "mounts left behind"
	# No layer was lost.
	expect_eq "$("$CSTOR" -g "$s/g" -R "$s/r" -s "$drv" layers | sort)" "$(echo "$ids" | sort)" "layers"
	# And the content is intact.
	"$CSTOR" -g "$s/g" -R "$s/r" -s "$drv" diff -u "$base" | cmp - "$s/base.tar" || die "diff changed"
}

test_torture_overlay() { torture overlay; }
test_torture_vfs() { torture vfs; }
test_torture_overlay_with_go() { torture overlay go; }

with_mount_setup() {
	local s; s=$(t_store)
	local id; id=$(make_store "$s" overlay 0)
	echo "$s $id"
}

test_with_mount_runs_and_releases() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	local rc=0
	$C with-mount "$id" -- sh -c 'test "$(cat "$CSTOR_MOUNTPOINT/etc/hello")" = hello && exit 7' || rc=$?
	expect_eq $rc 7 "with-mount exit status is the command's"
	expect_eq "$($C mounted "$id")" "" "released after the command"
	expect_eq "$(mounts_under "$s/g/overlay")" 0 "unmounted after the command"
	rc=0; $C with-mount "$id" -- /nonexistent/cmd 2>/dev/null || rc=$?
	expect_eq $rc 127 "command not found"
}

test_with_mount_holder_killed() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	$C with-mount "$id" -- sleep 300 &
	local cs=$!
	# Wait for the hold and for the command itself: between fork and exec
	# the child is still called cstor, and pgrep finds no "sleep".
	local i=0 child=""
	while [ $i -lt 200 ]; do
		if [ -n "$($C mounted "$id" | head -1)" ]; then
			child=$(pgrep -P $cs -x sleep || true)
			[ -z "$child" ] || break
		fi
		sleep 0.05; i=$((i + 1))
	done
	[ -n "$child" ] || die "no command running"
	# cstor dies: the command still runs and keeps the hold.
	kill -9 $cs; wait $cs 2>/dev/null || true
	$C mounted -v "$id" | grep -q "count: 1" || die "hold lost while the command runs: $($C mounted -v "$id")"
	expect_eq "$(mounts_under "$s/g/overlay")" 1 "still mounted while the command runs"
	# Not even a forced unmount takes it from under the running command.
	$C unmount --force "$id" >/dev/null 2>&1 || true
	expect_eq "$(mounts_under "$s/g/overlay")" 1 "unmount --force left a running command's mount"
	kill -9 "$child"; sleep 0.1
	# The next operation reclaims it.
	expect_eq "$($C mounted "$id")" "" "reclaimed after SIGKILL of everything"
	expect_eq "$(mounts_under "$s/g/overlay")" 0 "unmounted after reclaim"
	expect_eq "$(cat "$s/r/overlay-layers/mountpoints.json")" "[]" "mountpoints.json"
}

# Start `with-mount LAYER -- sleep`, wait until it holds, then SIGKILL it and
# its command: a dead hold, that nothing has reconciled yet.
kill_with_mount_holder() { # kill_with_mount_holder "CSTOR-COMMAND" LAYER
	local C=$1 id=$2
	$C with-mount "$id" -- sleep 300 &
	local cs=$!
	local i=0
	while [ "$($C mounted "$id" | head -1)" = "" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	# The hold is counted before the command is started: wait for it too.
	local child=
	i=0
	while [ -z "$child" ] && [ $i -lt 200 ]; do
		child=$(pgrep -P $cs -x sleep || true)
		[ -n "$child" ] || sleep 0.05
		i=$((i + 1))
	done
	[ -n "$child" ] || die "no command running"
	kill -9 $cs "$child"; wait $cs 2>/dev/null || true
	# The command is not our child: wait until it has exited (its fds,
	# the hold's among them, are closed by then).
	i=0
	while [ -e "/proc/$child" ] && ! grep -q '^State:.*Z' "/proc/$child/status" 2>/dev/null &&
		[ $i -lt 200 ]; do
		sleep 0.02
		i=$((i + 1))
	done
}

# Delete reads the reconciled count: a hold whose processes were all
# killed does not keep the layer, with no other command run in between.
test_delete_after_holder_killed() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	kill_with_mount_holder "$C" "$id"
	$C delete-layer "$id" || die "delete-layer refused a layer whose holders are all dead"
	expect_eq "$($C layers)" "" "layer deleted"
	expect_eq "$(mounts_under "$s/g/overlay")" 0 "unmounted"
	expect_eq "$(cat "$s/r/overlay-layers/mountpoints.json")" "[]" "mountpoints.json"
}

# A listing shows reconciled mounts: no mount of a dead hold.
test_listing_after_holder_killed() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	kill_with_mount_holder "$C" "$id"
	$C layers -t | grep -q "mount:" && die "a dead hold listed: $($C layers -t)"
	# And a live one is listed.
	$C with-mount "$id" -- sh -c "$C layers -t" | grep -q "mount: $s/g/overlay/$id/merged" ||
		die "a live hold not listed"
}

test_reused_pid_does_not_keep_a_hold() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot choose pids (no writable ns_last_pid)"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	$C with-mount "$id" -- sleep 300 &
	local cs=$!
	# Wait for the hold and for the command itself: between fork and exec
	# the child is still called cstor, and pgrep finds no "sleep".
	local i=0 child=""
	while [ $i -lt 200 ]; do
		if [ -n "$($C mounted "$id" | head -1)" ]; then
			child=$(pgrep -P $cs -x sleep || true)
			[ -z "$child" ] || break
		fi
		sleep 0.05; i=$((i + 1))
	done
	[ -n "$child" ] || die "no command running"
	kill -9 $cs "$child"; wait $cs 2>/dev/null || true
	# An unrelated process gets the holder's pid.
	local got=""
	for _ in $(seq 1 50); do
		echo $((cs - 1)) >/proc/sys/kernel/ns_last_pid
		sleep 300 &
		if [ $! = "$cs" ]; then got=$!; break; fi
		kill $! 2>/dev/null
	done
	[ -n "$got" ] || skip "could not get pid $cs again"
	kill -0 "$got" || die "pid $cs not alive"
	expect_eq "$($C mounted "$id")" "" "a reused pid kept a dead hold alive"
	kill "$got"
}

test_library_hold_killed() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	read -r s id < <(with_mount_setup)
	# The torture tool's workers are library users; one worker, one
	# second, no kills: it ends holding, then is killed by the tool.
	"$TOOLS/cstor-torture" -g "$s/g" -R "$s/r" -s overlay -w 1 -t 1 -k 0 "$id" >/dev/null
	expect_eq "$("$CSTOR" -g "$s/g" -R "$s/r" -s overlay mounted "$id")" "" "library hold reclaimed"
	expect_eq "$(mounts_under "$s/g/overlay")" 0 "unmounted"
}

test_persistent_holds_and_go() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay" G="$GO_CS -g $s/g -R $s/r -s overlay"
	$C mount "$id" >/dev/null
	$G mount "$id" >/dev/null
	$C mounted -v "$id" | grep -q "count: 2" || die "cstor did not see Go's hold: $($C mounted -v "$id")"
	$C mounted -v "$id" | grep -q "foreign x1" || die "Go's hold not shown as foreign"
	expect_eq "$($G mounted "$id")" "$id mounted" "Go sees the mount"
	grep -q '"count":2' "$s/r/overlay-layers/mountpoints.json" || die "Go-visible count"
	$G unmount "$id" >/dev/null
	$C mounted -v "$id" | grep -q "count: 1" || die "after Go unmount: $($C mounted -v "$id")"
	# The kernel is the truth: a mount that vanished is repaired.
	umount -l "$s/g/overlay/$id/merged"
	expect_eq "$(mounts_under "$s/g/overlay/$id")" 0 "the mount vanished"
	$C mounted -v "$id" | grep -q "count: 1" || die "holder lost"
	expect_eq "$(mounts_under "$s/g/overlay/$id")" 1 "vanished mount repaired for its holder"
	$C unmount "$id" | grep -q unmounted || die "unmount"
	expect_eq "$(mounts_under "$s/g/overlay/$id")" 0 "unmounted"
	# Unmounting what is not mounted succeeds, as in Go.
	$C unmount "$id" >/dev/null
}

# A read-only store: made by cstor, then bind-mounted read-only on itself so
# that any write attempt fails loudly (ro_checksum in lib.sh).

read_only_store() {
	local drv=$1
	[ "$drv" = overlay ] && ! grep -qw overlay /proc/filesystems && skip "no overlay filesystem"
	local s; s=$(t_store)
	local id; id=$(make_store "$s" "$drv" 0)
	[ "$drv" = overlay ] && umount "$s/g/overlay" 2>/dev/null
	mount --bind "$s/g" "$s/g" && mount -o remount,bind,ro "$s/g" "$s/g" || skip "cannot make a read-only bind mount"
	local before; before=$(ro_checksum "$s/g")
	touch "$s/g/probe" 2>/dev/null && die "the read-only store is writable"
	local P="$s/primary"
	local C="$CSTOR -g $P/g -R $P/r -s $drv --storage-opt $drv.imagestore=$s/g"
	$C layers | grep -qx "$id" || die "layer of the read-only store not listed"
	$C layer "$id" | grep -q "Read Only: true" || die "not marked read-only"
	# Without -r it mounts read-only too (tests/interop/test-ro-stores.sh).
	local mp; mp=$($C mount "$id")
	touch "$mp/new" 2>/dev/null && die "wrote through the mount of a read-only layer"
	$C unmount "$id" >/dev/null
	mp=$($C mount -r "$id")
	expect_eq "$(cat "$mp/etc/hello")" hello "content through the read-only mount"
	touch "$mp/new" 2>/dev/null && die "wrote through a read-only mount"
	case "$mp" in "$s/g"/*) die "mount point $mp is inside the read-only store";; esac
	$C mounted -v "$id" | grep -q "count: 1" || die "mounted: $($C mounted -v "$id")"
	grep -q "\"$id\"" "$P/r/$drv-layers/mountpoints.json" || die "no mount record in the primary run root"
	# Listed as mounted, like a primary layer.
	$C layers -t | grep -q "mount: $mp" || die "mount of a read-only layer not listed: $($C layers -t)"
	# Diff of a read-only store's layer: the original tarball.
	$C diff -u "$id" | cmp - "$s/base.tar" || die "diff of a read-only layer"
	$C changes "$id" | grep -q '/etc/hello' || die "changes of a read-only layer"
	$C with-mount -r "$id" -- test -f '$CSTOR_MOUNTPOINT' 2>/dev/null || true
	$C with-mount -r "$id" -- sh -c 'test -f "$CSTOR_MOUNTPOINT/etc/hello"' || die "with-mount -r"
	$C unmount "$id" | grep -q unmounted || die "unmount of a read-only layer"
	expect_eq "$(mounts_under "$P/r")$(mounts_under "$P/g/$drv")" 00 "unmounted"
	# A container-like child in the primary store on top of it.
	local child; child=$($C create-layer "$id" | head -1)
	[ -n "$child" ] || die "child of a read-only layer"
	mp=$($C mount "$child")
	expect_eq "$(cat "$mp/etc/hello")" hello "child sees the read-only parent"
	$C unmount "$child" >/dev/null
	# The read-only layer against itself, not its parent: on overlay a
	# comparison of mounted trees, the mount state taken before the
	# read-only store.
	expect_eq "$($C changes "$id" "$id")" "" "changes of a read-only layer against itself"
	expect_eq "$(mounts_under "$P/r")$(mounts_under "$P/g/$drv")" 00 "changes left no mounts"
	expect_eq "$(ro_checksum "$s/g")" "$before" "the read-only store changed"
	umount "$s/g"
}

test_read_only_store_vfs() { read_only_store vfs; }
test_read_only_store_overlay() { read_only_store overlay; }

test_shutdown() {
	grep -qw overlay /proc/filesystems || skip "no overlay filesystem"
	read -r s id < <(with_mount_setup)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	$C mount "$id" >/dev/null
	local rc=0
	$C shutdown 2>"$s/err" || rc=$?
	expect_eq $rc 1 "shutdown with a mounted layer"
	grep -q "a layer is mounted" "$s/err" || die "message: $(cat "$s/err")"
	expect_eq "$(mounts_under "$s/g/overlay")" 1 "nothing unmounted without -f"
	$C shutdown --force
	expect_eq "$(mounts_under "$s/g")" 0 "shutdown -f unmounted the layer and the home"
	expect_eq "$(cat "$s/r/overlay-layers/mountpoints.json")" "[]" "no mount records"
	# The next process sets the home up again, as Go's does.
	$C layers >/dev/null
	expect_eq "$(mounts_under "$s")" 1 "home bind mount again"
}

# Mounts of different layers never wait for each other (docs/locking.md,
# "Mount state"): while one layer's mount is stuck in its mount program,
# another layer mounts and unmounts; a mount of the stuck layer itself
# waits (its count must stay exact). Before per-layer locks, the second
# layer waited for the first (mountpoints.lock was held across the mount).
test_different_layers_do_not_wait() {
	[ "$(id -u)" = 0 ] || skip "needs root (real mounts)"
	t_need_overlay
	local s; s=$(t_store)
	local ids; ids=$(make_store "$s" overlay 2)
	local a b
	a=$(echo "$ids" | sed -n 2p)
	b=$(echo "$ids" | sed -n 3p)
	# A mount program that mounts with the kernel's overlay (reconciliation
	# accepts it), stopping for layer A until it is told to go on.
	cat >"$s/slow-mount" <<-EOF
		#!/bin/sh
		case "\$3" in */$a/*) : >"$s/a-started"; while [ ! -e "$s/a-go" ]; do sleep 0.05; done ;; esac
		exec mount -t overlay overlay -o "\$2" "\$3"
	EOF
	chmod +x "$s/slow-mount"
	local C="$CSTOR -g $s/g -R $s/r -s overlay --storage-opt overlay.mount_program=$s/slow-mount"
	$C mount "$a" >"$s/a-out" 2>&1 &
	local apid=$!
	for _ in $(seq 1 200); do [ -e "$s/a-started" ] && break; sleep 0.05; done
	[ -e "$s/a-started" ] || die "the mount of A never reached its mount program"
	local rc=0
	timeout 20 $C mount "$b" >/dev/null || rc=$?
	expect_eq $rc 0 "mount of B while A's mount is under way"
	rc=0
	timeout 20 $C unmount "$b" >/dev/null || rc=$?
	expect_eq $rc 0 "unmount of B while A's mount is under way"
	rc=0
	timeout 2 $C mount "$a" >/dev/null 2>&1 || rc=$?
	expect_eq $rc 124 "a second mount of A waits for the first"
	: >"$s/a-go"
	wait $apid || die "mount of A: $(cat "$s/a-out")"
	expect_eq "$($C mounted -v "$a" | sed -n 2p)" "	count: 1" "A's count"
	$C unmount "$a" >/dev/null
	expect_eq "$(mounts_under "$s/g/overlay")" 0 "mounts left under the home"
	expect_eq "$(cat "$s/r/overlay-layers/mountpoints.json")" "[]" "mount records left"
}

t_begin
t_run test_torture_overlay
t_run test_torture_vfs
t_run test_torture_overlay_with_go
t_run test_with_mount_runs_and_releases
t_run test_with_mount_holder_killed
t_run test_delete_after_holder_killed
t_run test_listing_after_holder_killed
t_run test_reused_pid_does_not_keep_a_hold
t_run test_library_hold_killed
t_run test_persistent_holds_and_go
t_run test_read_only_store_vfs
t_run test_read_only_store_overlay
t_run test_shutdown
t_run test_different_layers_do_not_wait
t_end
