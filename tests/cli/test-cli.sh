#!/bin/bash
# The command line: flag syntax, exit codes, status/version output,
# storage.conf and environment handling, and clear errors for bad input.
. "$(dirname "$0")/../lib.sh"

test_flag_syntaxes() {
	local s; s=$(t_store)
	local want
	want=$("$CSTOR" --graph "$s/g" --run "$s/r" --storage-driver vfs status --json)
	# Every syntax mflag accepts, before and after the command name.
	for args in "--graph=$s/g --run=$s/r --storage-driver=vfs status --json" \
		"-g $s/g -R $s/r -s vfs status -j" \
		"-g=$s/g -R=$s/r -s=vfs status --json=true" \
		"status -g $s/g --run $s/r -s vfs --json" \
		"-g $s/g status -R $s/r -s=vfs -j" \
		"-D=false -g $s/g -R $s/r -s vfs status -j" \
		"--graph=\"$s/g\" -R $s/r -s vfs status -j"; do
		expect_eq "$(eval "\"$CSTOR\" $args" 2>/dev/null)" "$want" "cstor $args"
	done
	# Bundled one-letter booleans, and the last value of a flag wins.
	expect_eq "$("$CSTOR" -g /nonexistent -g "$s/g" -R "$s/r" -s vfs status -j)" "$want" "repeated -g"
}

test_debug_goes_to_stderr() {
	local s; s=$(t_store)
	"$CSTOR" -D -g "$s/g" -R "$s/r" -s vfs status >"$s/out" 2>"$s/err"
	grep -q "debug" "$s/err" || die "no debug lines on stderr"
	grep -q "debug" "$s/out" && die "debug lines on stdout"
	"$CSTOR" -g "$s/g" -R "$s/r" -s vfs status >"$s/out" 2>"$s/err"
	[ ! -s "$s/err" ] || die "stderr without --debug: $(cat "$s/err")"
}

test_exit_codes() {
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	local rc
	rc=0; "$CSTOR" >/dev/null 2>&1 || rc=$?; expect_eq $rc 1 "no command"
	rc=0; "$CSTOR" --help >/dev/null 2>&1 || rc=$?; expect_eq $rc 0 "--help"
	rc=0; "$CSTOR" $G frobnicate >/dev/null 2>"$s/err" || rc=$?; expect_eq $rc 1 "unknown command"
	grep -q "frobnicate: unrecognized command" "$s/err" || die "unknown command message"
	rc=0; "$CSTOR" $G status --bogus >/dev/null 2>"$s/err" || rc=$?; expect_eq $rc 125 "bad flag"
	grep -q "flag provided but not defined: --bogus" "$s/err" || die "bad flag message: $(cat "$s/err")"
	rc=0; "$CSTOR" $G status -h >/dev/null 2>&1 || rc=$?; expect_eq $rc 125 "command -h"
	rc=0; "$CSTOR" --bogus status >/dev/null 2>&1 || rc=$?; expect_eq $rc 1 "bad global flag"
	rc=0; "$CSTOR" $G get-names >/dev/null 2>"$s/err" || rc=$?; expect_eq $rc 1 "missing argument"
	grep -q "more arguments required" "$s/err" || die "missing argument message"
	rc=0; "$CSTOR" $G get-names a b >/dev/null 2>&1 || rc=$?; expect_eq $rc 1 "too many arguments"
	rc=0; "$CSTOR" $G status -g >/dev/null 2>"$s/err" || rc=$?; expect_eq $rc 125 "flag without value"
	grep -q "flag needs an argument" "$s/err" || die "flag without value message"
	rc=0; "$CSTOR" $G status --json=maybe >/dev/null 2>"$s/err" || rc=$?; expect_eq $rc 125 "bad bool"
	rc=0; "$CSTOR" $G get-names nosuchlayer >/dev/null 2>"$s/err" || rc=$?; expect_eq $rc 1 "unknown layer"
	grep -q "layer not known: nosuchlayer" "$s/err" || die "unknown layer message"
}

test_version() {
	"$CSTOR" version | grep -Eq '^Version: [0-9]+\.[0-9]+\.[0-9]+$' || die "version output"
	"$CSTOR" version --json | grep -Eq '^\[\["Version","[0-9.]+"\]\]$' || die "version --json"
}

