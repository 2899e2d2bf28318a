#!/bin/bash
# An export killed half-way (SIGKILL while it writes a big layer blob)
# leaves a temporary blob file in the layout; the next export into the same
# layout removes it, and the layout is valid (skopeo reads it). The same
# for an oci-archive's staging directory and temporary tarball. And an
# image whose layers' parents form a cycle (a corrupt store) is an error
# naming the layers, never a loop.
. "$(dirname "$0")/../lib.sh"

# mklayout DIR MB: an OCI layout with one uncompressed layer of a file of
# MB MiB of zeros, tagged v1.
mklayout() {
	python3 - "$1" "$2" <<'PY'
import hashlib, json, os, sys, tarfile, io
out = sys.argv[1]; mb = int(sys.argv[2])
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(data_path=None, data=None):
    h = hashlib.sha256()
    if data is not None:
        h.update(data); d = h.hexdigest()
        open(f"{out}/blobs/sha256/{d}", "wb").write(data); return d, len(data)
    with open(data_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
    d = h.hexdigest(); os.rename(data_path, f"{out}/blobs/sha256/{d}")
    return d, os.path.getsize(f"{out}/blobs/sha256/{d}")
tmp = out + "/layer.tar"
with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as t:
    ti = tarfile.TarInfo("big"); ti.size = mb << 20; ti.mtime = 1700000000
    class Z(io.RawIOBase):
        def __init__(s, n): s.n = n
        def readable(s): return True
        def readinto(s, b):
            k = min(len(b), s.n); b[:k] = bytes(k); s.n -= k; return k
    t.addfile(ti, io.BufferedReader(Z(ti.size), 1 << 20))
ld, ls = put(data_path=tmp)
cfg = json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}, "config": {}}).encode()
cd, cs = put(data=cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + ld, "size": ls}]}).encode()
md, ms = put(data=man)
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md, "size": ms,
     "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
PY
}

test_export_killed() {
	command -v skopeo >/dev/null 2>&1 || return $(t_skip "skopeo not installed")
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	mklayout "$S/src" 256
	"$CSTOR" $G import "oci:$S/src:v1" >/dev/null
	local img i tries
	img=$("$CSTOR" $G images | head -1)
	for tries in 1 2 3 4 5; do
		rm -rf "$S/out"
		"$CSTOR" $G export "$img" "oci:$S/out:v1" >/dev/null 2>&1 &
		local pid=$!
		for i in $(seq 2000); do
			compgen -G "$S/out/blobs/sha256/.tmp-blob-*" >/dev/null && break
			sleep 0.005
		done
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		compgen -G "$S/out/blobs/sha256/.tmp-blob-*" >/dev/null && break
	done
	compgen -G "$S/out/blobs/sha256/.tmp-blob-*" >/dev/null ||
		die "no export was caught with a temporary blob"
	# Another tool's file is not cstor's to remove.
	touch "$S/out/blobs/sha256/.other-tool-tmp"
	"$CSTOR" $G export "$img" "oci:$S/out:v1" >/dev/null || die "export again"
	expect_eq "$(ls -A "$S/out/blobs/sha256" | grep -v '^[0-9a-f]\{64\}$')" ".other-tool-tmp" \
		"only blobs (and the other tool's file) left in the layout"
	rm "$S/out/blobs/sha256/.other-tool-tmp"
	skopeo inspect "oci:$S/out:v1" >/dev/null || die "skopeo inspect of the layout"
}

# The same for an oci-archive: an export killed leaves its staging layout
# (and maybe its temporary tarball) next to the archive; the next export to
# that archive removes them, but not a live export's (locked) nor another
# tool's files.
test_export_archive_killed() {
	command -v skopeo >/dev/null 2>&1 || skip "skopeo not installed"
	command -v flock >/dev/null 2>&1 || skip "flock (util-linux) not installed"
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	mklayout "$S/src" 256
	"$CSTOR" $G import "oci:$S/src:v1" >/dev/null
	local img caught=
	img=$("$CSTOR" $G images | head -1)
	mkdir "$S/a"
	for _ in 1 2 3 4 5; do
		"$CSTOR" $G export "$img" "oci-archive:$S/a/img.tar:v1" >/dev/null 2>&1 &
		local pid=$!
		for _ in $(seq 4000); do
			compgen -G "$S/a/.img.tar.tmp-*" >/dev/null && break
			sleep 0.005
		done
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		compgen -G "$S/a/.img.tar.tmp-*" >/dev/null && { caught=1; break; }
	done
	compgen -G "$S/a/.img.tar.export-*" >/dev/null || die "no export was caught with its staging directory"
	[ -n "$caught" ] || echo "no export caught with its temporary tarball (the staging directory was)"
	ls -A "$S/a"
	# Another tool's files, and a live export's staging (locked).
	touch "$S/a/.img.tar.export-other-tool" "$S/a/.img.tar.tmp-notours"
	mkdir "$S/a/.img.tar.export-LIVE00"
	local lockfd
	exec {lockfd}<"$S/a/.img.tar.export-LIVE00"
	flock -n $lockfd || die "cannot lock the live staging directory"
	"$CSTOR" $G export "$img" "oci-archive:$S/a/img.tar:v1" >/dev/null || die "export again"
	exec {lockfd}<&-
	expect_eq "$(ls -A "$S/a" | sort | tr '\n' ' ')" \
		".img.tar.export-LIVE00 .img.tar.export-other-tool .img.tar.tmp-notours img.tar " \
		"what is left next to the archive"
	skopeo inspect "oci-archive:$S/a/img.tar:v1" >/dev/null || die "skopeo inspect of the archive"
	# Once dead, the locked one goes too.
	"$CSTOR" $G export "$img" "oci-archive:$S/a/img.tar:v1" >/dev/null || die "export a third time"
	[ ! -e "$S/a/.img.tar.export-LIVE00" ] || die "a dead staging directory was kept"
}

test_export_cycle() {
	t_unchecked "a parent cycle"
	S=$(t_store)
	G="-g $S/g -R $S/r -s vfs"
	mklayout "$S/src" 1
	"$CSTOR" $G import "oci:$S/src:v1" >/dev/null
	local img layer rc=0
	img=$("$CSTOR" $G images | head -1)
	layer=$("$CSTOR" $G layers | head -1)
	python3 - "$S/g/vfs-layers/layers.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d[0]["parent"] = d[0]["id"]
open(sys.argv[1], "w").write(json.dumps(d))
PY
	timeout 20 "$CSTOR" $G export "$img" "oci:$S/out:v1" >/dev/null 2>"$S/err" || rc=$?
	expect_eq $rc 1 "export of an image on a cycle"
	grep -q "the parent of layer $layer is $layer.*cycle" "$S/err" || die "message: $(cat "$S/err")"
	[ ! -e "$S/out" ] || die "a failed export left $S/out"
}

t_begin
t_run test_export_killed
t_run test_export_archive_killed
t_run test_export_cycle
t_end
