# Shell test library: TAP output, scratch stores that are always cleaned up
# (mounts included), helpers to run cstor and the Go containers-storage.
#
#   . "$(dirname "$0")/../lib.sh"
#   t_begin
#   test_foo() { ...; }        # return 0 pass, 77 skip (t_skip_reason), else fail
#   t_run test_foo
#   t_end
set -u
CSTOR=${CSTOR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/src/cli/cstor}
GO_CS=${GO_CS:-containers-storage}
T_N=0
T_FAILED=0
T_TMP=$(mktemp -d /tmp/cstor-t.XXXXXX)
T_SKIP_REASON=""

# Unmount everything at and below a directory (deepest first).
t_cleanup_mounts() {
	local d=$1
	[ -n "$d" ] && [ -d "$d" ] || return 0
	# Several passes: a mount hidden under another (a bind mount made
	# over a directory with mounts in it) only shows once the upper one
	# is gone.
	local pass
	for pass in 1 2 3 4 5; do
		local ms
		ms=$(awk -v d="$d/" 'index($5, d) == 1 || $5 == substr(d, 1, length(d) - 1) {print $5}' \
			/proc/self/mountinfo | sort -r)
		[ -n "$ms" ] || break
		echo "$ms" | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	done
}

# Unmount everything below a directory and remove it.
t_cleanup_dir() {
	local d=$1
	[ -n "$d" ] && [ -d "$d" ] || return 0
	t_cleanup_mounts "$d"
	chattr -R -i "$d" 2>/dev/null || true
	rm -rf "$d"
}

t_exit_trap() {
	t_cleanup_dir "$T_TMP"
}
trap t_exit_trap EXIT

t_begin() { :; }

# A fresh store directory pair; prints "G R" paths under T_TMP.
t_store() {
	local s
	s=$(mktemp -d "$T_TMP/store.XXXXXX")
	mkdir -p "$s/g" "$s/r"
	echo "$s" >>"$T_TMP/stores.list"
	echo "$s"
}

# A test that damages its stores on purpose (corrupt records, cycles,
# interrupted applies, hostile mount records) or makes stores only its own
# options explain (additional image stores) says so, with the reason: the
# check after the test then leaves its stores alone.
t_unchecked() { echo "$*" >"$T_TMP/unchecked"; }
# A whole file of such tests sets T_UNCHECKED_FILE="reason" instead.

# After each test, every store it made and did not mark damaged must check
# clean (`cstor check`): whatever the test did, cstor left a consistent
# store. CSTOR_CHECK_STORES=0 turns it off.
t_check_stores() { # FIRST-LINE OUT
	local from=$1 out=$2 s drv rc=0
	[ "${CSTOR_CHECK_STORES:-1}" = 1 ] && [ -x "$CSTOR" ] || return 0
	[ -f "$T_TMP/stores.list" ] || return 0
	[ ! -e "$T_TMP/unchecked" ] && [ -z "${T_UNCHECKED_FILE:-}" ] || return 0
	while read -r s; do
		[ -d "$s/g" ] || continue
		drv=
		[ -d "$s/g/vfs-layers" ] && drv=vfs
		[ -d "$s/g/overlay-layers" ] && drv=overlay
		[ -n "$drv" ] || continue
		# A store some test made read-only or unmounted is left alone.
		[ -w "$s/g/$drv-layers" ] || continue
		if ! timeout 120 "$CSTOR" -g "$s/g" -R "$s/r" -s "$drv" check >"$s/.check" 2>&1; then
			{ echo "FAIL: cstor check of store $s ($drv) the test left:"; cat "$s/.check"; } >>"$out"
			rc=1
		fi
	done < <(tail -n +"$from" "$T_TMP/stores.list")
	return $rc
}

t_skip() { T_SKIP_REASON=$1; return 77; }

# T_ONLY="test_a test_b" runs only those tests of a file.
t_run() {
	local name=$1
	if [ -n "${T_ONLY:-}" ] && [[ " $T_ONLY " != *" $name "* ]]; then
		return 0
	fi
	T_N=$((T_N + 1))
	T_SKIP_REASON=""
	local out="$T_TMP/out.$T_N"
	local first=1
	[ -f "$T_TMP/stores.list" ] && first=$(($(wc -l <"$T_TMP/stores.list") + 1))
	rm -f "$T_TMP/unchecked"
	( set -e; "$name" ) >"$out" 2>&1
	local rc=$?
	if [ $rc -eq 0 ] && ! t_check_stores "$first" "$out"; then
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		echo "ok $T_N - $name"
	elif [ $rc -eq 77 ]; then
		echo "ok $T_N - $name # SKIP $(tail -n 1 "$out")"
	else
		echo "not ok $T_N - $name"
		sed 's/^/# /' "$out" | tail -n ${T_TAIL:-40}
		T_FAILED=$((T_FAILED + 1))
	fi
}

t_end() {
	echo "1..$T_N"
	[ $T_FAILED -eq 0 ]
}

# Fail with a message.
die() { echo "FAIL: $*" >&2; return 1; }
# expect_eq ACTUAL EXPECTED [what]
expect_eq() {
	if [ "$1" != "$2" ]; then
		printf 'FAIL: %s\n  expected: %q\n  actual:   %q\n' "${3:-value}" "$2" "$1" >&2
		return 1
	fi
}
# Skip (from inside a test) with a reason printed last.
skip() { echo "$*"; exit 77; }

have_go_cs() { command -v "$GO_CS" >/dev/null 2>&1; }

# What a driver configuration needs (from inside a test: skip otherwise).
t_need_overlay() { grep -qw overlay /proc/filesystems || skip "no overlay filesystem"; }
T_FUSE_OVERLAYFS=$(command -v fuse-overlayfs 2>/dev/null || true)
t_need_fuse_overlayfs() {
	[ -n "$T_FUSE_OVERLAYFS" ] || skip "fuse-overlayfs is not installed"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	[ "$(id -u)" = 0 ] || skip "needs root"
	# A container may have /dev/fuse and still refuse FUSE mounts.
	local d; d=$(mktemp -d "$T_TMP/probe.XXXXXX")
	mkdir -p "$d/l" "$d/m"
	"$T_FUSE_OVERLAYFS" -o "lowerdir=$d/l" "$d/m" 2>/dev/null || skip "fuse-overlayfs cannot mount here"
	umount -l "$d/m"
}

# cstor's `mounted` adds the count, mount point and holders to Go's output
# (detail lines after "<arg> mounted", extra JSON keys): strip them to get
# exactly what containers-storage prints.
go_view() {
	sed -e '/^\t\(count\|mountpoint\|holder\): /d' \
		-e 's/,"count":[0-9-]*,"mountpoint":"[^"]*","holders":\[[^]]*\]//g'
}

# How many mounts there are below a directory.
mounts_under() { awk -v d="$1/" 'index($5, d) == 1 {n++} END {print n + 0}' /proc/self/mountinfo; }

# A hash of a tree, names, modes, owners, sizes, times and contents: a
# read-only store must hash the same before and after.
ro_checksum() { (cd "$1" && find . -printf '%p %m %u %g %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort) | sha256sum; }