test_status_matches_go() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	for d in vfs overlay; do
		local G="-g $s/g.$d -R $s/r.$d -s $d"
		local go c
		go=$("$GO_CS" $G status --json)
		c=$("$CSTOR" $G status --json)
		# The Go CLI drops storage.conf's options when -g is given (a bug
		# we do not copy), so compare with the options taken out.
		strip() { sed 's/\["Driver Options","[^"]*"\],//'; }
		expect_eq "$(echo "$c" | strip)" "$(echo "$go" | strip)" "status --json ($d)"
		umount "$s/g.$d/overlay" 2>/dev/null || true
	done
}

write_conf() { # write_conf FILE driver graph run [extra lines...]
	local f=$1 d=$2 g=$3 r=$4; shift 4
	{
		echo "[storage]"
		echo "driver = \"$d\""
		echo "graphroot = \"$g\""
		echo "runroot = \"$r\""
		printf '%s\n' "$@"
	} >"$f"
}

test_storage_conf_is_read() {
	local s; s=$(t_store)
	mkdir -p "$s/extra"
	write_conf "$s/storage.conf" overlay "$s/g" "$s/r" "[storage.options]" \
		"additionalimagestores = [\"$s/extra\"]" "[storage.options.overlay]" 'mountopt = "nodev"'
	local out
	out=$(CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" status)
	echo "$out" | grep -qx "Root: $s/g" || die "graphroot not from storage.conf: $out"
	echo "$out" | grep -qx "Run Root: $s/r" || die "runroot not from storage.conf"
	echo "$out" | grep -qx "Driver Name: overlay" || die "driver not from storage.conf"
	echo "$out" | grep -qx "Driver Options: \[overlay.imagestore=$s/extra overlay.mountopt=nodev\]" ||
		die "options not from storage.conf: $out"
	# A flag overrides only its own key: -g keeps the driver and options
	# (the Go CLI would drop them all).
	out=$(CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" -g "$s/g2" status)
	echo "$out" | grep -qx "Root: $s/g2" || die "-g ignored"
	echo "$out" | grep -qx "Run Root: $s/r" || die "-g dropped runroot"
	echo "$out" | grep -q "overlay.mountopt=nodev" || die "-g dropped the options: $out"
	# --storage-opt replaces the option with the same key only.
	out=$(CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" --storage-opt overlay.mountopt=nosuid status)
	echo "$out" | grep -qx "Driver Options: \[overlay.imagestore=$s/extra overlay.mountopt=nosuid\]" ||
		die "--storage-opt merge: $out"
	# STORAGE_DRIVER and STORAGE_OPTS as containers/storage reads them.
	out=$(CONTAINERS_STORAGE_CONF=$s/storage.conf STORAGE_DRIVER=vfs STORAGE_OPTS= "$CSTOR" status)
	echo "$out" | grep -qx "Driver Name: vfs" || die "STORAGE_DRIVER ignored: $out"
	echo "$out" | grep -qx "Driver Options: \[\]" || die "STORAGE_OPTS did not replace: $out"
	umount "$s/g/overlay" "$s/g2/overlay" 2>/dev/null || true
}

test_bad_storage_conf() {
	local s; s=$(t_store)
	printf '[storage]\ndriver = "vfs"\ndriver = "overlay"\n' >"$s/storage.conf"
	local rc
	rc=0; CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" status >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "exit code for a bad storage.conf"
	grep -q "$s/storage.conf:3:1" "$s/err" || die "error does not name file:line:col: $(cat "$s/err")"
	printf '[storage]\ndriver = 5\n' >"$s/storage.conf"
	CONTAINERS_STORAGE_CONF=$s/storage.conf "$CSTOR" status >/dev/null 2>"$s/err" && die "accepted driver = 5"
	grep -q "driver must be a string" "$s/err" || die "type error message: $(cat "$s/err")"
	# Unknown driver and unsupported option are errors, not ignored.
	"$CSTOR" -g "$s/g" -R "$s/r" -s btrfs status >/dev/null 2>"$s/err" && die "accepted btrfs"
	grep -q 'driver "btrfs" is not supported' "$s/err" || die "driver message: $(cat "$s/err")"
	"$CSTOR" -g "$s/g" -R "$s/r" -s vfs --storage-opt vfs.frob=1 status >/dev/null 2>"$s/err" &&
		die "accepted vfs.frob"
	grep -q "frob" "$s/err" || die "option message: $(cat "$s/err")"
	# A relative root on the command line is taken from the working
	# directory (the newest containers-storage); in storage.conf it is an
	# error that names the file.
	(cd "$s" && "$CSTOR" -g relative -R "$s/r" -s vfs status >/dev/null) || die "relative -g refused"
	[ -d "$s/relative/vfs" ] || die "relative -g not taken from the working directory"
	printf '[storage]\ndriver = "vfs"\ngraphroot = "relative"\n' >"$s/rel.conf"
	CONTAINERS_STORAGE_CONF=$s/rel.conf "$CSTOR" -R "$s/r" status >/dev/null 2>"$s/err" &&
		die "accepted a relative graphroot in storage.conf"
	grep -q "rel.conf: graphroot: graph root \"relative\" is not an absolute path" "$s/err" ||
		die "relative graphroot message: $(cat "$s/err")"
	grep -q "not an absolute path" "$s/err" || die "relative root message"
}

test_corrupt_layers_json_is_an_error() {
	t_unchecked "corrupt layers.json"
	local s; s=$(t_store)
	local G="-g $s/g -R $s/r -s vfs"
	"$CSTOR" $G create-layer -n keep >/dev/null
	local f=$s/g/vfs-layers/layers.json
	cp "$f" "$s/good.json"
	head -c 30 "$s/good.json" >"$f"
	cp "$f" "$s/bad.json"
	local rc
	rc=0; "$CSTOR" $G layers >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "exit code on corrupt layers.json"
	grep -q "$f" "$s/err" || die "error does not name the file: $(cat "$s/err")"
	# A write must not replace the corrupt file with an empty list.
	"$CSTOR" $G create-layer >/dev/null 2>&1 && die "create-layer succeeded on a corrupt store"
	cmp "$f" "$s/bad.json" || die "corrupt layers.json was rewritten"
}

test_rootless_defaults() {
	[ "$(id -u)" = 0 ] || skip "needs root to switch to an unprivileged user"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	local s; s=$(t_store)
	chmod 755 "$T_TMP" "$s"
	mkdir -p "$s/home" "$s/xdg-run" "$s/xdg-data"
	chown 65534:65534 "$s/home" "$s/xdg-run" "$s/xdg-data"
	chmod 700 "$s/xdg-run"
	local as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin
		STORAGE_DRIVER=vfs)
	local out
	out=$("${as_user[@]}" HOME="$s/home" XDG_RUNTIME_DIR="$s/xdg-run" "$CSTOR" status) ||
		die "rootless status failed"
	echo "$out" | grep -qx "Root: $s/home/.local/share/containers/storage" || die "graph root: $out"
	echo "$out" | grep -qx "Run Root: $s/xdg-run/containers" || die "run root: $out"
	out=$("${as_user[@]}" HOME="$s/home" XDG_RUNTIME_DIR="$s/xdg-run" XDG_DATA_HOME="$s/xdg-data" \
		"$CSTOR" status) || die "rootless status failed"
	echo "$out" | grep -qx "Root: $s/xdg-data/containers/storage" || die "XDG_DATA_HOME: $out"
	# The user's own storage.conf, with rootless_storage_path.
	mkdir -p "$s/home/.config/containers"
	printf '[storage]\ndriver = "vfs"\nrootless_storage_path = "%s/rsp"\n' "$s" \
		>"$s/home/.config/containers/storage.conf"
	chmod 777 "$s"
	out=$("${as_user[@]}" HOME="$s/home" XDG_RUNTIME_DIR="$s/xdg-run" "$CSTOR" status) ||
		die "rootless status with user storage.conf failed"
	echo "$out" | grep -qx "Root: $s/rsp" || die "rootless_storage_path: $out"
}

t_begin
t_run test_flag_syntaxes
t_run test_debug_goes_to_stderr
t_run test_exit_codes
t_run test_version
t_run test_status_matches_go
t_run test_storage_conf_is_read
t_run test_bad_storage_conf
t_run test_corrupt_layers_json_is_an_error
t_run test_rootless_defaults
t_end
