#!/bin/bash
# cstor pull against a real registry (Debian's docker-registry, the CNCF
# distribution registry) on 127.0.0.1, started here with a config each test
# writes: the same image pulled by cstor and by skopeo gives the same
# records; TLS with a CA made here; basic auth with htpasswd; faults (a 404
# tag, a corrupt blob, 429s, a dropped connection, kill -9 mid-layer) each
# leave the store consistent. Every server a test starts is stopped when
# the test ends, whatever its outcome.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MKIMG=$ROOT/scripts/mkimage-busybox
PROXY=$ROOT/tests/interop/regproxy.py

need_registry() { command -v docker-registry >/dev/null || skip "docker-registry is not installed"; }
need_skopeo() { command -v skopeo >/dev/null || skip "skopeo is not installed"; }
need_busybox() { [ -x /bin/busybox ] || skip "busybox-static is not installed"; }

sk() { skopeo --insecure-policy "$@"; }
cs() { local s=$1 d=$2; shift 2; "$CSTOR" -g "$s/g" -R "$s/r" -s "$d" "$@"; }
csref() { echo "containers-storage:[$2@$1/g+$1/r]$3"; }
layers_view() { jq -S '[.[] | del(.created) | del(."big-data-names")] | sort_by(.id)' "$1"; }
images_view() { jq -S 'sort_by(.id)' "$1"; }

