#!/bin/bash
# A transient store (--transient-store, transient_store in storage.conf;
# docs/transient-store.md): containers and their layers recorded on the
# run root, in the files and with the lock newest containers/storage uses,
# written without fsync; a reboot (the run root emptied) takes them away
# and leaves the images. The stores are checked inside the tests with
# --transient-store (the check after a test would read them without).
. "$(dirname "$0")/../lib.sh"
T_UNCHECKED_FILE="transient stores: checked in the tests with --transient-store"

ids_of() { python3 -c 'import json,sys; [print(r["id"]) for r in (json.load(open(sys.argv[1])) or [])]' "$1"; }
volatile_flag_of() { # FILE ID
	python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1])) if r["id"] == sys.argv[2]][0].get("flags", {}).get("Volatile"))' "$1" "$2"
}

# An image "img" of one layer with etc/hello.
make_image() { # CSTOR-COMMAND DIR
	local C=$1 d=$2
	mkdir -p "$d/tree/etc"
	echo hello >"$d/tree/etc/hello"
	tar -C "$d/tree" -cf "$d/layer.tar" .
	local l; l=$($C create-layer --readonly | head -1)
	$C applydiff -f "$d/layer.tar" "$l"
	$C create-image -n img "$l" >/dev/null
}

records_for() { # DRIVER
	local drv=$1 s; s=$(t_store)
	local C="$CSTOR -s $drv -g $s/g -R $s/r"
	make_image "$C" "$s"
	local keep; keep=$($C create-container -n kept img | head -1 | cut -d' ' -f1)
	local T="$C --transient-store"
	local t; t=$($T create-container -n trans img | head -1 | cut -d' ' -f1)
	local tl; tl=$($T container trans | sed -n 's/^Layer: //p')
	# Newest Go's files: volatile-containers.json and containers.lock on
	# the run root, containers.json (the persistent ones) on the graph
	# root; the layer in volatile-layers.json on the run root.
	expect_eq "$(ids_of "$s/r/$drv-containers/volatile-containers.json")" "$t" "run root's volatile-containers.json"
	expect_eq "$(ids_of "$s/g/$drv-containers/containers.json")" "$keep" "graph root's containers.json"
	[ -f "$s/r/$drv-containers/containers.lock" ] || die "containers.lock not on the run root"
	expect_eq "$(volatile_flag_of "$s/r/$drv-containers/volatile-containers.json" "$t")" True \
		"Volatile flag of a transient container"
	expect_eq "$(ids_of "$s/r/$drv-layers/volatile-layers.json")" "$tl" "run root's volatile-layers.json"
	! ids_of "$s/g/$drv-layers/layers.json" | grep -qx "$tl" || die "transient layer in layers.json"
	[ ! -e "$s/g/$drv-containers/volatile-containers.json" ] || die "volatile file on the graph root"
	[ ! -e "$s/g/$drv-layers/volatile-layers.json" ] || die "volatile layers on the graph root"
	# Both containers are seen and work.
	expect_eq "$($T containers | grep -v '^	' | sort)" "$(printf '%s\n' "$keep" "$t" | sort)" "containers listed"
	local m; m=$($T mount trans)
	expect_eq "$(cat "$m/etc/hello")" hello "image content in the transient container"
	echo x >"$m/written"
	$T unmount trans >/dev/null
	$T check || die "check of the transient store"
	# The same from storage.conf.
	printf '[storage]\ndriver = "%s"\ngraphroot = "%s/g"\nrunroot = "%s/r"\ntransient_store = true\n' \
		"$drv" "$s" "$s" >"$s/storage.conf"
	local t2; t2=$(CONTAINERS_STORAGE_CONF=$s/storage.conf $CSTOR create-container img | head -1 | cut -d' ' -f1)
	ids_of "$s/r/$drv-containers/volatile-containers.json" | grep -qx "$t2" ||
		die "transient_store = true of storage.conf not used"
	$T delete-container trans
	$T delete-container "$t2"
	expect_eq "$(ids_of "$s/r/$drv-layers/volatile-layers.json")" "" "volatile layers after deletes"
	$T check || die "check after the deletes"
	$T shutdown >/dev/null
}

