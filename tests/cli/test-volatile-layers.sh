#!/bin/bash
# volatile-layers.json and volatile-containers.json, written by newer
# containers/storage for volatile containers and their layers: read with
# layers.json and containers.json, each record kept in its file on every
# save.
. "$(dirname "$0")/../lib.sh"

test_volatile_layers_are_read_and_kept() {
	t_unchecked "hand-made volatile records"
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local a; a=$($C create-layer -n stable | head -1)
	local vid=7777777777777777777777777777777777777777777777777777777777777777
	mkdir -p "$s/g/vfs/dir/$vid"
	printf '[{"id":"%s","names":["vol"],"parent":"%s","created":"2026-01-02T03:04:05Z","flags":{"Volatile":true}}]' \
		"$vid" "$a" >"$s/g/vfs-layers/volatile-layers.json"
	# A duplicate of a stable layer in the volatile file is ignored.
	$C layers | grep -qx "$vid" || die "volatile layer not listed"
	expect_eq "$($C get-names "$vid")" vol "names of the volatile layer"
	# A write keeps each record in its own file.
	$C set-names -n stable2 "$a"
	grep -q "\"$vid\"" "$s/g/vfs-layers/volatile-layers.json" || die "volatile record lost"
	grep -q "\"$vid\"" "$s/g/vfs-layers/layers.json" && die "volatile record moved to layers.json"
	grep -q '"stable2"' "$s/g/vfs-layers/layers.json" || die "stable record not saved"
	# Deleting it removes it from the volatile file.
	$C delete-layer "$vid"
	grep -q "\"$vid\"" "$s/g/vfs-layers/volatile-layers.json" && die "deleted volatile layer kept"
	expect_eq "$(cat "$s/g/vfs-layers/volatile-layers.json")" "[]" "empty volatile file"
	# A corrupt volatile file is an error naming it, never an empty store.
	echo '[{"id":' >"$s/g/vfs-layers/volatile-layers.json"
	local rc=0
	$C layers >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "corrupt volatile-layers.json"
	grep -q "volatile-layers.json" "$s/err" || die "message: $(cat "$s/err")"
}

test_volatile_containers_are_read_and_kept() {
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s vfs"
	local base; base=$($C create-layer --readonly | head -1)
	$C create-image -n img "$base" >/dev/null
	local kept; kept=$($C create-container -n kept img | head -1 | cut -d' ' -f1)
	# A volatile container as newest Go leaves it: its record in the graph
	# root's volatile-containers.json, its layer in volatile-layers.json.
	local vid=8888888888888888888888888888888888888888888888888888888888888888
	local vl=9999999999999999999999999999999999999999999999999999999999999999
	mkdir -p "$s/g/vfs/dir/$vl"
	printf '[{"id":"%s","parent":"%s","created":"2026-01-02T03:04:05Z"}]' "$vl" "$base" \
		>"$s/g/vfs-layers/volatile-layers.json"
	printf '[{"id":"%s","names":["vol"],"image":"%s","layer":"%s","created":"2026-01-02T03:04:05Z","flags":{"Volatile":true}}]' \
		"$vid" "$($C images | head -1)" "$vl" >"$s/g/vfs-containers/volatile-containers.json"
	expect_eq "$($C containers | grep -v '^	' | sort)" "$(printf '%s\n' "$kept" "$vid" | sort)" "containers listed"
	# A write keeps each record in its file.
	$C set-names -n kept2 kept
	grep -q "\"$vid\"" "$s/g/vfs-containers/volatile-containers.json" || die "volatile record lost"
	grep -q "\"$vid\"" "$s/g/vfs-containers/containers.json" && die "volatile record moved to containers.json"
	grep -q '"kept2"' "$s/g/vfs-containers/containers.json" || die "stable record not saved"
	$C check || die "check with volatile records"
	$C delete-container vol
	expect_eq "$(cat "$s/g/vfs-containers/volatile-containers.json")" "[]" "empty volatile file"
	expect_eq "$(cat "$s/g/vfs-layers/volatile-layers.json")" "[]" "volatile layer deleted with its container"
}

t_begin
t_run test_volatile_layers_are_read_and_kept
t_run test_volatile_containers_are_read_and_kept
t_end