# Servers started by this file: stopped by the test that started them
# (its subshell's EXIT trap) and, should that not run, at the end.
PIDS=$T_TMP/server.pids
stop_servers() {
	local p
	[ -f "$PIDS" ] || return 0
	for p in $(cat "$PIDS"); do kill "$p" 2>/dev/null || true; done
	for p in $(cat "$PIDS"); do
		while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
	done
	rm -f "$PIDS"
}
file_exit() { stop_servers; t_exit_trap; }
trap file_exit EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME [YAML...]: a registry on a free port; REG is its
# host:port. YAML lines are added at the top level (auth:, or http tls).
start_registry() {
	local name=$1 dir=$T_TMP/reg-$1 port scheme=http i
	shift
	port=$(free_port)
	mkdir -p "$dir/data"
	{
		printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/data"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$dir/config.yml"
	printf '%s\n' "$@" | grep -q '  tls:' && scheme=https
	trap stop_servers EXIT
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	echo $! >>"$PIDS"
	for i in $(seq 100); do
		curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" && break
		sleep 0.1
	done
	curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" || { cat "$dir/log"; die "registry $name did not start"; }
	REG=127.0.0.1:$port
}

# start_proxy MODE: regproxy.py in front of $REG; PROXY_REG is its host:port,
# PROXY_LOG the file of the requests it saw.
start_proxy() {
	local pf=$T_TMP/proxy.port.$RANDOM i
	python3 "$PROXY" "$pf" "http://$REG" "$1" &
	PROXY_PID=$!
	echo $! >>"$PIDS"
	for i in $(seq 100); do [ -f "$pf" ] && break; sleep 0.05; done
	[ -f "$pf" ] || die "the proxy did not start"
	PROXY_REG=127.0.0.1:$(cat "$pf")
	PROXY_LOG=$pf.log
	: >"$PROXY_LOG"
}

IMG=$T_TMP/img
mkimages() {
	[ -d "$IMG/gz" ] && return 0
	mkdir -p "$IMG"
	"$MKIMG" "$IMG/gz" v1 >/dev/null
}

# push_image [--dest-creds U:P] [--dest-cert-dir D] REPO:TAG: the test image into $REG.
push_image() {
	local ref=${*: -1} opts=("${@:1:$#-1}")
	mkimages
	sk copy -q --dest-tls-verify=false "${opts[@]}" "oci:$IMG/gz:v1" "docker://$REG/$ref"
}

# The store's records, for "nothing changed".
records() { cat "$1"/g/*-layers/layers.json "$1"/g/*-images/images.json 2>/dev/null | sha256sum; }

test_pull_same_records_as_skopeo() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local d A B id top
	for d in vfs overlay; do
		A=$(t_store) B=$(t_store)
		id=$(cs "$A" $d pull -q "$REG/bb:v1")
		sk copy -q --src-tls-verify=false "docker://$REG/bb:v1" "$(csref "$B" $d "$REG/bb:v1")"
		expect_eq "$id" "$(jq -r '.[0].id' "$B/g/$d-images/images.json")" "$d image ID"
		diff <(images_view "$A/g/$d-images/images.json") <(images_view "$B/g/$d-images/images.json") ||
			die "$d: images.json differs from skopeo's"
		diff <(layers_view "$A/g/$d-layers/layers.json") <(layers_view "$B/g/$d-layers/layers.json") ||
			die "$d: layers.json differs from skopeo's"
		diff -r "$A/g/$d-images/$id" "$B/g/$d-images/$id" || die "$d: big data differs"
		top=$(jq -r '.[0].layer' "$A/g/$d-images/images.json")
		cmp <(cs "$A" $d diff -u "$top") <(cs "$B" $d diff -u "$top") || die "$d: top layer diff"
		# The original blobs are kept, as after an import.
		cs "$A" $d list-layer-data "$top" | grep -q '^cstor.blob-sha256:' || die "$d: no kept blob"
		t_cleanup_dir "$A"; t_cleanup_dir "$B"
	done
}

# import docker://, a digest reference, and a second pull reusing layers.
test_import_docker_transport() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A id id2 digest
	A=$(t_store)
	id=$(cs "$A" vfs import -q "docker://$REG/bb:v1")
	expect_eq "$(cs "$A" vfs image "$REG/bb:v1" | head -1)" "ID: $id" "image by its name"
	digest=$(jq -r '.[0].digest' "$A/g/vfs-images/images.json")
	id2=$(cs "$A" vfs pull -q "docker://$REG/bb@$digest")
	expect_eq "$id2" "$id" "pull by digest"
	expect_eq "$(jq 'length' "$A/g/vfs-layers/layers.json")" 2 "layers reused"
	# --json: one document, the layers it reused said so.
	cs "$A" vfs pull -q --json "$REG/bb:v1" >"$A/pull.json"
	expect_eq "$(jq -c '[.id, .fetched, .reused, (.layers | length)]' "$A/pull.json")" \
		"[\"$id\",0,2,2]" "pull --json"
}

test_404_tag_store_unchanged() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A before out
	A=$(t_store)
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	before=$(records "$A")
	out=$(cs "$A" vfs pull -q "$REG/bb:nosuchtag" 2>&1) && die "a missing tag pulled"
	echo "$out"
	[[ $out == *"$REG/bb:nosuchtag"*"not found (404)"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs pull -q "$REG/nosuchrepo:v1" 2>&1) && die "a missing repository pulled"
	[[ $out == *"nosuchrepo"*"404"* ]] || die "unclear error: $out"
	expect_eq "$(records "$A")" "$before" "records after failed pulls"
}

test_basic_auth() {
	need_registry; need_skopeo; need_busybox
	command -v htpasswd >/dev/null || skip "htpasswd (apache2-utils) is not installed"
	htpasswd -Bbc "$T_TMP/htpasswd" alice s3cret >/dev/null 2>&1
	start_registry auth "auth:" "  htpasswd:" "    realm: test" "    path: $T_TMP/htpasswd"
	push_image --dest-creds alice:s3cret bb:v1
	local A out id
	A=$(t_store)
	out=$(HOME=$T_TMP/nohome XDG_RUNTIME_DIR= REGISTRY_AUTH_FILE= cs "$A" vfs pull -q "$REG/bb:v1" 2>&1) &&
		die "pulled without credentials"
	[[ $out == *"401"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs pull -q --creds alice:wrong "$REG/bb:v1" 2>&1) && die "pulled with a wrong password"
	[[ $out == *"401"* ]] || die "unclear error: $out"
	id=$(cs "$A" vfs pull -q --creds alice:s3cret "$REG/bb:v1")
	[ -n "$id" ] || die "no image ID"
	# auth.json: --authfile, and $REGISTRY_AUTH_FILE.
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf alice:s3cret | base64)" >"$T_TMP/auth.json"
	A=$(t_store)
	cs "$A" vfs pull -q --authfile "$T_TMP/auth.json" "$REG/bb:v1" >/dev/null
	A=$(t_store)
	REGISTRY_AUTH_FILE=$T_TMP/auth.json cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	expect_eq "$(jq -r '.[0].id' "$A/g/vfs-images/images.json")" "$id" "image ID"
}

test_tls_with_own_ca() {
	need_registry; need_skopeo; need_busybox
	local c=$T_TMP/certs A out
	mkdir -p "$c/ca"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=cstor-test-ca \
		-keyout "$c/ca.key" -out "$c/ca/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$c/srv.key" -out "$c/srv.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$c/ext"
	openssl x509 -req -in "$c/srv.csr" -CA "$c/ca/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
		-days 2 -extfile "$c/ext" -out "$c/srv.crt" 2>/dev/null
	start_registry tls "  tls:" "    certificate: $c/srv.crt" "    key: $c/srv.key"
	# http: is the last top-level key written, so "  tls:" lands under it.
	sk copy -q --dest-cert-dir "$c/ca" "oci:$(mkimages; echo "$IMG/gz"):v1" "docker://$REG/bb:v1"
	A=$(t_store)
	out=$(cs "$A" vfs pull -q "$REG/bb:v1" 2>&1) && die "pulled from an unknown CA's server"
	echo "$out"
	[[ $out == *"$REG"* ]] || die "unclear error: $out"
	cs "$A" vfs pull -q --cert-dir "$c/ca" "$REG/bb:v1" >/dev/null
	A=$(t_store)
	cs "$A" vfs pull -q --tls-verify=false "$REG/bb:v1" >/dev/null
	# insecure = true in registries.conf is --tls-verify=false.
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" >"$T_TMP/registries.conf"
	A=$(t_store)
	CONTAINERS_REGISTRIES_CONF=$T_TMP/registries.conf cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
}

test_corrupt_blob_refused() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy corrupt
	local A before out
	A=$(t_store)
	before=$(records "$A")
	out=$(cs "$A" vfs pull -q "$PROXY_REG/bb:v1" 2>&1) && die "a corrupt blob was accepted"
	echo "$out"
	[[ $out == *"sha256:"* ]] || die "the error names no blob: $out"
	[[ $out == *"digest"* || $out == *"mismatch"* || $out == *"gzip"* || $out == *"corrupt"* ]] ||
		die "unclear error: $out"
	# Nothing half-visible: no layer, no image.
	expect_eq "$(jq 'length' "$A/g/vfs-layers/layers.json" 2>/dev/null || echo 0)" 0 "layers left"
	expect_eq "$(jq 'length' "$A/g/vfs-images/images.json" 2>/dev/null || echo 0)" 0 "images left"
}

test_429_retried() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy 429
	local A start
	A=$(t_store)
	start=$(date +%s)
	cs "$A" vfs pull -q "$PROXY_REG/bb:v1" >/dev/null
	# Three answers of Retry-After: 1 were waited for.
	[ $(($(date +%s) - start)) -ge 2 ] || die "Retry-After was not honoured"
}

# Retry-After as an HTTP date 2 s ahead (whole seconds: each wait 1 or 2 s),
# where the backoff alone would wait 0.2 + 0.4 + 0.8 s.
test_429_retry_after_date() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy 429date
	local A start ms
	A=$(t_store)
	start=$(date +%s%N)
	cs "$A" vfs pull -q "$PROXY_REG/bb:v1" >/dev/null
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$ms" -ge 2900 ] || die "the HTTP date of Retry-After was not honoured (${ms} ms)"
	[ "$(grep -c '^GET \|^HEAD ' "$PROXY_LOG")" -ge 4 ] || die "no retries seen"
	expect_eq "$(jq length "$A/g/vfs-images/images.json")" 1 "images"
}

test_dropped_connection_resumed() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A B mode log
	B=$(t_store)
	cs "$B" vfs pull -q "$REG/bb:v1" >/dev/null
	# Resumed with Range; from a registry ignoring Range, from the start.
	for mode in cut cutnorange; do
		start_proxy $mode
		A=$(t_store)
		cs "$A" vfs pull -q "$PROXY_REG/bb:v1" >/dev/null
		log=$PROXY_LOG
		diff <(layers_view "$A/g/vfs-layers/layers.json") <(layers_view "$B/g/vfs-layers/layers.json") ||
			die "$mode: a resumed pull stored other layers"
		grep -q '^GET .*/blobs/sha256:.* range=bytes=[1-9][0-9]*-$' "$log" || die "$mode: no Range request"
	done
}

test_kill9_mid_layer_then_pull() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy slow
	local A pid i
	A=$(t_store)
	# cstor itself, not a subshell running the cs function: the signal
	# must reach it.
	"$CSTOR" -g "$A/g" -R "$A/r" -s vfs pull -q "$PROXY_REG/bb:v1" >/dev/null 2>&1 &
	pid=$!
	# Wait until a layer is being made, then kill.
	for i in $(seq 100); do
		[ -s "$A/g/vfs-layers/layers.json" ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -9 $pid
	wait $pid 2>/dev/null || true
	# It died with a layer half made (or the test proves nothing).
	expect_eq "$(jq '[.[] | select(.flags["cstor.apply-incomplete"] == true)] | length' "$A/g/vfs-layers/layers.json")" 1 \
		"incomplete layers at the kill"
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	expect_eq "$(jq 'length' "$A/g/vfs-images/images.json")" 1 "images"
	expect_eq "$(jq '[.[] | select(.flags["cstor.apply-incomplete"] == true)] | length' "$A/g/vfs-layers/layers.json")" 0 \
		"incomplete layers left"
}

# Ctrl-C cancels the pull (the library's cancel flag): a message, exit 130,
# nothing of the pull visible (an image already there intact), and the
# next pull works.
test_ctrl_c_mid_layer() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy slow
	local A pid rc=0 t0 other before
	A=$(t_store)
	other=$(cs "$A" vfs create-image -n keep/me:v1 "$(cs "$A" vfs create-layer | cut -f1)" | cut -f1)
	before=$(records "$A")
	"$CSTOR" -g "$A/g" -R "$A/r" -s vfs pull -q "$PROXY_REG/bb:v1" >/dev/null 2>"$T_TMP/int.err" &
	pid=$!
	for _ in $(seq 100); do
		[ "$(jq length "$A/g/vfs-layers/layers.json")" -gt 1 ] && break
		sleep 0.1
	done
	sleep 0.3
	t0=$(date +%s%N)
	kill -INT $pid
	wait $pid || rc=$?
	expect_eq "$rc" 130 "exit status"
	# Seen within the slow proxy's 0.1 s pauses, not at the blob's end.
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ] || die "the cancel took over 2 s"
	grep -q "pull of $PROXY_REG/bb:v1 cancelled: the layers it made were removed" "$T_TMP/int.err" ||
		die "no message: $(cat "$T_TMP/int.err")"
	expect_eq "$(records "$A")" "$before" "records after the cancelled pull"
	expect_eq "$(ls "$A/g/vfs/dir" | wc -l)" 1 "layer directories after the cancelled pull"
	expect_eq "$(cs "$A" vfs image --json keep/me:v1 | jq -r '.[0].id')" "$other" "the image there before"
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	expect_eq "$(jq 'length' "$A/g/vfs-images/images.json")" 2 "images"
	expect_eq "$(jq '[.[] | select(.flags["cstor.apply-incomplete"] == true)] | length' "$A/g/vfs-layers/layers.json")" 0 \
		"incomplete layers left"
}

