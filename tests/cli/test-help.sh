#!/bin/bash
# What a person learns cstor from: --version, `help COMMAND`, `COMMAND
# --help` (summary, arguments, every flag with its default, examples), and
# the man pages the build makes (every command has one, every flag --help
# shows is in it).
. "$(dirname "$0")/../lib.sh"

BUILD=${CSTOR_BUILD:-$(cd "$(dirname "$CSTOR")/../.." && pwd)}
MAN_DIR=$BUILD/docs/man/pages

commands() { "$CSTOR" __man | sed -n 's/^cstor-\(.*\)\.1$/\1/p'; }

# The flag names a --help text shows, one a line ("-n", "--name").
help_flags() {
	sed -n '/^Options:/,/^$/p; /^Global options/p' | grep -oE '(^|[ ,])--?[a-zA-Z][a-z0-9-]*' | tr -d ' ,' | grep -vx -- --help | sort -u
}

test_version() {
	local out
	out=$("$CSTOR" --version)
	expect_eq "$out" "cstor version $("$CSTOR" version | sed 's/^Version: //')" "--version"
	expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "--version is one line"
	# After global flags and after a command too.
	expect_eq "$("$CSTOR" -g /nonexistent --version)" "$out" "-g X --version"
	expect_eq "$("$CSTOR" layers --version)" "$out" "layers --version"
	[ ! -e /nonexistent ] || die "--version created a store"
}

test_help_of_every_command() {
	local c n=0
	for c in $(commands); do
		n=$((n + 1))
		local h rc=0
		h=$("$CSTOR" help "$c") || rc=$?
		expect_eq $rc 0 "help $c exit"
		grep -q "^Usage: cstor $c" <<<"$h" || die "help $c: no usage line"
		[ -n "$(sed -n 3p <<<"$h")" ] || die "help $c: no summary line"
		grep -q "^Arguments: " <<<"$h" || die "help $c: no arguments"
		grep -q "^Examples:" <<<"$h" || die "help $c: no examples"
		[ "$(sed -n '/^Examples:/,$p' <<<"$h" | grep -cE "^  (.*\| )?cstor .*$c( |\$)")" -ge 1 ] ||
			die "help $c: no example runs cstor $c"
		[ "$(sed -n '/^Examples:/,$p' <<<"$h" | grep -c '^  ')" -ge 2 ] || die "help $c: fewer than 2 examples"
		# The examples use only flags the command has.
		local known f
		known=$(help_flags <<<"$h")
		for f in $(sed -n '/^Examples:/,$p' <<<"$h" | grep '^  ' | sed 's/#.*//; s/.*cstor //; s/|.*//; s/ -- .*//' |
			tr ' ' '\n' | grep -E '^--?[a-zA-Z]' | sed 's/=.*//'); do
			grep -qx -- "$f" <<<"$known" || die "help $c: an example uses $f, which $c does not have"
		done
		# Every flag line has its default.
		if grep -q "^Options:" <<<"$h"; then
			sed -n '/^Options:/,/^$/p' <<<"$h" | grep '^  -' | grep -v '(default: ' &&
				die "help $c: a flag without its default"
		fi
		# `COMMAND --help` says the same (exit 125 as containers-storage).
		rc=0
		expect_eq "$("$CSTOR" "$c" --help)" "$h" "$c --help" || return 1
	done
	[ $n -gt 40 ] || die "only $n commands listed"
}

test_help_flags_match_parser() {
	# Each flag --help lists is one the command accepts (the help is
	# printed from the parser's table): a flag-name typo would be refused.
	local c f s; s=$(t_store)
	for c in import layers mount diff create-container; do
		for f in $("$CSTOR" help $c | sed -n '/^Options:/,/^$/p' | help_flags); do
			"$CSTOR" help $c | grep -q -- "$f" || die "$c: $f"
		done
	done
	"$CSTOR" help import | grep -q -- "-n, --name VALUE .*(default: none)" || die "import --name line"
	"$CSTOR" help layers | grep -q -- "--json .*(default: false)" || die "layers --json line"
	"$CSTOR" help with-mount | grep -q 'CSTOR_MOUNTPOINT' || die "with-mount documents \$CSTOR_MOUNTPOINT"
}

test_help_errors() {
	local rc=0
	"$CSTOR" help frobnicate >/dev/null 2>"$T_TMP/err" || rc=$?
	expect_eq $rc 1 "help of an unknown command"
	grep -q 'unknown command "frobnicate"' "$T_TMP/err" || die "message: $(cat "$T_TMP/err")"
	rc=0; "$CSTOR" help >/dev/null || rc=$?
	expect_eq $rc 0 "help alone"
	"$CSTOR" help | grep -q "^  import " || die "help lists commands"
	# An alias is helped under its name.
	"$CSTOR" help umount | grep -q "^Usage: cstor umount" || die "help umount"
}

test_bad_flag_does_not_dump_usage() {
	local s rc=0; s=$(t_store)
	"$CSTOR" -g "$s/g" -R "$s/r" -s vfs layers --bogus >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 125 "bad flag"
	expect_eq "$(wc -l <"$s/err")" 1 "one line for a bad flag"
	grep -q "cstor layers --help" "$s/err" || die "no pointer to --help: $(cat "$s/err")"
}

test_man_pages() {
	command -v man >/dev/null || t_skip "man is not installed" || return
	[ -d "$MAN_DIR" ] || t_skip "man pages not built (no scdoc at build time)" || return
	[ -f "$MAN_DIR/cstor.1" ] || die "no cstor(1)"
	[ -f "$MAN_DIR/cstor-storage.conf.5" ] || die "no cstor-storage.conf(5)"
	# Wide enough that no flag is broken across lines.
	MANWIDTH=1000 man -l "$MAN_DIR/cstor-storage.conf.5" 2>/dev/null | grep -q "graphroot" ||
		die "storage.conf(5) lacks graphroot"
	local c f page
	for c in $(commands); do
		[ -f "$MAN_DIR/cstor-$c.1" ] || die "no man page for $c"
		MANWIDTH=1000 man -l "$MAN_DIR/cstor.1" 2>/dev/null | grep -q "^ *$c\$" ||
			die "cstor(1) does not list $c"
		page=$(MANWIDTH=1000 man -l "$MAN_DIR/cstor-$c.1" 2>/dev/null)
		for f in $("$CSTOR" help "$c" | help_flags); do
			grep -qe "$f\\b" <<<"$page" || die "cstor-$c(1) lacks $f"
		done
		grep -q "^EXAMPLES" <<<"$page" || die "cstor-$c(1) has no examples"
	done
}

t_run test_version
t_run test_help_of_every_command
t_run test_help_flags_match_parser
t_run test_help_errors
t_run test_bad_flag_does_not_dump_usage
t_run test_man_pages
t_end
