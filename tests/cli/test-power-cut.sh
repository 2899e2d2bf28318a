#!/bin/bash
# Power cuts (issue 12): every operation that reported success survives a
# power cut, and a cut in the middle of an operation leaves a consistent
# store (check finds nothing beyond an interrupted operation, and after the
# next writer, `cstor gc`, nothing at all) holding the store as it was
# before the operation or after it, nothing in between.
#
# The store lives on cutfs (tests/tools/cutfs.c), a FUSE filesystem that
# keeps in memory what was not made durable (fsync, fdatasync, syncfs, an
# fsync of the directory of a rename) and drops it on command, as a power
# cut does; the run root (a tmpfs in real life) is emptied at each cut.
# The driver is vfs: the kernel refuses a FUSE filesystem as overlay's
# upper layer. cstor runs with cutfs-sync.so preloaded, which tells cutfs
# of each syncfs (FUSE never sees one).
#
# A sequence of operations (create layer, applydiff, import of an image,
# create image, create container, set names, metadata, delete image,
# delete layer) is run once to record the store after each step (its
# records without times: the fingerprint) and how many mutating calls each
# step makes. Then, from a fresh cutfs each time:
#   - cut after step k: the store checks clean and is fingerprint k;
#   - cut at the N-th mutating call of step k (cutfs "arm N": that call and
#     all after it fail, as a dead disk): fingerprint k-1 or k after gc.
# N takes a few points per step by default, every call with
# POWER_CUT_ALL=1 (POWER_CUT_STEPS="3 6" limits the cuts during steps to
# those). The number of power-cut runs is printed.
# A negative control shows that cutfs really drops data: with sync=none an
# applied layer's files are lost at a cut and check says so.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS=${CSTOR_BUILD:-$(dirname "$CSTOR")/../..}/tests
CUTFS=$TOOLS/cutfs
SHIM=$TOOLS/cutfs-sync.so

need_cutfs() {
	[ "$(id -u)" = 0 ] || skip "needs root to mount FUSE filesystems"
	[ -x "$CUTFS" ] && [ -f "$SHIM" ] || skip "cutfs not built (libfuse3-dev, scripts/deps.sh --test)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v jq >/dev/null || skip "jq is not installed"
	[ -x /bin/busybox ] || skip "busybox-static is not installed (the image to import)"
}

# The inputs, made once: two layer tarballs and an image layout.
inputs() {
	[ -f "$T_TMP/in/done" ] && return 0
	local i d="$T_TMP/in"
	mkdir -p "$d/base/etc" "$d/base/data" "$d/top/etc"
	for ((i = 0; i < 200; i++)); do
		printf 'file %d\n%0*d\n' "$i" $((i * 7 % 3000)) 0 >"$d/base/data/f$i"
	done
	head -c 1500000 /dev/urandom >"$d/base/data/big1"
	head -c 700000 /dev/urandom >"$d/base/data/big2"
	echo hello >"$d/base/etc/hello"
	ln -s hello "$d/base/etc/link"
	ln "$d/base/data/f1" "$d/base/data/hard"
	echo new >"$d/top/etc/hello"
	mkdir -p "$d/top/data" && touch "$d/top/data/.wh.f3"
	tar -C "$d/base" -cf "$d/base.tar" .
	tar -C "$d/top" -cf "$d/top.tar" .
	"$ROOT/scripts/mkimage-busybox" "$d/img" v1 >/dev/null
	touch "$d/done"
}

# A fresh cutfs: M (its directory), CTL (its control file), and cs (cstor
# on a store in it, with sync=$SYNC).
SYNC=filesystem
cut_mount() {
	M=$(mktemp -d "$T_TMP/cut.XXXXXX")
	mkdir -p "$M/mnt" "$M/run"
	"$CUTFS" -s -o entry_timeout=0,attr_timeout=0,negative_timeout=0 "$M/mnt" ||
		skip "cannot mount cutfs"
	CTL=$M/mnt/.cutfs-ctl
}
cut_umount() {
	umount "$M/mnt" && rm -rf "$M"
}
cs() {
	LD_PRELOAD=$SHIM CUTFS_MOUNT=$M/mnt "$CSTOR" -g "$M/mnt/g" -R "$M/run" -s vfs \
		--storage-opt "vfs.sync=$SYNC" "$@"
}
ops_count() { sed 's/.*ops=\([0-9]*\).*/\1/' "$CTL"; }
RUNS=0
power_cut() {
	echo cut >"$CTL"
	rm -rf "$M/run" && mkdir "$M/run"
	RUNS=$((RUNS + 1))
}

