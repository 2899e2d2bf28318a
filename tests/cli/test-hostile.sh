#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Hostile layer archives (tests/hostile/make-corpus.py) applied with the
# extraction engine, in every whiteout mode, with openat2 and with the
# fallback walk. Each apply goes into a fresh root inside a sandbox that also
# holds canaries (files, a directory, symlinks, a fifo) and is the target of
# the archives' absolute symlinks. A case passes when
#   - nothing outside the root changed: names, types, modes, owners, sizes,
#     mtimes and ctimes of everything in the sandbox, the atimes of its files
#     and symlinks (so a read or a followed link shows), file contents and
#     symlink targets; and nothing appeared at /etc/TAG, /TAG, /tmp/TAG;
#   - the apply succeeded or failed as the manifest expects, a failure with
#     an "apply layer: ..." message, never a crash or a hang;
#   - after a success the root holds what the manifest's checks say.
. "$(dirname "$0")/../lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${CSTOR_BUILD:-$(cd "$(dirname "$CSTOR")/../.." 2>/dev/null && pwd)}
TOOL=${CSTOR_APPLY:-$build/tests/cstor-apply}
SB=$T_TMP/sandbox
TAG=cstor-hostile-$$-$RANDOM
CORPUS=$T_TMP/corpus

if [ ! -x "$TOOL" ] || [ "$(id -u)" != 0 ] || ! command -v python3 >/dev/null; then
	echo "ok 1 - hostile corpus # SKIP needs root, python3 and $TOOL"
	echo "1..1"
	exit 0
fi

mkdir -p "$CORPUS"
python3 "$top/tests/hostile/make-corpus.py" "$CORPUS" "$SB" "$TAG" || {
	echo "not ok 1 - make-corpus.py failed"
	echo "1..1"
	exit 1
}

# Host paths the archives aim at; they must never exist.
host_clean() {
	local p
	for p in "/etc/$TAG" "/$TAG" "/tmp/$TAG"; do
		if [ -e "$p" ] || [ -L "$p" ]; then
			rm -f "$p"
			die "$p was created on the host"
		fi
	done
}

new_sandbox() {
	# No mounts or immutable files in here: plain rm (t_cleanup_dir's
	# chattr -R costs seconds on the 50k-entry case).
	rm -rf "$SB"
	mkdir -p "$SB/root" "$SB/outside/sub"
	echo canary >"$SB/outside/canary"
	echo secret >"$SB/outside/secret"
	echo deep >"$SB/outside/sub/file"
	mkfifo "$SB/outside/fifo"
	ln -s outside "$SB/outside-link"
	ln -s "$SB/outside/canary" "$SB/outside/abs-link"
	chmod 0700 "$SB/outside/sub"
}

# Everything outside the root, read without reading anything: fstatat only.
# Directory atimes are left out, find reads directories itself.
stat_snapshot() {
	find "$SB" -path "$SB/root" -prune -o \
		\( -type d -printf '%p %y %m %U %G %T@ %C@ %n\n' \) -o \
		-printf '%p %y %m %U %G %s %T@ %C@ %A@ %n\n' | sort
}
content_snapshot() {
	find "$SB" -path "$SB/root" -prune -o -type f -exec md5sum {} + | sort
	find "$SB" -path "$SB/root" -prune -o -type l -printf '%p -> %l\n' | sort
}
# Make reads visible: relatime updates an atime older than the mtime.
age_atimes() {
	find "$SB" -path "$SB/root" -prune -o ! -type d -exec touch -h -a -d @946684800 {} +
}

mode_flags() {
	case $1 in
	execute) echo "-m execute" ;;
	overlay) echo "-m overlay -r" ;;
	keep) echo "-m keep -r" ;;
	esac
}

# expect_of SPEC MODE -> ok|fail|any
expect_of() {
	local spec=$1 mode=$2 kv
	case $spec in
	*=*)
		for kv in ${spec//,/ }; do
			[ "${kv%%=*}" = "$mode" ] && { echo "${kv#*=}"; return; }
		done
		echo any ;;
	*) echo "$spec" ;;
	esac
}