test_bad_references() {
	local A out
	A=$(t_store)
	out=$(cs "$A" vfs pull -q "docker://" 2>&1) && die "an empty reference pulled"
	[[ $out == *"no image reference"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs pull -q "127.0.0.1:1/Bad/Name" 2>&1) && die "a bad name pulled"
	[[ $out == *"invalid image name"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs pull -q "127.0.0.1:1/bb:v1" 2>&1) && die "pulled from a closed port"
	[[ $out == *"127.0.0.1:1"* ]] || die "unclear error: $out"
}

# A pulled image pushed back has the digest it was pulled with (its kept
# blobs and stored manifest are sent as they are); skopeo and cstor read
# the pushed image as the original.
test_push_same_digest() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A B C digest pushed id
	A=$(t_store) B=$(t_store) C=$(t_store)
	id=$(cs "$A" vfs pull -q "$REG/bb:v1")
	digest=$(sk inspect --tls-verify=false "docker://$REG/bb:v1" | jq -r .Digest)
	pushed=$(cs "$A" vfs push -q "$REG/bb:v1" "$REG/copy:v2")
	expect_eq "$pushed" "$digest" "digest printed by push"
	expect_eq "$(sk inspect --tls-verify=false "docker://$REG/copy:v2" | jq -r .Digest)" "$digest" \
		"digest skopeo sees"
	sk copy -q --src-tls-verify=false "docker://$REG/copy:v2" "$(csref "$B" vfs "$REG/copy:v2")"
	expect_eq "$(jq -r '.[0].id' "$B/g/vfs-images/images.json")" "$id" "image ID skopeo stores"
	expect_eq "$(cs "$C" vfs pull -q "docker://$REG/copy:v2")" "$id" "image ID cstor pulls"
	# export docker:// is push.
	expect_eq "$(cs "$A" vfs export "$REG/bb:v1" "docker://$REG/viaexport:v3")" "$digest" \
		"digest printed by export docker://"
	expect_eq "$(sk inspect --tls-verify=false "docker://$REG/viaexport:v3" | jq -r .Digest)" "$digest" \
		"digest after export docker://"
}

# Chunked uploads; blobs the registry has are not sent again.
test_push_chunked_and_skipped() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A digest
	A=$(t_store)
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	digest=$(sk inspect --tls-verify=false "docker://$REG/bb:v1" | jq -r .Digest)
	start_proxy pass
	local log=$PROXY_LOG
	expect_eq "$(cs "$A" vfs push -q --chunk-size 65536 "$REG/bb:v1" "$PROXY_REG/chunked:v1")" "$digest" \
		"chunked push digest"
	# The ~1 MB layer in 64 KiB pieces.
	[ "$(grep -c '^PATCH ' $log)" -gt 4 ] || die "no chunked upload seen"
	expect_eq "$(sk inspect --tls-verify=false "docker://$REG/chunked:v1" | jq -r .Digest)" "$digest" \
		"digest skopeo sees"
	: >$log
	cs "$A" vfs push -q "$REG/bb:v1" "$PROXY_REG/chunked:v1" >/dev/null
	grep -q '^HEAD .*/blobs/' $log || die "no HEAD of blobs"
	! grep -q '^POST ' $log || die "a blob the registry has was uploaded again"
	# Into another repository: mounted from one the image is named in.
	cs "$A" vfs add-names -n "$PROXY_REG/chunked:v1" "$REG/bb:v1"
	: >$log
	expect_eq "$(cs "$A" vfs push -q "$REG/bb:v1" "$PROXY_REG/mounted:v1")" "$digest" "mounted push digest"
	grep -q '^POST /v2/mounted/blobs/uploads/?mount=sha256.*&from=chunked' $log || die "no mount asked for"
	! grep -q '^PATCH \|^PUT .*blobs' $log || die "a mountable blob was uploaded"
	expect_eq "$(sk inspect --tls-verify=false "docker://$REG/mounted:v1" | jq -r .Digest)" "$digest" \
		"digest skopeo sees after the mount"
}

# A mount the registry cannot do (the repository named has not the blob)
# is answered 202: the blob is uploaded instead.
test_push_mount_fallback() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A digest
	A=$(t_store)
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	digest=$(sk inspect --tls-verify=false "docker://$REG/bb:v1" | jq -r .Digest)
	start_proxy pass
	cs "$A" vfs add-names -n "$PROXY_REG/empty:v1" "$REG/bb:v1"
	expect_eq "$(cs "$A" vfs push -q "$REG/bb:v1" "$PROXY_REG/fallback:v1")" "$digest" "pushed digest"
	grep -q '^POST /v2/fallback/blobs/uploads/?mount=sha256.*&from=empty' "$PROXY_LOG" || die "no mount asked for"
	grep -q '^PUT /v2/fallback/blobs/uploads/' "$PROXY_LOG" || die "no upload after the 202"
	# The upload went on in the session the 202 opened: no session of its own.
	! grep -q '^POST /v2/fallback/blobs/uploads/ *$' "$PROXY_LOG" || die "a new upload session after the 202"
	expect_eq "$(sk inspect --tls-verify=false "docker://$REG/fallback:v1" | jq -r .Digest)" "$digest" \
		"digest skopeo sees"
}

