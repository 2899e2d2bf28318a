#!/bin/bash
# Overlay chains: a 500-layer chain mounts (mount data longer than a page,
# lowers passed as fds), a 501-layer one is refused with a clear error; a 50-layer
# chain made and populated by the Go CLI is mounted by cstor with the same
# files and diffs, and the reverse.
. "$(dirname "$0")/../lib.sh"

need_overlay() { grep -qw overlay /proc/filesystems || skip "no overlay filesystem"; }

tree_sum() { (cd "$1" && find . -printf '%p %y %m %U %G %s %l\n' | sort && find . -type f -exec sha256sum {} + | sort) | sha256sum; }

test_500_deep() {
	need_overlay
	local s; s=$(t_store)
	local C="$CSTOR -g $s/g -R $s/r -s overlay"
	mkdir -p "$s/t"
	local id="" p=""
	for i in $(seq 1 501); do
		echo "$i" >"$s/t/f$i"
		tar -C "$s/t" -cf "$s/l.tar" "f$i"
		rm "$s/t/f$i"
		id=$($C import-layer -f "$s/l.tar" $p | head -1)
		p=$id
		[ "$i" = 500 ] && deep500=$id
	done
	local mp; mp=$($C mount "$deep500") || die "mount of a 500-layer chain"
	expect_eq "$(ls "$mp" | wc -l)" 500 "files of 500 layers"
	expect_eq "$(cat "$mp/f1") $(cat "$mp/f500")" "1 500" "content"
	$C unmount "$deep500" >/dev/null
	local rc=0
	$C mount "$id" >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "mount of a 501-layer chain"
	grep -q "max depth exceeded" "$s/err" || die "message: $(cat "$s/err")"
}

populate() { # populate CLI STORE-ARGS N -> top layer ID
	local cli=$1 args=$2 n=$3 s=$4
	local p="" id
	for i in $(seq 1 "$n"); do
		id=$($cli $args create-layer $p | head -1)
		local mp; mp=$($cli $args mount "$id")
		mkdir -p "$mp/dir$((i % 7))"
		echo "layer $i" >"$mp/dir$((i % 7))/file$i"
		[ $i -gt 1 ] && rm -f "$mp/dir$(((i - 1) % 7))/file$((i - 1))"
		ln -sf "file$i" "$mp/dir$((i % 7))/link"
		$cli $args unmount "$id" >/dev/null
		p=$id
	done
	echo "$id"
}

chain_both_ways() { # chain_both_ways MAKER READER
	need_overlay
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	local s; s=$(t_store)
	local A="-g $s/g -R $s/r -s overlay"
	local maker=$1 reader=$2
	local top; top=$(populate "$maker" "$A" 50 "$s")
	local m1 m2
	m1=$($maker $A mount "$top"); local want; want=$(tree_sum "$m1"); $maker $A unmount "$top" >/dev/null
	m2=$($reader $A mount "$top"); expect_eq "$(tree_sum "$m2")" "$want" "files of the 50-layer chain"
	$reader $A unmount "$top" >/dev/null
	expect_eq "$($reader $A changes "$top" | sort)" "$($maker $A changes "$top" | sort)" "changes"
	expect_eq "$($reader $A diffsize "$top")" "$($maker $A diffsize "$top")" "diffsize"
	# Naive and native diffs carry whiteout times; compare the listings.
	expect_eq "$($reader $A diff -u "$top" | tar -tvf - | awk '{print $1, $2, $3, $6}')" \
		"$($maker $A diff -u "$top" | tar -tvf - | awk '{print $1, $2, $3, $6}')" "diff"
}

test_go_chain_read_by_cstor() { chain_both_ways "$GO_CS" "$CSTOR"; }
test_cstor_chain_read_by_go() { chain_both_ways "$CSTOR" "$GO_CS"; }

test_unsupported_options_and_backing_fs() {
	need_overlay
	local s; s=$(t_store)
	local rc=0
	"$CSTOR" -g "$s/g" -R "$s/r" -s overlay --storage-opt overlay.size=10G status >/dev/null 2>"$s/err" || rc=$?
	expect_eq $rc 1 "unsupported overlay option"
	grep -q "overlay.size=10G" "$s/err" || die "message: $(cat "$s/err")"
	# A graph root on overlayfs cannot host overlay upper directories.
	mkdir -p "$s/lo" "$s/up" "$s/wk" "$s/ovl"
	mount -t overlay overlay -o "lowerdir=$s/lo,upperdir=$s/up,workdir=$s/wk" "$s/ovl" || skip "cannot mount overlay"
	rc=0
	"$CSTOR" -g "$s/ovl/g" -R "$s/r2" -s overlay status >/dev/null 2>"$s/err" || rc=$?
	umount "$s/ovl"
	expect_eq $rc 1 "overlay on overlayfs"
	grep -q "not supported over overlayfs" "$s/err" || die "message: $(cat "$s/err")"
}

t_begin
t_run test_500_deep
t_run test_go_chain_read_by_cstor
t_run test_cstor_chain_read_by_go
t_run test_unsupported_options_and_backing_fs
t_end
