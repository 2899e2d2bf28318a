#!/bin/bash
# The README's five-minute quickstart, run as written: the lines between
# its <!-- quickstart --> markers are taken from README.md, so the README
# cannot drift from what works. cstor is put first on $PATH; the store is
# the quickstart's own (mktemp -d under this test's directory).
. "$(dirname "$0")/../lib.sh"

TOP=${CSTOR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}

quickstart_lines() {
	awk '/^<!-- quickstart/ {on = 1; next} /^<!-- \/quickstart/ {on = 0} on' "$TOP/README.md" |
		grep -v '^```'
}

test_readme_quickstart() {
	[ -x /bin/busybox ] || t_skip "busybox-static not installed (scripts/mkimage-busybox needs it)" || return
	command -v podman >/dev/null || t_skip "podman not installed: the quickstart runs a container with it" || return
	command -v jq >/dev/null || t_skip "jq not installed" || return
	grep -qw overlay /proc/filesystems || t_skip "no overlay filesystem for the quickstart's store" || return
	local lines; lines=$(quickstart_lines)
	[ "$(echo "$lines" | grep -c .)" -ge 10 ] || die "no quickstart block in README.md: $lines"
	echo "$lines" | grep -q '^cstor import' || die "the quickstart imports nothing"
	echo "$lines" | grep -q '^podman run' || die "the quickstart runs nothing with podman"
	local bin=$T_TMP/bin
	mkdir -p "$bin"
	ln -sf "$CSTOR" "$bin/cstor"
	# This VM, not the quickstart: crun refuses its hybrid cgroup
	# hierarchy and podman's default ulimits exceed its hard limits, so
	# podman gets runc and small ulimits from a containers.conf of the
	# test's own when runc is there (a usual machine needs neither).
	local conf=
	if command -v runc >/dev/null; then
		conf=$T_TMP/containers.conf
		printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\n' >"$conf"
	fi
	# A script of its own, so that set -e stops at the first failing line.
	{ echo 'set -euxo pipefail'; echo "$lines"; echo 'echo "QS=$qs"'; } >"$T_TMP/qs.sh"
	local rc=0
	(
		cd "$TOP"
		export PATH="$bin:$PATH" TMPDIR=$T_TMP
		[ -z "$conf" ] || export CONTAINERS_CONF=$conf
		exec bash "$T_TMP/qs.sh"
	) >"$T_TMP/qs.out" 2>&1 || rc=$?
	cat "$T_TMP/qs.out"
	local qs; qs=$(sed -n 's/^QS=//p' "$T_TMP/qs.out")
	[ $rc = 0 ] || die "the quickstart failed (exit $rc)"
	# What the README's comments promise.
	grep -q "docker.io/library/busybox:latest" "$T_TMP/qs.out" || die "images: no busybox"
	grep -q "Hello from a cstor image" "$T_TMP/qs.out" || die "podman run printed no motd"
	grep -q "^Add \"/root/greeting\"" "$T_TMP/qs.out" || die "changes: no /root/greeting"
	grep -qx "hi" "$T_TMP/qs.out" || die "with-mount did not read the greeting"
	local want; want=$(jq -r '.manifests[0].digest' "$qs/busybox/index.json")
	expect_eq "$(tar -xOf "$qs/busybox.tar" index.json | jq -r '.manifests[0].digest')" "$want" \
		"exported manifest digest"
	# The store checks clean after podman and cstor both used it; then
	# the README's "when done".
	CONTAINERS_STORAGE_CONF=$qs/storage.conf "$CSTOR" check || die "check"
	CONTAINERS_STORAGE_CONF=$qs/storage.conf "$CSTOR" wipe >/dev/null || die "wipe"
	t_cleanup_dir "$qs"
}

t_run test_readme_quickstart
t_end