# --compression-format and --compression-level: layers without a kept blob
# (pulled with --no-keep-blobs) and kept blobs of another compression are
# compressed anew, several at once; what skopeo and cstor pull back has the
# same layers (chain IDs, DiffIDs) in the compression asked for.
test_push_compression() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A B C K id digest z z1 zk g out mt
	A=$(t_store) K=$(t_store)
	id=$(cs "$A" vfs pull -q --no-keep-blobs "$REG/bb:v1")
	cs "$K" vfs pull -q "$REG/bb:v1" >/dev/null
	digest=$(sk inspect --tls-verify=false "docker://$REG/bb:v1" | jq -r .Digest)
	z=$(cs "$A" vfs push -q --compression-format zstd --compression-level 5 --parallel 2 "$REG/bb:v1" "$REG/z:v1" 2>"$T_TMP/push.err")
	grep -q "rewritten" "$T_TMP/push.err" || die "no word of a new digest: $(cat "$T_TMP/push.err")"
	expect_eq "$(sk inspect --tls-verify=false "docker://$REG/z:v1" | jq -r .Digest)" "$z" "digest skopeo sees"
	mt=$(sk inspect --raw --tls-verify=false "docker://$REG/z:v1" | jq -r '[.layers[].mediaType] | unique | join(",")')
	expect_eq "$mt" "application/vnd.oci.image.layer.v1.tar+zstd" "layer media types"
	for l in $(sk inspect --raw --tls-verify=false "docker://$REG/z:v1" | jq -r '.layers[].digest'); do
		expect_eq "$(curl -s "http://$REG/v2/z/blobs/$l" | head -c4 | od -An -tx1 | tr -d ' ')" 28b52ffd "zstd magic of $l"
	done
	# One thread gives the same blobs (the level is the level).
	z1=$(cs "$A" vfs push -q --compression-format zstd --compression-level 5 --parallel 1 "$REG/bb:v1" "$REG/z1:v1" 2>/dev/null)
	expect_eq "$z1" "$z" "digest with one thread"
	# Kept gzip blobs recompressed to zstd: the same blobs again.
	zk=$(cs "$K" vfs push -q --compression-format zstd --compression-level 5 "$REG/bb:v1" "$REG/zk:v1" 2>/dev/null)
	expect_eq "$zk" "$z" "digest from kept gzip blobs"
	# Kept gzip blobs asked for gzip: sent as they are.
	expect_eq "$(cs "$K" vfs push -q --compression-format gzip "$REG/bb:v1" "$REG/gk:v1")" "$digest" \
		"digest of kept gzip blobs pushed as gzip"
	# Pulled back by skopeo and by cstor: the same layers, zstd.
	B=$(t_store) C=$(t_store)
	sk copy -q --src-tls-verify=false "docker://$REG/z:v1" "$(csref "$B" vfs "$REG/z:v1")"
	expect_eq "$(cs "$C" vfs pull -q "$REG/z:v1")" "$id" "image ID cstor pulls"
	expect_eq "$(jq -r '.[0].id' "$B/g/vfs-images/images.json")" "$id" "image ID skopeo stores"
	diff <(layers_view "$B/g/vfs-layers/layers.json") <(layers_view "$C/g/vfs-layers/layers.json") ||
		die "the layers cstor and skopeo pull back differ"
	diff <(jq -S '[.[] | {id, "diff-digest", "diff-size"}] | sort_by(.id)' "$A/g/vfs-layers/layers.json") \
		<(jq -S '[.[] | {id, "diff-digest", "diff-size"}] | sort_by(.id)' "$C/g/vfs-layers/layers.json") ||
		die "the layers pulled back are not the pushed ones"
	expect_eq "$(jq -c '[.[].compression] | unique' "$C/g/vfs-layers/layers.json")" "[4]" "compression of the layers pulled back"
	# gzip at level 1, from layers with no kept blob (named elsewhere: no
	# repository of the registry to mount the level-6 blobs from).
	B=$(t_store)
	cs "$B" vfs pull -q --no-keep-blobs -n example.com/bb:v1 "$REG/bb:v1" >/dev/null
	g=$(cs "$B" vfs push -q --compression-format gzip --compression-level 1 example.com/bb:v1 "$REG/g1:v1" 2>/dev/null)
	mt=$(sk inspect --raw --tls-verify=false "docker://$REG/g1:v1" | jq -r '[.layers[].mediaType] | unique | join(",")')
	expect_eq "$mt" "application/vnd.oci.image.layer.v1.tar+gzip" "gzip layer media types"
	[ "$g" != "$digest" ] || die "level 1 gave the level-6 blobs"
	expect_eq "$(cs "$(t_store)" vfs pull -q "$REG/g1:v1")" "$id" "image ID of the gzip -1 push"
	# A Docker schema 2 image in zstd: converted to OCI (Docker has no
	# zstd type), pulled back the same.
	sk copy -q --format v2s2 --dest-tls-verify=false "oci:$IMG/gz:v1" "docker://$REG/d2:v1"
	B=$(t_store)
	cs "$B" vfs pull -q "$REG/d2:v1" >/dev/null
	cs "$B" vfs push -q --compression-format zstd "$REG/d2:v1" "$REG/d2z:v1" >/dev/null 2>&1
	expect_eq "$(sk inspect --raw --tls-verify=false "docker://$REG/d2z:v1" | jq -r '.mediaType + " " + ([.layers[].mediaType] | unique | join(","))')" \
		"application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.layer.v1.tar+zstd" "Docker image pushed as zstd"
	expect_eq "$(cs "$(t_store)" vfs pull -q "$REG/d2z:v1")" "$id" "image ID of the Docker image pushed as zstd"
	# Bad values, each named.
	out=$(cs "$A" vfs push -q --compression-format xz "$REG/bb:v1" "$REG/bad:v1" 2>&1) && die "took xz"
	[[ $out == *"compression-format"*"xz"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs push -q --compression-level 0 "$REG/bb:v1" "$REG/bad:v1" 2>&1) && die "took level 0"
	[[ $out == *"compression-level"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs push -q --compression-format gzip --compression-level 15 "$REG/bb:v1" "$REG/bad:v1" 2>&1) &&
		die "took gzip level 15"
	[[ $out == *"level 15"*"gzip"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs push -q --parallel 0 "$REG/bb:v1" "$REG/bad:v1" 2>&1) && die "took --parallel 0"
	[[ $out == *"parallel"* ]] || die "unclear error: $out"
	:
}

# A push killed while it uploads (its temporary layout in $TMPDIR) leaves
# the layout behind; the next push removes it, and never a live push's.
test_push_killed_tmpdir_removed() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A pid live i
	A=$(t_store)
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	start_proxy slowput
	mkdir -p "$T_TMP/tmp/cstor-push-notours" "$T_TMP/tmp/other"
	TMPDIR=$T_TMP/tmp "$CSTOR" -g "$A/g" -R "$A/r" -s vfs push -q "$REG/bb:v1" "$PROXY_REG/slow:v1" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 100); do
		grep -q '^PUT \|^PATCH ' "$PROXY_LOG" && break
		sleep 0.1
	done
	grep -q '^PUT \|^PATCH ' "$PROXY_LOG" || die "the push did not come to an upload"
	live=$(cd "$T_TMP/tmp" && ls -d cstor-push-?????? 2>/dev/null)
	[ -n "$live" ] && [ -d "$T_TMP/tmp/$live/layout" ] || die "no temporary layout while uploading: $(ls "$T_TMP/tmp")"
	# Another push (one that exports) leaves the live push's layout alone.
	TMPDIR=$T_TMP/tmp cs "$A" vfs push -q --compression-format zstd "$REG/bb:v1" "$REG/meanwhile:v1" >/dev/null
	[ -d "$T_TMP/tmp/$live/layout" ] || die "a live push's layout was removed"
	kill -9 $pid
	wait $pid 2>/dev/null || true
	[ -d "$T_TMP/tmp/$live" ] || die "the test proves nothing: no layout left by the kill"
	TMPDIR=$T_TMP/tmp cs "$A" vfs push -q --compression-format zstd "$REG/bb:v1" "$REG/after:v1" >/dev/null
	[ ! -e "$T_TMP/tmp/$live" ] || die "the killed push's layout is still there"
	expect_eq "$(cd "$T_TMP/tmp" && ls | sort | tr '\n' ' ')" "cstor-push-notours other " "what is left in TMPDIR"
}