# The steps, by number. Names and IDs are not hex: a random layer ID
# (a container's) must never take them as its prefix.
NSTEPS=12
step() {
	local d="$T_TMP/in"
	case $1 in
	1) cs create-layer -i spare -n spare ;;
	2) cs create-layer -i base -n base ;;
	3) cs applydiff -f "$d/base.tar" base ;;
	4) cs create-layer -i top -n top base ;;
	5) cs applydiff -f "$d/top.tar" top ;;
	6) cs import -q -n busy "oci:$d/img:v1" ;;
	7) cs create-image -i img1 -n img1 top ;;
	8) cs create-container -i ctr -n ctr img1 ;;
	9) cs set-names -n img1b -n img1c img1 ;;
	10) cs set-metadata -m '{"k":"v"}' ctr ;;
	11) cs delete-image busy ;;
	12) cs delete-layer spare ;;
	esac >/dev/null
}

# The store's records without times, one per line, and the files of every
# layer (the layers' contents are also compared with their tar-splits by
# check). A container's layer has a random ID: named after its container.
# No store yet and an empty store are the same: nothing.
fingerprint() {
	local names l
	names=$(cs containers --json 2>/dev/null | jq -r '(. // [])[] | "s/\(.layer)/layer-of-\(.id)/g"')
	{
		cs layers --json | jq -cS '(. // [])[] | {id, names, parent, "diff-digest",
			"diff-size", "compressed-diff-digest", "big-data-names", flags}'
		cs images --json | jq -cS '(. // [])[] | {id, names, layer, metadata,
			"big-data-names", "big-data-digests"}'
		cs containers --json | jq -cS '(. // [])[] | {id, names, image, layer, metadata}'
		for l in $(cs layers -q); do
			echo "$l $(cd "$M/mnt/g/vfs/dir/$l" && find . -printf '%p %y %m %s %l\n' | sort |
				sha256sum | cut -c1-16) $(cd "$M/mnt/g/vfs/dir/$l" && find . -type f -print0 |
				sort -z | xargs -0r cat | sha256sum | cut -c1-16)"
		done
	} 2>/dev/null | sed -e "${names:-s/^//}" | sort
}

# The reference run: FP_k in $T_TMP/fp.k, mutating calls of step k in D[k].
declare -a D
reference() {
	[ -f "$T_TMP/fp.$NSTEPS" ] && return 0
	cut_mount
	local k before
	fingerprint >"$T_TMP/fp.0"
	for ((k = 1; k <= NSTEPS; k++)); do
		before=$(ops_count)
		step "$k" || die "step $k failed without a cut"
		D[k]=$(($(ops_count) - before))
		fingerprint >"$T_TMP/fp.$k"
	done
	cs check >/dev/null || die "the reference store does not check clean"
	cut_umount
	printf "%s\n" "${D[@]}" >"$T_TMP/calls"
}

# After a cut: check finds nothing or only an interrupted operation, gc
# cleans that, and the store is fingerprint $1 or, when given, $2.
verify() {
	local a=$1 b=${2:-$1} what=$3
	if ! cs check >"$M/check" 2>&1; then
		# Only what the next writer removes may be there.
		if grep -v -e 'interrupted' -e 'problems found' -e '^[a-z -]*[0-9a-z]*:$' \
			"$M/check" | grep -q .; then
			cat "$M/check"
			die "$what: check finds more than an interrupted operation"
		fi
	fi
	cs gc >/dev/null 2>&1 || true
	if ! cs check >"$M/check" 2>&1 && [ -n "${4:-}" ] &&
		! grep -v -e 'an apply into it was interrupted' -e 'problems found' \
			-e '^[a-z -]*[0-9a-z]*:$' "$M/check" | grep -q .; then
		# An applydiff into an existing layer that died keeps the
		# layer flagged (its files are partly new) until the user runs
		# it again, as after any failed applydiff.
		step "$4" || die "$what: step $4 run again after the cut failed"
	fi
	cs check >"$M/check" 2>&1 || { cat "$M/check"; die "$what: check after gc"; }
	fingerprint >"$M/fp"
	if ! cmp -s "$M/fp" "$T_TMP/fp.$a" && ! cmp -s "$M/fp" "$T_TMP/fp.$b"; then
		diff "$T_TMP/fp.$b" "$M/fp" | head -20
		die "$what: the store is neither as before step $b nor as after it"
	fi
}

test_cut_after_each_step() {
	need_cutfs
	inputs
	reference
	local k i
	for ((k = 1; k <= NSTEPS; k++)); do
		cut_mount
		for ((i = 1; i <= k; i++)); do
			step "$i" || die "step $i failed without a cut"
		done
		power_cut
		verify "$k" "$k" "cut after step $k"
		cut_umount
	done
	echo "$RUNS" >"$T_TMP/runs.after"
}

