#!/bin/bash
# Runs every test of cstor and prints "N passed, N failed, N skipped" last.
# Every test reports in TAP ("ok", "not ok", "# SKIP reason"); a test
# program that dies without reporting counts as one failure. The unit, cli,
# interop and fuzz-replay suites run through `meson test` (tests/meson.build
# says what they are and how they run); this script counts every TAP line
# of their output.
#
#   tests/run-all.sh            everything
#   QUICK=1 tests/run-all.sh    skip the sanitizer build and the build matrix
#   ONLY=cli tests/run-all.sh   groups: unit cli interop fuzz asan tsan matrix install lint
set -u
cd "$(dirname "$0")/.."
top=$PWD
pass=0 fail=0 skip=0
failed_names=()
logdir=$(mktemp -d /tmp/cstor-test-logs.XXXXXX)

want() { [ -z "${ONLY:-}" ] || [[ " ${ONLY} " == *" $1 "* ]]; }

# Count the TAP lines of a test's output (up to tests/testlog-split.py's
# stderr marker) and its exit status; echo them with a prefix.
count_tap() {
	local label=$1 rc=$2 result=$3 out=$4 seen=0 notok=0
	while IFS= read -r line; do
		case "$line" in
		"--- stderr ---") break;;
		"not ok"*)
			seen=1; notok=1; fail=$((fail + 1)); failed_names+=("$label: ${line#not ok }")
			echo "not ok - $label: ${line#not ok }";;
		"ok "*"# SKIP"*)
			seen=1; skip=$((skip + 1)); echo "skip - $label: ${line#ok }";;
		"ok "*)
			seen=1; pass=$((pass + 1)); echo "ok - $label: ${line#ok }";;
		"#"*) [ -n "${VERBOSE:-}" ] && echo "    $line";;
		esac
	done <"$out"
	if [ "$rc" -ne 0 ] && [ $notok -eq 0 ]; then
		fail=$((fail + 1)); failed_names+=("$label (exit $rc, $result)")
		echo "not ok - $label: exited $rc ($result) without reporting a failure"
	fi
	if [ "$rc" -ne 0 ] || [ $notok -eq 1 ]; then
		echo "    --- output of $label (last 30 lines) ---"
		tail -n 30 "$out" | sed 's/^/    /'
	fi
	[ $seen -eq 1 ] || [ "$rc" -ne 0 ] || { echo "not ok - $label: no test output"; fail=$((fail + 1)); failed_names+=("$label (no output)"); }
}

# One check by exit status: 0 pass, 77 skip (reason on the last output line).
count_exit() {
	local label=$1 rc=$2 result=$3 out=$4
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "ok - $label"
	elif [ "$rc" -eq 77 ]; then
		skip=$((skip + 1)); echo "skip - $label: $(tail -n 1 "$out")"
	else
		fail=$((fail + 1)); failed_names+=("$label")
		echo "not ok - $label (exit $rc, $result)"
		tail -n 30 "$out" | sed 's/^/    /'
	fi
}