# list-tags: what skopeo list-tags says, every page followed.
test_list_tags() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	local t out
	for t in v1 v2 v3 v4 v5; do push_image bb:$t; done
	expect_eq "$("$CSTOR" list-tags "docker://$REG/bb" | tr '\n' ' ')" \
		"$(sk list-tags --tls-verify=false "docker://$REG/bb" | jq -r '.Tags[]' | tr '\n' ' ')" "tags"
	expect_eq "$("$CSTOR" list-tags --json "$REG/bb:v2" | jq -cS .)" \
		"$(sk list-tags --tls-verify=false "docker://$REG/bb" | jq -cS .)" "--json"
	# Pages of two: three requests, the tags all there, in order.
	start_proxy pages
	expect_eq "$("$CSTOR" list-tags "$PROXY_REG/bb" | tr '\n' ' ')" "$("$CSTOR" list-tags "$REG/bb" | tr '\n' ' ')" \
		"tags in pages"
	expect_eq "$(grep -c '^GET /v2/bb/tags/list' "$PROXY_LOG")" 3 "pages asked for"
	out=$("$CSTOR" list-tags "$REG/nothere" 2>&1) && die "listed a repository that is not there"
	[[ $out == *"$REG/nothere"* ]] || die "unclear error: $out"
	start_proxy pageloop
	out=$("$CSTOR" list-tags "$PROXY_REG/bb" 2>&1) && die "followed a page loop"
	[[ $out == *"names itself"* ]] || die "unclear error: $out"
	:
}

# Ctrl-C while a push waits for the registry's answer to an upload: exit
# 130 at once, a message, its temporary layout removed, the tag not made.
test_ctrl_c_push() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A pid rc=0 t0
	A=$(t_store)
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	start_proxy slowput
	mkdir -p "$T_TMP/tmp-cancel"
	TMPDIR=$T_TMP/tmp-cancel "$CSTOR" -g "$A/g" -R "$A/r" -s vfs push -q "$REG/bb:v1" "$PROXY_REG/cancelled:v1" \
		>/dev/null 2>"$T_TMP/int.err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^PUT \|^PATCH ' "$PROXY_LOG" && break
		sleep 0.1
	done
	grep -q '^PUT \|^PATCH ' "$PROXY_LOG" || die "the push did not come to an upload"
	t0=$(date +%s%N)
	kill -INT $pid
	wait $pid || rc=$?
	expect_eq "$rc" 130 "exit status"
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] || die "the cancel waited for the registry"
	grep -q "push of $REG/bb:v1 to $PROXY_REG/cancelled:v1 cancelled" "$T_TMP/int.err" ||
		die "no message: $(cat "$T_TMP/int.err")"
	expect_eq "$(ls "$T_TMP/tmp-cancel")" "" "left in TMPDIR"
	! sk inspect --tls-verify=false "docker://$REG/cancelled:v1" >/dev/null 2>&1 || die "the tag was made"
}

test_push_needs_credentials() {
	need_registry; need_skopeo; need_busybox
	command -v htpasswd >/dev/null || skip "htpasswd (apache2-utils) is not installed"
	htpasswd -Bbc "$T_TMP/htpasswd" bob pw >/dev/null 2>&1
	start_registry plain
	push_image bb:v1
	local A out plain=$REG
	A=$(t_store)
	cs "$A" vfs pull -q "$REG/bb:v1" >/dev/null
	start_registry auth "auth:" "  htpasswd:" "    realm: test" "    path: $T_TMP/htpasswd"
	out=$(HOME=$T_TMP/nohome XDG_RUNTIME_DIR= cs "$A" vfs push -q "$plain/bb:v1" "$REG/bb:v1" 2>&1) &&
		die "pushed without credentials"
	[[ $out == *"401"* ]] || die "unclear error: $out"
	cs "$A" vfs push -q --creds bob:pw "$plain/bb:v1" "$REG/bb:v1" >/dev/null
	sk inspect --tls-verify=false --creds bob:pw "docker://$REG/bb:v1" >/dev/null
}

# The token flow: a 401 with a Bearer challenge, a token fetched from the
# realm with the credentials, for this repository's pull scope.
test_bearer_token() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy bearer
	local A out log=$PROXY_LOG
	A=$(t_store)
	out=$(HOME=$T_TMP/nohome XDG_RUNTIME_DIR= cs "$A" vfs pull -q "$PROXY_REG/bb:v1" 2>&1) &&
		die "pulled without a token"
	[[ $out == *"$PROXY_REG/bb"*"401"* ]] || die "unclear error: $out"
	cs "$A" vfs pull -q --creds carol:tok "$PROXY_REG/bb:v1" >/dev/null
	grep -q '^GET /token?scope=repository%3Abb%3Apull&service=regproxy' $log || die "no token asked for bb's pull scope"
	# A registry that wants a token for blobs only.
	start_proxy blobbearer
	A=$(t_store)
	out=$(HOME=$T_TMP/nohome XDG_RUNTIME_DIR= cs "$A" vfs pull -q "$PROXY_REG/bb:v1" 2>&1) &&
		die "pulled blobs without a token"
	[[ $out == *"$PROXY_REG/bb: blob sha256:"*"401"* ]] || die "unclear error: $out"
	expect_eq "$(jq 'length' "$A/g/vfs-layers/layers.json" 2>/dev/null || echo 0)" 0 "layers left"
	cs "$A" vfs pull -q --creds carol:tok "$PROXY_REG/bb:v1" >/dev/null
}