# The calls of step k to cut at: a few spread over the step, or all.
points() {
	local n=$1
	if [ "${POWER_CUT_ALL:-0}" = 1 ]; then
		seq 1 "$n"
	else
		printf '%s\n' 1 2 $((n / 4)) $((n / 2)) $((3 * n / 4)) $((n - 1)) "$n" |
			awk -v n="$n" '$1 >= 1 && $1 <= n' | sort -nu
	fi
}

test_cut_during_each_step() {
	need_cutfs
	inputs
	reference
	mapfile -t calls <"$T_TMP/calls"
	local k i n rc
	for ((k = 1; k <= NSTEPS; k++)); do
		[[ " ${POWER_CUT_STEPS:-$k} " == *" $k "* ]] || continue
		for n in $(points "${calls[k - 1]}"); do
			cut_mount
			for ((i = 1; i < k; i++)); do
				step "$i" || die "step $i failed without a cut"
			done
			echo "arm $n" >"$CTL"
			rc=0
			step "$k" 2>/dev/null || rc=$?
			if grep -q 'dead=1' "$CTL"; then
				echo revive >"$CTL"
				rm -rf "$M/run" && mkdir "$M/run"
				RUNS=$((RUNS + 1))
				[ $rc -ne 0 ] || echo "# step $k reported success after its cut at call $n"
			else
				# Fewer calls than the reference run: cut after it.
				echo disarm >"$CTL"
				power_cut
			fi
			if [ $rc -eq 0 ]; then
				verify "$k" "$k" "step $k, cut at call $n of ${calls[k - 1]} (it succeeded)"
			else
				verify "$((k - 1))" "$k" "step $k, cut at call $n of ${calls[k - 1]}" "$k"
			fi
			cut_umount
		done
	done
	echo "$RUNS" >"$T_TMP/runs.during"
	echo "calls per step: $(echo "${calls[@]}")" >"$T_TMP/calls.note"
}

# With sync=none cutfs must lose something: the files of a layer applied
# just before the cut. Proves the walk above can fail.
test_negative_control_sync_none() {
	need_cutfs
	inputs
	SYNC=none
	cut_mount
	step 2 && step 3 || die "applydiff failed"
	power_cut
	if cs check >"$M/check" 2>&1; then
		die "sync=none: a power cut right after applydiff lost nothing (cutfs drops no data?)"
	fi
	grep -q 'layer base' "$M/check" || { cat "$M/check"; die "check does not name the layer"; }
	cut_umount
	# The same with the default: nothing lost.
	SYNC=filesystem
	cut_mount
	step 2 && step 3 || die "applydiff failed"
	power_cut
	cs check >"$M/check" 2>&1 || { cat "$M/check"; die "sync=filesystem: check after the cut"; }
	cut_umount
	echo 2 >"$T_TMP/runs.control"
}

# The option's values, from the command line and storage.conf: the two of
# containers/storage, anything else refused naming it.
test_sync_option_values() {
	local s drv v
	for drv in vfs overlay; do
		[ "$drv" = vfs ] || grep -qw overlay /proc/filesystems || continue
		s=$(t_store)
		for v in filesystem none; do
			"$CSTOR" -g "$s/g" -R "$s/r" -s $drv --storage-opt "$drv.sync=$v" layers >/dev/null 2>"$s/err" ||
				{ cat "$s/err"; die "$drv.sync=$v refused"; }
		done
		! "$CSTOR" -g "$s/g" -R "$s/r" -s $drv --storage-opt "$drv.sync=always" layers \
			>/dev/null 2>"$s/err" || die "$drv.sync=always accepted"
		grep -q "sync: \"always\" is not a sync mode (none, filesystem)" "$s/err" ||
			{ cat "$s/err"; die "the error does not name the value"; }
	done
	s=$(t_store)
	printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n[storage.options.vfs]\nsync = "nope"\n' \
		"$s/g" "$s/r" >"$s/storage.conf"
	! CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" layers >/dev/null 2>"$s/err" ||
		die "storage.conf sync = \"nope\" accepted"
	grep -q '"nope" is not a sync mode' "$s/err" || { cat "$s/err"; die "storage.conf error"; }
	sed -i 's/"nope"/"none"/' "$s/storage.conf"
	CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" create-layer >/dev/null ||
		die "storage.conf sync = \"none\" refused"
}

t_begin
t_run test_sync_option_values
t_run test_negative_control_sync_none
t_run test_cut_after_each_step
t_run test_cut_during_each_step
# The count the issue's closing note asks for.
echo "# power-cut runs: after a step $(cat "$T_TMP/runs.after" 2>/dev/null || echo 0)," \
	"during a step $(cat "$T_TMP/runs.during" 2>/dev/null || echo 0)," \
	"negative control $(cat "$T_TMP/runs.control" 2>/dev/null || echo 0)"
[ -f "$T_TMP/calls.note" ] && echo "# $(cat "$T_TMP/calls.note")"
t_end