# meson test in build dir $1 with the label prefix $2 and meson test's
# arguments (suites or test names); then every test's output is counted.
# Meson's own progress lines are shown while it runs.
mtest_n=0
run_meson_tests() {
	local dir=$1 prefix=$2; shift 2
	mtest_n=$((mtest_n + 1))
	local base="run-all-$mtest_n"
	rm -f "$dir/meson-logs/$base.json"
	meson test -C "$dir" --no-rebuild --logbase "$base" "$@" 2>&1 |
		tee "$logdir/meson-test-$mtest_n.log" | grep --line-buffered -E '^ *[0-9]+/[0-9]+ ' | sed -u 's/^/    /'
	local mrc=${PIPESTATUS[0]} bad_before=$fail
	if [ ! -s "$dir/meson-logs/$base.json" ]; then
		fail=$((fail + 1)); failed_names+=("${prefix}meson test $*")
		echo "not ok - ${prefix}meson test $*: no test ran (exit $mrc)"
		tail -n 30 "$logdir/meson-test-$mtest_n.log" | sed 's/^/    /'
		return
	fi
	local label proto rc result out
	while IFS=$'\t' read -r label proto rc result out; do
		if [ "$proto" = tap ]; then
			count_tap "$label" "$rc" "$result" "$out"
		else
			count_exit "$label" "$rc" "$result" "$out"
		fi
	done < <(python3 tests/testlog-split.py "$dir" "$base" "$logdir" "$prefix")
	# meson failing while every test it logged passed (interrupted, a
	# test it could not start): still a failure.
	if [ "$mrc" -ne 0 ] && [ $fail -eq $bad_before ]; then
		fail=$((fail + 1)); failed_names+=("${prefix}meson test $* (exit $mrc)")
		echo "not ok - ${prefix}meson test $*: exited $mrc"
		tail -n 30 "$logdir/meson-test-$mtest_n.log" | sed 's/^/    /'
	fi
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

# Set up (or reconfigure) and build a directory with the given options.
build() {
	local dir=$1; shift
	local log="$logdir/setup-$(basename "$dir").log"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
	elif [ $# -gt 0 ]; then
		meson configure "$dir" "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
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
	echo "time: ${SECONDS}s"
	echo "$pass passed, $fail failed, $skip skipped"
	[ $fail -eq 0 ]
	exit $?
}

B=${BUILD_DIR:-build}
# CI's builds are warning-free: -Dwerror=true here, not in meson.build's
# defaults, so distributions building with other flags are not broken.
if ! build "$B" -Dwerror=true; then
	fail=$((fail + 1)); failed_names+=("build"); echo "not ok - build"; finish
fi
pass=$((pass + 1)); echo "ok - build"
BA=$B
[[ $BA == /* ]] || BA=$top/$B # BUILD_DIR may be absolute
# For tests run by hand from here on (install-test, symbols-test); meson
# test sets the same variables for the suites itself.
export CSTOR="$BA/src/cli/cstor"
export CSTOR_BUILD="$BA"
export CSTOR_TOP="$top"

run_one "every test file is registered in tests/meson.build" bash tests/registered-test.sh "$B"

suites=()
want unit && suites+=(--suite unit)
want cli && suites+=(--suite cli)
want interop && suites+=(--suite interop)
{ want fuzz || want fuzz-replay; } && suites+=(--suite fuzz-replay)
[ ${#suites[@]} -eq 0 ] || run_meson_tests "$B" "" "${suites[@]}"

if want lint; then
	# Functions taking a cstor_error * set it on every failure.
	run_one "lint: no bare return -E... where a cstor_error is taken" \
		python3 tests/lint-errors.py
	# Section numbers cited in comments exist in docs/formats.md.
	run_one "lint: docs/formats.md sections cited in the code exist" \
		python3 tests/lint-doc-refs.py
fi

if [ -z "${QUICK:-}" ] && want asan; then
	if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true; then
		pass=$((pass + 1)); echo "ok - asan build"
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		run_meson_tests build-asan "asan/" --timeout-multiplier 4 --suite unit --suite fuzz-replay
		# The image import/export paths end to end, through the CLI.
		run_meson_tests build-asan "asan/" --timeout-multiplier 4 test-import test-export-image
		unset ASAN_OPTIONS UBSAN_OPTIONS
	else
		fail=$((fail + 1)); failed_names+=("asan build"); echo "not ok - asan build"
	fi
fi

# The threaded parts under ThreadSanitizer: one store handle shared by
# threads (a daemon's use), and check, whose diff headers are read by a
# second thread. Any data race fails them.
if [ -z "${QUICK:-}" ] && want tsan; then
	if build build-tsan -Db_sanitize=thread -Dwerror=true; then
		pass=$((pass + 1)); echo "ok - tsan build"
		export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
		run_meson_tests build-tsan "tsan/" --timeout-multiplier 4 test-threads test-check
		unset TSAN_OPTIONS
	else
		fail=$((fail + 1)); failed_names+=("tsan build"); echo "not ok - tsan build"
	fi
fi

# Warning-free builds with gcc, clang 14 and clang 19, release and Debian's
# hardened plain build (tests/build-matrix.sh); one check per configuration.
if [ -z "${QUICK:-}" ] && { want matrix || want tsa; }; then
	while read -r mcc mbt; do
		run_one "build matrix: $mcc $mbt" bash tests/build-matrix.sh "$mcc" "$mbt"
	done < <(bash tests/build-matrix.sh --list)
fi

if want install; then
	run_one "install + example program against the installed library" bash tests/install-test.sh
	run_one "exported symbols match libcstor.sym" bash tests/symbols-test.sh
fi

finish