test_oversize_manifest_refused() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy bigmanifest
	local A out
	A=$(t_store)
	out=$(cs "$A" vfs pull -q "$PROXY_REG/bb:v1" 2>&1) && die "a 5 MiB manifest was accepted"
	[[ $out == *"$PROXY_REG/bb"*"over"* ]] || die "unclear error: $out"
}

# registries.conf ($CONTAINERS_REGISTRIES_CONF): mirrors tried in order
# (one down, then a pull-through cache: a second registry with
# proxy.remoteurl), falling back to the primary.
test_registries_conf_mirrors() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local primary=$REG A B conf=$T_TMP/registries.conf
	start_registry cache "proxy:" "  remoteurl: http://$primary"
	local cache=$REG
	cat >"$conf" <<-EOF
		[[registry]]
		prefix = "$primary"
		location = "$primary"
		[[registry.mirror]]
		location = "127.0.0.1:1"
		[[registry.mirror]]
		location = "$cache"
	EOF
	A=$(t_store) B=$(t_store)
	CONTAINERS_REGISTRIES_CONF=$conf cs "$A" vfs pull -q "$primary/bb:v1" >/dev/null
	[ "$(find "$T_TMP/reg-cache/data" -path '*/blobs/*' -name data | wc -l)" -ge 3 ] ||
		die "the pull did not go through the cache"
	cs "$B" vfs pull -q "$primary/bb:v1" >/dev/null
	diff <(images_view "$A/g/vfs-images/images.json") <(images_view "$B/g/vfs-images/images.json") ||
		die "through the mirror, other records"
	# Mirrors all down: the primary.
	cat >"$conf" <<-EOF
		[[registry]]
		prefix = "$primary"
		[[registry.mirror]]
		location = "127.0.0.1:1"
	EOF
	A=$(t_store)
	CONTAINERS_REGISTRIES_CONF=$conf cs "$A" vfs pull -q "$primary/bb:v1" >/dev/null
}

# Short names: aliases, then unqualified-search-registries in order; a
# blocked prefix is refused.
test_registries_conf_short_names() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	local A out conf=$T_TMP/registries.conf
	cat >"$conf" <<-EOF
		unqualified-search-registries = ["127.0.0.1:1", "$REG"]
		[aliases]
		"myalias" = "$REG/bb"
		[[registry]]
		prefix = "$REG/secret"
		blocked = true
	EOF
	export CONTAINERS_REGISTRIES_CONF=$conf
	A=$(t_store)
	cs "$A" vfs pull -q myalias:v1 >/dev/null
	expect_eq "$(jq -r '.[0].names[0]' "$A/g/vfs-images/images.json")" "$REG/bb:v1" "name from the alias"
	A=$(t_store)
	cs "$A" vfs pull -q bb:v1 >/dev/null
	expect_eq "$(jq -r '.[0].names[0]' "$A/g/vfs-images/images.json")" "$REG/bb:v1" "name from the search"
	out=$(cs "$A" vfs pull -q "$REG/secret:v1" 2>&1) && die "a blocked name pulled"
	[[ $out == *"blocked by registries.conf"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs push -q "$REG/bb:v1" "$REG/secret:v1" 2>&1) && die "pushed to a blocked name"
	[[ $out == *"blocked by registries.conf"* ]] || die "unclear error: $out"
	printf 'unqualified-search-registries = [\n' >"$conf"
	out=$(cs "$A" vfs pull -q bb:v1 2>&1) && die "pulled with a broken registries.conf"
	[[ $out == *"registries.conf"* ]] || die "unclear error: $out"
}

# A manifest list (two platforms, two manifests of the same layers: gzip
# and uncompressed): the host's platform by default, --platform, and the
# same records as skopeo's for each; an absent platform is a clear error.
# push_multi: a list of two images as $REG/multi:v1. amd64: the gzip test
# image; arm64: the same layers, one more (a file /arch), and a config of
# its own, so the two share layers and differ.
push_multi() {
	local L=$T_TMP/multi m c cfg man lay diff i
	mkimages
	rm -rf "$L"; cp -r "$IMG/gz" "$L"
	m=$(jq -r '.manifests[0].digest' "$L/index.json" | cut -d: -f2)
	c=$(jq -r .config.digest "$L/blobs/sha256/$m" | cut -d: -f2)
	mkdir -p "$L/x"; echo arm64 >"$L/x/arch"
	tar -C "$L/x" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 --format=gnu -cf "$L/l.tar" .
	diff=$(sha256sum "$L/l.tar" | cut -d' ' -f1)
	gzip -n "$L/l.tar"
	lay=$(sha256sum "$L/l.tar.gz" | cut -d' ' -f1)
	mv "$L/l.tar.gz" "$L/blobs/sha256/$lay"
	jq -c --arg d "sha256:$diff" '.architecture = "arm64" | .rootfs.diff_ids += [$d]' "$L/blobs/sha256/$c" >"$L/cfg"
	cfg=$(sha256sum "$L/cfg" | cut -d' ' -f1); mv "$L/cfg" "$L/blobs/sha256/$cfg"
	jq -c --arg c "sha256:$cfg" --argjson cs "$(stat -c %s "$L/blobs/sha256/$cfg")" \
		--arg l "sha256:$lay" --argjson ls "$(stat -c %s "$L/blobs/sha256/$lay")" \
		'.config.digest = $c | .config.size = $cs |
		 .layers += [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]' \
		"$L/blobs/sha256/$m" >"$L/man"
	man=$(sha256sum "$L/man" | cut -d' ' -f1); mv "$L/man" "$L/blobs/sha256/$man"
	jq -cn --arg a "sha256:$man" --argjson asz "$(stat -c %s "$L/blobs/sha256/$man")" \
		--argjson b "$(jq -c '.manifests[0] | {mediaType, digest, size}' "$IMG/gz/index.json")" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz,
			       platform: {architecture: "arm64", os: "linux"}},
			      ($b + {platform: {architecture: "amd64", os: "linux"}})]}' >"$L/idx"
	i=$(sha256sum "$L/idx" | cut -d' ' -f1)
	mv "$L/idx" "$L/blobs/sha256/$i"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s}]}' \
		"$i" "$(stat -c %s "$L/blobs/sha256/$i")" >"$L/index.json"
	sk copy -q --all --dest-tls-verify=false "oci:$L" "docker://$REG/multi:v1"
}