run_checks() {
	local mode=$1 checks=$2 c m kind path want root=$SB/root
	for c in $checks; do
		case $c in
		*/*:*|*/=*)
			m=${c%%/*}
			case $m in execute|overlay|keep) [ "$m" = "$mode" ] || continue; c=${c#*/} ;; esac ;;
		esac
		case $c in
		=*)
			path=${c#=}; want=${path#*=}; path=${path%%=*}
			[ "$(cat "$root/$path")" = "${want//%20/ }" ] || die "content of $path is not $want"
			;;
		*)
			kind=${c%%:*}; path=${c#*:}
			case $kind in
			f) [ -f "$root/$path" ] && [ ! -L "$root/$path" ] || die "$path is not a file" ;;
			d) [ -d "$root/$path" ] && [ ! -L "$root/$path" ] || die "$path is not a directory" ;;
			l) [ -L "$root/$path" ] || die "$path is not a symlink" ;;
			c) [ -c "$root/$path" ] && [ ! -L "$root/$path" ] || die "$path is not a char device" ;;
			b) [ -b "$root/$path" ] && [ ! -L "$root/$path" ] || die "$path is not a block device" ;;
			p) [ -p "$root/$path" ] && [ ! -L "$root/$path" ] || die "$path is not a fifo" ;;
			-) [ ! -e "$root/$path" ] && [ ! -L "$root/$path" ] || die "$path exists" ;;
			*) die "bad check $c" ;;
			esac
			;;
		esac
	done
}

# check_case NAME MODE EXPECT CHECKS
check_case() {
	local name=$1 mode=$2 want checks=$4 fallback rc flags
	want=$(expect_of "$3" "$mode")
	flags=$(mode_flags "$mode")
	for fallback in "" "-F"; do
		new_sandbox
		if [ -f "$CORPUS/$name.pre.tar" ]; then
			$TOOL $flags $fallback "$SB/root" "$CORPUS/$name.pre.tar" ||
				die "pre-layer of $name failed"
		fi
		local c_before s_before
		c_before=$(content_snapshot)
		age_atimes
		s_before=$(stat_snapshot)
		rc=0
		timeout 120 $TOOL $flags $fallback "$SB/root" "$CORPUS/$name.tar" \
			>"$T_TMP/out" 2>"$T_TMP/err" || rc=$?
		local what="$name ($mode${fallback:+, fallback walk})"
		echo "$what: exit $rc: $(head -c 400 "$T_TMP/err")"
		[ $rc -ne 124 ] || die "$what: timed out (opened a fifo?)"
		[ $rc -le 1 ] || die "$what: crashed (exit $rc)"
		[ "$(stat_snapshot)" = "$s_before" ] || {
			diff <(echo "$s_before") <(stat_snapshot) | head -n 20 >&2
			die "$what: something outside the root changed"
		}
		[ "$(content_snapshot)" = "$c_before" ] || die "$what: content outside the root changed"
		host_clean
		case $want in
		ok) [ $rc -eq 0 ] || die "$what: failed: $(cat "$T_TMP/err")" ;;
		fail)
			[ $rc -eq 1 ] || die "$what: succeeded, expected an error"
			grep -q '^apply layer' "$T_TMP/err" || die "$what: unclear error: $(cat "$T_TMP/err")"
			;;
		esac
		[ $rc -ne 0 ] || run_checks "$mode" "$checks"
	done
}

declare -A CHECKS
while IFS=$'\t' read -r name expect checks; do
	[ -n "$name" ] || continue
	CHECKS[$name]=$checks
	for mode in execute overlay keep; do
		fn="hostile_${name//[^a-zA-Z0-9]/_}_$mode"
		eval "$fn() { check_case '$name' '$mode' '$expect' \"\${CHECKS[$name]}\"; }"
		t_run "$fn"
	done
done <"$CORPUS/manifest.tsv"
t_cleanup_dir "$SB"
t_end