test_transient_records_vfs() {
	records_for vfs
}

test_transient_records_overlay() {
	t_need_overlay
	records_for overlay
}

# What a transient container costs the disk: no fsync at all, and no write
# on the graph root beyond the container layer's own directory.
test_transient_not_synced() {
	command -v strace >/dev/null || skip "strace is not installed"
	local s; s=$(t_store)
	local C="$CSTOR -s vfs -g $s/g -R $s/r"
	make_image "$C" "$s"
	$C --transient-store create-container img >/dev/null
	# LeakSanitizer cannot run under ptrace (a sanitizer build).
	local asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	ASAN_OPTIONS=$asan strace -f -y \
		-e trace=fsync,fdatasync,syncfs,sync,sync_file_range,renameat,renameat2,rename \
		-o "$s/trace" $C --transient-store create-container -n t2 img >/dev/null
	! grep -E 'fsync|fdatasync|syncfs|sync\(|sync_file_range' "$s/trace" ||
		die "a transient container was synced"
	grep -q 'volatile-containers.json' "$s/trace" || die "no record written: $(cat "$s/trace")"
	# (The lookup index, a cache a reader may write, aside.)
	! grep -E 'rename' "$s/trace" | grep -v 'cstor-[a-z]*\.index' | grep -q "$s/g" ||
		die "a graph root file was rewritten: $(cat "$s/trace")"
	ASAN_OPTIONS=$asan strace -f -y -e trace=fsync,fdatasync -o "$s/trace" \
		$C --transient-store delete-container t2
	! grep -E 'fsync|fdatasync' "$s/trace" || die "deleting a transient container synced"
	$C --transient-store check
}

# A reboot: the run root is a tmpfs, unmounted and mounted again empty.
# The transient containers are gone, the persistent one and the images
# stay, and the first writer collects what the gone containers left on
# the graph root, so that check is clean.
test_transient_reboot() {
	local s; s=$(t_store)
	mount -t tmpfs tmpfs "$s/r" || skip "cannot mount a tmpfs"
	local C="$CSTOR -s vfs -g $s/g -R $s/r"
	make_image "$C" "$s"
	local keep; keep=$($C create-container -n kept img | head -1 | cut -d' ' -f1)
	local T="$C --transient-store"
	local t; t=$($T create-container -n trans img | head -1 | cut -d' ' -f1)
	local tl; tl=$($T container trans | sed -n 's/^Layer: //p')
	local dir; dir=$($T get-container-dir trans)
	echo data >"$dir/file"
	[ -d "$s/g/vfs/dir/$tl" ] || die "no layer directory"
	umount "$s/r"
	mount -t tmpfs tmpfs "$s/r"
	# A reader sees the container gone, and leaves the leftovers alone.
	expect_eq "$($T containers | grep -v '^	')" "$keep" "containers after the reboot"
	expect_eq "$($T images | grep -v '^	' | wc -l)" 1 "images after the reboot"
	[ -d "$s/g/vfs/dir/$tl" ] || die "a reader removed the layer directory"
	local rc=0
	$T check >/dev/null 2>&1 || rc=$?
	# check may write (check -r): it is the first writer here.
	[ ! -d "$s/g/vfs/dir/$tl" ] || die "layer directory of the gone container left"
	[ ! -d "$s/g/vfs-containers/$t" ] || die "directory of the gone container left"
	expect_eq $rc 0 "check after the reboot"
	# The name is free again; the persistent container still works.
	$T create-container -n trans img >/dev/null
	local m; m=$($T mount kept)
	expect_eq "$(cat "$m/etc/hello")" hello "persistent container after the reboot"
	$T unmount kept >/dev/null
	$T check || die "check after the next container"
	$T shutdown >/dev/null
	umount "$s/r"
}

t_begin
t_run test_transient_records_vfs
t_run test_transient_records_overlay
t_run test_transient_not_synced
t_run test_transient_reboot
t_end
