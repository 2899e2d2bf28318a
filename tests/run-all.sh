#!/bin/bash
# Runs every test of cstor and prints "N passed, N failed, N skipped" last.
# Every test reports in TAP ("ok", "not ok", "# SKIP reason"); a test
# program that dies without reporting counts as one failure.
#
#   tests/run-all.sh            everything
#   QUICK=1 tests/run-all.sh    skip the sanitizer and clang rebuilds
#   ONLY=cli tests/run-all.sh   one group: unit, cli, interop, fuzz, asan, tsa, install, lint
set -u
cd "$(dirname "$0")/.."
top=$PWD
pass=0 fail=0 skip=0
failed_names=()
logdir=$(mktemp -d /tmp/cstor-test-logs.XXXXXX)

want() { [ -z "${ONLY:-}" ] || [[ " ${ONLY} " == *" $1 "* ]]; }

# Count the TAP lines of a program's output; echo them with a prefix.
run_tap() {
	local label=$1; shift
	local out="$logdir/$(echo "$label" | tr '/ ' '__').log"
	"$@" >"$out" 2>&1
	local rc=$? seen=0
	while IFS= read -r line; do
		case "$line" in
		"not ok"*)
			seen=1; fail=$((fail + 1)); failed_names+=("$label: ${line#not ok }")
			echo "not ok - $label: ${line#not ok }";;
		"ok "*"# SKIP"*)
			seen=1; skip=$((skip + 1)); echo "skip - $label: ${line#ok }";;
		"ok "*)
			seen=1; pass=$((pass + 1)); echo "ok - $label: ${line#ok }";;
		"#"*) [ -n "${VERBOSE:-}" ] && echo "    $line";;
		esac
	done <"$out"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$out"; then
		fail=$((fail + 1)); failed_names+=("$label (exit $rc)")
		echo "not ok - $label: exited $rc without reporting a failure"
	fi
	if [ $rc -ne 0 ] || grep -q '^not ok' "$out"; then
		echo "    --- output of $label (last 30 lines) ---"
		tail -n 30 "$out" | sed 's/^/    /'
	fi
	[ $seen -eq 1 ] || [ $rc -ne 0 ] || { echo "not ok - $label: no test output"; fail=$((fail + 1)); }
}

# A single check: exit 0 pass, 77 skip (reason on the last output line).
run_one() {
	local label=$1; shift
	local out="$logdir/$(echo "$label" | tr '/ ' '__').log"
	"$@" >"$out" 2>&1
	local rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "ok - $label"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "skip - $label: $(tail -n 1 "$out")"
	else
		fail=$((fail + 1)); failed_names+=("$label")
		echo "not ok - $label (exit $rc)"
		tail -n 30 "$out" | sed 's/^/    /'
	fi
}

build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$logdir/setup-$(basename "$dir").log" 2>&1 || {
			cat "$logdir/setup-$(basename "$dir").log"; return 1; }
	fi
	ninja -C "$dir" >"$logdir/ninja-$(basename "$dir").log" 2>&1 || {
		tail -n 40 "$logdir/ninja-$(basename "$dir").log"; return 1; }
}

finish() {
	echo
	if [ ${#failed_names[@]} -gt 0 ]; then
		echo "Failed:"
		printf '  %s\n' "${failed_names[@]}"
	fi
	echo "logs: $logdir"
	echo "$pass passed, $fail failed, $skip skipped"
	[ $fail -eq 0 ]
	exit $?
}

B=${BUILD_DIR:-build}
if ! build "$B"; then
	fail=$((fail + 1)); failed_names+=("build"); echo "not ok - build"; finish
fi
pass=$((pass + 1)); echo "ok - build"
BA=$B
[[ $BA == /* ]] || BA=$top/$B # BUILD_DIR may be absolute
export CSTOR="$BA/src/cli/cstor"
export CSTOR_BUILD="$BA"
export CSTOR_TOP="$top"

unit_tests() {
	local dir=$1 prefix=$2
	for t in "$dir"/tests/test-*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		run_tap "$prefix$(basename "$t")" "$t"
	done
}

if want unit; then unit_tests "$B" ""; fi

if want lint; then
	# Functions taking a cstor_error * set it on every failure.
	run_one "lint: no bare return -E... where a cstor_error is taken" \
		python3 tests/lint-errors.py
	# Section numbers cited in comments exist in docs/formats.md.
	run_one "lint: docs/formats.md sections cited in the code exist" \
		python3 tests/lint-doc-refs.py
fi

if want cli; then
	for t in tests/cli/test-*.sh; do
		[ -f "$t" ] && run_tap "cli/$(basename "$t" .sh)" bash "$t"
	done
fi

if want interop; then
	for t in tests/interop/test-*.sh; do
		[ -f "$t" ] && run_tap "interop/$(basename "$t" .sh)" bash "$t"
	done
fi

if want fuzz; then
	for r in "$B"/tests/fuzz/*-replay; do
		[ -f "$r" ] && [ -x "$r" ] || continue
		name=$(basename "$r" -replay)
		run_one "fuzz-replay/$name" "$r" "tests/fuzz/corpus/$name"
	done
fi

if [ -z "${QUICK:-}" ] && want asan; then
	if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
		pass=$((pass + 1)); echo "ok - asan build"
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		unit_tests build-asan "asan/"
		for r in build-asan/tests/fuzz/*-replay; do
			[ -f "$r" ] && [ -x "$r" ] || continue
			name=$(basename "$r" -replay)
			run_one "asan/fuzz-replay/$name" "$r" "tests/fuzz/corpus/$name"
		done
		# The image import/export paths end to end, through the CLI.
		for t in tests/interop/test-import.sh tests/cli/test-export-image.sh; do
			CSTOR=$top/build-asan/src/cli/cstor run_tap "asan/$(basename "$t" .sh)" bash "$t"
		done
		unset ASAN_OPTIONS UBSAN_OPTIONS
	else
		fail=$((fail + 1)); failed_names+=("asan build"); echo "not ok - asan build"
	fi
fi

if [ -z "${QUICK:-}" ] && want tsa; then
	run_one "clang -Wthread-safety -Werror build" bash tests/tsa-build.sh
fi

if want install; then
	run_one "install + example program against the installed library" bash tests/install-test.sh
	run_one "exported symbols match libcstor.sym" bash tests/symbols-test.sh
fi

finish