test_manifest_list_platforms() {
	need_registry; need_skopeo; need_busybox
	[ "$(uname -m)" = x86_64 ] || skip "the list made here has amd64 and arm64"
	start_registry plain
	local A B plain i out
	push_multi
	A=$(t_store) B=$(t_store)
	cs "$A" vfs pull -q "$REG/multi:v1" >/dev/null
	sk copy -q --src-tls-verify=false "docker://$REG/multi:v1" "$(csref "$B" vfs "$REG/multi:v1")"
	diff <(images_view "$A/g/vfs-images/images.json") <(images_view "$B/g/vfs-images/images.json") ||
		die "images.json differs from skopeo's"
	# The list as the registry has it (skopeo may have re-serialised it).
	i=$(sk inspect --raw --tls-verify=false "docker://$REG/multi:v1" | sha256sum | cut -d' ' -f1)
	sk inspect --raw --tls-verify=false "docker://$REG/multi:v1" | jq -e '.manifests | length == 2' >/dev/null ||
		die "the registry has no list"
	expect_eq "$(jq -r '.[0].digest' "$A/g/vfs-images/images.json")" "sha256:$i" "image digest is the list's"
	diff -r "$A/g/vfs-images" "$B/g/vfs-images" -x '*.lock' -x images.json -x '.spare-*' -x 'cstor-*.index' || die "big data differs"
	# The arm64 instance's digest, as the registry's list names it.
	plain=$(sk inspect --raw --tls-verify=false "docker://$REG/multi:v1" |
		jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest')
	A=$(t_store) B=$(t_store)
	cs "$A" vfs pull -q --platform linux/arm64 "$REG/multi:v1" >/dev/null
	sk --override-arch arm64 copy -q --src-tls-verify=false "docker://$REG/multi:v1" "$(csref "$B" vfs "$REG/multi:v1")"
	diff <(images_view "$A/g/vfs-images/images.json") <(images_view "$B/g/vfs-images/images.json") ||
		die "arm64: images.json differs from skopeo's"
	jq -e --arg d "$plain" 'any(.[0]."big-data-names"[]; . == "manifest-" + $d)' "$A/g/vfs-images/images.json" >/dev/null ||
		die "arm64: not the arm64 manifest"
	out=$(cs "$A" vfs pull -q --platform linux/s390x "$REG/multi:v1" 2>&1) && die "pulled an absent platform"
	[[ $out == *"$REG/multi"*"no image for linux/s390x"* ]] || die "unclear error: $out"
	out=$(cs "$A" vfs pull -q --platform s390x "$REG/multi:v1" 2>&1) && die "pulled a bad platform"
	[[ $out == *"OS/ARCH"* ]] || die "unclear error: $out"
}

# --all-platforms: every instance stored as skopeo stores that platform's
# (skopeo copy --all refuses containers-storage: as a destination, so
# skopeo is asked for each platform into a store of its own), the name on
# the host's, the others found by their digest.
test_all_platforms() {
	need_registry; need_skopeo; need_busybox
	[ "$(uname -m)" = x86_64 ] || skip "the list made here has amd64 and arm64"
	start_registry plain
	push_multi
	local A B arch id ids digest out before
	A=$(t_store)
	id=$(cs "$A" vfs pull -q --all-platforms "$REG/multi:v1")
	expect_eq "$(jq length "$A/g/vfs-images/images.json")" 2 "images stored"
	expect_eq "$(jq -r --arg id "$id" '.[] | select(.id == $id) | .names | join(",")' "$A/g/vfs-images/images.json")" \
		"$REG/multi:v1" "names of the host's instance"
	expect_eq "$(jq -r --arg id "$id" '[.[] | select(.id != $id) | .names // [] | length] | add' "$A/g/vfs-images/images.json")" \
		0 "names of the other instance"
	for arch in amd64 arm64; do
		B=$(t_store)
		sk --override-arch $arch copy -q --src-tls-verify=false "docker://$REG/multi:v1" "$(csref "$B" vfs "$REG/multi:v1")"
		id=$(jq -r '.[0].id' "$B/g/vfs-images/images.json")
		diff <(jq -S --arg id "$id" '[.[] | select(.id == $id) | del(.names, ."names-history")]' "$A/g/vfs-images/images.json") \
			<(jq -S '[.[] | del(.names, ."names-history")]' "$B/g/vfs-images/images.json") || die "$arch: image record differs from skopeo's"
		diff -r "$A/g/vfs-images/$id" "$B/g/vfs-images/$id" -x '*.lock' || die "$arch: big data differs"
		diff <(jq -S --slurpfile b "$B/g/vfs-layers/layers.json" '[.[] | select(.id as $i | $b[0] | any(.id == $i)) | del(.created) | del(."big-data-names")] | sort_by(.id)' "$A/g/vfs-layers/layers.json") \
			<(layers_view "$B/g/vfs-layers/layers.json") || die "$arch: layers differ from skopeo's"
		# The unnamed instance is found by its manifest's digest.
		digest=$(jq -r '.[0]."big-data-digests".manifest' "$B/g/vfs-images/images.json")
		expect_eq "$(cs "$A" vfs image --json "@$digest" | jq -r ".[0].id")" "$id" "$arch: image by its digest"
	done
	expect_eq "$(jq length "$A/g/vfs-layers/layers.json")" 3 "layers stored (two shared)"
	# Again: nothing new, same answer.
	before=$(records "$A")
	cs "$A" vfs pull -q --all-platforms "$REG/multi:v1" >/dev/null
	expect_eq "$(records "$A")" "$before" "records after a second pull"
	# A build attestation in the list (os "unknown", a layer that is no
	# tarball): passed over.
	local L=$T_TMP/multi att blob lst
	echo '{"_type":"https://in-toto.io/Statement/v0.1"}' >"$L/att"
	blob=$(sha256sum "$L/att" | cut -d' ' -f1); mv "$L/att" "$L/blobs/sha256/$blob"
	jq -c --arg b "sha256:$blob" --argjson bs "$(stat -c %s "$L/blobs/sha256/$blob")" \
		'.layers = [{mediaType: "application/vnd.in-toto+json", digest: $b, size: $bs}]' \
		"$L/blobs/sha256/$(jq -r '.manifests[0].digest' "$IMG/gz/index.json" | cut -d: -f2)" >"$L/att"
	att=$(sha256sum "$L/att" | cut -d' ' -f1); mv "$L/att" "$L/blobs/sha256/$att"
	lst=$(jq -r '.manifests[0].digest' "$L/index.json" | cut -d: -f2)
	jq -c --arg a "sha256:$att" --argjson asz "$(stat -c %s "$L/blobs/sha256/$att")" \
		'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz,
				 platform: {os: "unknown", architecture: "unknown"},
				 annotations: {"vnd.docker.reference.type": "attestation-manifest"}}]' \
		"$L/blobs/sha256/$lst" >"$L/idx"
	i=$(sha256sum "$L/idx" | cut -d' ' -f1); mv "$L/idx" "$L/blobs/sha256/$i"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s}]}' \
		"$i" "$(stat -c %s "$L/blobs/sha256/$i")" >"$L/index.json"
	sk copy -q --all --dest-tls-verify=false "oci:$L" "docker://$REG/multi:att"
	B=$(t_store)
	cs "$B" vfs pull -q --all-platforms "$REG/multi:att" >/dev/null
	expect_eq "$(jq length "$B/g/vfs-images/images.json")" 2 "images of a list with an attestation"
	# A reference to one image: that image, as without the flag.
	B=$(t_store)
	push_image bb:v1
	cs "$B" vfs pull -q --all-platforms "$REG/bb:v1" >/dev/null
	expect_eq "$(jq length "$B/g/vfs-images/images.json")" 1 "images of a single-image pull"
	out=$(cs "$B" vfs pull -q --all-platforms --platform linux/arm64 "$REG/multi:v1" 2>&1) &&
		die "took --platform with --all-platforms"
	[[ $out == *"platform"* ]] || die "unclear error: $out"
	:
}

# zstd layers, as skopeo pushes them with --dest-compress-format zstd
# (compression 4 in layers.json: containers/storage's archive.Zstd).
test_zstd_layers() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	mkimages
	sk copy -q --dest-tls-verify=false --dest-compress-format zstd "oci:$IMG/gz:v1" "docker://$REG/zst:v1"
	local A B id
	A=$(t_store) B=$(t_store)
	id=$(cs "$A" vfs pull -q "$REG/zst:v1")
	jq -e '[.[] | select(.compression == 4)] | length == 2' "$A/g/vfs-layers/layers.json" >/dev/null ||
		die "not zstd layers: $(jq -c '[.[].compression]' "$A/g/vfs-layers/layers.json")"
	sk copy -q --src-tls-verify=false "docker://$REG/zst:v1" "$(csref "$B" vfs "$REG/zst:v1")"
	diff <(images_view "$A/g/vfs-images/images.json") <(images_view "$B/g/vfs-images/images.json") ||
		die "images.json differs from skopeo's"
	diff <(layers_view "$A/g/vfs-layers/layers.json") <(layers_view "$B/g/vfs-layers/layers.json") ||
		die "layers.json differs from skopeo's"
}

test_redirect_loop() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy redirectloop
	local A out
	A=$(t_store)
	out=$(cs "$A" vfs pull -q "$PROXY_REG/bb:v1" 2>&1) && die "pulled through a redirect loop"
	[[ $out == *"$PROXY_REG/bb"*"redirect loop"* ]] || die "unclear error: $out"
}

# Layer blobs are downloaded several at once (--parallel, default 3), and
# one at a time with --parallel 1: seen by the slow proxy, which takes
# seconds to send the big base layer and no time for the small top one.
# At once, the top layer's GET comes before the base layer's answer ends
# (threads start in any order); one at a time, after.
test_parallel_downloads() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy slow
	local A B base top out
	base=$(sk inspect --raw --tls-verify=false "docker://$REG/bb:v1" | jq -r '.layers[0].digest')
	top=$(sk inspect --raw --tls-verify=false "docker://$REG/bb:v1" | jq -r '.layers[1].digest')
	overlap() { # 0 when the top layer's GET began before the base's answer ended
		local s e
		sleep 0.5
		s=$(grep -n "^GET /v2/bb/blobs/$top" "$PROXY_LOG" | head -1 | cut -d: -f1)
		e=$(grep -n "^END GET /v2/bb/blobs/$base" "$PROXY_LOG" | head -1 | cut -d: -f1)
		cat "$PROXY_LOG"
		[ -n "$s" ] && [ -n "$e" ] && [ "$s" -lt "$e" ]
	}
	A=$(t_store) B=$(t_store)
	cs "$A" vfs pull -q "$PROXY_REG/bb:v1" >/dev/null
	overlap || die "the layers were not downloaded at once"
	: >"$PROXY_LOG"
	cs "$B" vfs pull -q --parallel 1 "$PROXY_REG/bb:v1" >/dev/null
	! overlap || die "--parallel 1 downloaded two at once"
	diff <(layers_view "$A/g/vfs-layers/layers.json") <(layers_view "$B/g/vfs-layers/layers.json") ||
		die "other layers"
	out=$(cs "$B" vfs pull -q --parallel 0 "$PROXY_REG/bb:v1" 2>&1) && die "--parallel 0 accepted"
	[[ $out == *"--parallel"* ]] || die "unclear error: $out"
}

# The registry dies mid-blob: the pull gives up after its resumes with an
# error naming the blob, and the store is as it was (an image already in it
# intact, nothing of the pull left).
test_registry_killed_mid_blob() {
	need_registry; need_skopeo; need_busybox
	start_registry plain
	push_image bb:v1
	start_proxy slow
	local A lid before pid out rc=0
	A=$(t_store)
	lid=$(cs "$A" vfs create-layer)
	cs "$A" vfs create-image -n example.com/keep:v1 "$lid" >/dev/null
	before=$(jq -S . "$A/g/vfs-layers/layers.json" "$A/g/vfs-images/images.json" | sha256sum)
	cs "$A" vfs pull -q "$PROXY_REG/bb:v1" >"$T_TMP/pull.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ "$(jq length "$A/g/vfs-layers/layers.json")" -gt 1 ] && break
		sleep 0.1
	done
	sleep 0.3
	kill "$PROXY_PID"
	wait "$pid" || rc=$?
	out=$(cat "$T_TMP/pull.out")
	echo "$out"
	[ $rc != 0 ] || die "the pull succeeded without its registry"
	[[ $out == *"$PROXY_REG/bb: blob sha256:"* ]] || die "the error names no blob: $out"
	expect_eq "$(jq -S . "$A/g/vfs-layers/layers.json" "$A/g/vfs-images/images.json" | sha256sum)" "$before" \
		"records after the failed pull"
}

t_run test_pull_same_records_as_skopeo
t_run test_import_docker_transport
t_run test_404_tag_store_unchanged
t_run test_basic_auth
t_run test_tls_with_own_ca
t_run test_corrupt_blob_refused
t_run test_429_retried
t_run test_429_retry_after_date
t_run test_dropped_connection_resumed
t_run test_kill9_mid_layer_then_pull
t_run test_bad_references
t_run test_bearer_token
t_run test_oversize_manifest_refused
t_run test_push_same_digest
t_run test_push_chunked_and_skipped
t_run test_push_mount_fallback
t_run test_push_compression
t_run test_push_killed_tmpdir_removed
t_run test_ctrl_c_push
t_run test_list_tags
t_run test_push_needs_credentials
t_run test_registries_conf_mirrors
t_run test_registries_conf_short_names
t_run test_manifest_list_platforms
t_run test_all_platforms
t_run test_zstd_layers
t_run test_redirect_loop
t_run test_parallel_downloads
t_run test_registry_killed_mid_blob
t_run test_ctrl_c_mid_layer
t_end
