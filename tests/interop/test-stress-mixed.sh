#!/bin/bash
# Concurrent writers from both implementations (issue 12): for a bounded
# time, many processes at once on one store, cstor and the Go
# containers-storage mixed, create and delete layers, images and containers,
# give names, import images sharing layers (cstor import; the Go CLI has no
# import, so it builds images with create-layer, applydiff, create-image),
# mount and unmount, and list. Every operation is logged with its outcome.
# Afterwards:
#   - no record lost or duplicated: what a worker created and did not delete
#     is there exactly once, with the names it gave; what it deleted is gone;
#   - no lock left held: every lock file in the store can be taken
#     exclusively at once (classic fcntl locks, which conflict with both
#     Go's POSIX locks and cstor's OFD locks: docs/formats.md §3);
#   - mount counts right: everything unmounted, mountpoints.json has no
#     count, nothing is mounted below the store but what the driver keeps;
#   - `cstor check` clean (t_run checks every store a test leaves);
#   - no listing ever failed for the objects made before the workers
#     started and never touched by them (the "layer not known" of
#     concurrent use).
# Operations that fail because another worker got there first (deleting a
# shared image someone deleted) are counted as expected, by reason.
# Failures of the Go CLI that are Go's own bugs would be classified
# "gobug:NAME", counted and named, not failed (docs/differences.md,
# "Concurrent use with containers-storage 1.43"; none seen so far); every
# other failure fails the test. cstor check runs among the workers too, and
# must find nothing.
#
# CSTOR_STRESS_SECONDS (default 40, split between the drivers) and
# CSTOR_STRESS_WORKERS (default 6) make it longer or wider.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MKIMG=$ROOT/scripts/mkimage-busybox
SECS=${CSTOR_STRESS_SECONDS:-40}
WORKERS=${CSTOR_STRESS_WORKERS:-6}
OP_TIMEOUT=${CSTOR_STRESS_OP_TIMEOUT:-120}

need() {
	have_go_cs || skip "containers-storage (Go CLI) is not installed"
	[ -x /bin/busybox ] || skip "busybox-static is not installed"
	command -v jq >/dev/null || skip "jq is not installed"
	command -v python3 >/dev/null || skip "python3 is not installed"
}

# Two OCI layouts with the same layers and different configs: imports of
# either share both layers.
IMG=$T_TMP/img
mkimages() {
	[ -d "$IMG/a" ] && return 0
	mkdir -p "$IMG"
	"$MKIMG" "$IMG/a" v1 >/dev/null
	cp -r "$IMG/a" "$IMG/b"
	local mf cfg cdig csz mdig
	mf=$(jq -r '.manifests[0].digest' "$IMG/b/index.json" | cut -d: -f2)
	cfg=$IMG/b/blobs/sha256/$(jq -r .config.digest "$IMG/b/blobs/sha256/$mf" | cut -d: -f2)
	jq -c '.config.Cmd=["/bin/echo","other"]' "$cfg" >"$IMG/cfg"
	rm "$cfg"
	cdig=$(sha256sum "$IMG/cfg" | cut -d' ' -f1)
	csz=$(stat -c %s "$IMG/cfg")
	mv "$IMG/cfg" "$IMG/b/blobs/sha256/$cdig"
	jq -c --arg d "sha256:$cdig" --argjson s "$csz" '.config.digest=$d | .config.size=$s' \
		"$IMG/b/blobs/sha256/$mf" >"$IMG/m"
	mdig=$(sha256sum "$IMG/m" | cut -d' ' -f1)
	mv "$IMG/m" "$IMG/b/blobs/sha256/$mdig"
	jq -c --arg d "sha256:$mdig" --argjson s "$(stat -c %s "$IMG/b/blobs/sha256/$mdig")" \
		'.manifests[0].digest=$d | .manifests[0].size=$s' "$IMG/b/index.json" >"$IMG/i"
	mv "$IMG/i" "$IMG/b/index.json"
	# A small layer tarball for the Go side's "imports".
	mkdir -p "$IMG/tree/etc"
	echo "from go" >"$IMG/tree/etc/go-file"
	tar -C "$IMG/tree" -cf "$IMG/layer.tar" .
}

# ---- one worker ----------------------------------------------------------

# Why an operation failed, from its stderr: "expected:<reason>" when
# another worker's doing explains it, "gobug:<name>" for a known Go bug,
# else "FAIL:<first line>".
classify() { # OP IMPL ERRFILE
	local op=$1 impl=$2 f=$3
	# A worker deletes only what it has not mounted, and shared images'
	# layers are never mounted by workers: a layer mounted at a delete is
	# one a concurrent full `cstor check` holds while it walks its files
	# (a process-bound hold). A leaked mount count would still fail the
	# checks after the run.
	case $op in
	delete-layer|delete-image|delete-container|delete-shared-image)
		grep -Eq 'is mounted \([0-9]+ times\)' "$f" && { echo expected:held-by-check; return; }
		;;
	esac
	case $op in
	add-shared-name)
		grep -Eqi 'already in use' "$f" && { echo expected:name-in-use; return; }
		;;
	delete-shared-image)
		grep -Eqi 'image not known|not known|no such image|identifier is not an image' "$f" && { echo expected:already-deleted; return; }
		grep -Eqi 'in use by (a )?container|being used|used by container' "$f" && { echo expected:in-use; return; }
		;;
	create-container-shared)
		grep -Eqi 'image not known|not known|no such image|identifier is not an image' "$f" && { echo expected:image-deleted; return; }
		;;
	esac
	echo "FAIL:$(head -c 300 "$f" | tr '\n' ' ')"
}

# Runs one operation: logs "w OP IMPL CLASS" (and stderr on failure);
# stdout goes to $W/out. Returns 0 on success.
run() { # OP IMPL CMD...
	local op=$1 impl=$2 rc=0; shift 2
	local bin=$CSTOR
	[ "$impl" = go ] && bin=$GO_CS
	timeout -k 5 "$OP_TIMEOUT" "$bin" $GOPTS "$@" >"$W/out" 2>"$W/err" </dev/null || rc=$?
	if [ $rc -eq 0 ]; then
		echo "$WID $op $impl ok $*" >>"$W/log"
		return 0
	fi
	local cls
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		cls="FAIL:hang(over ${OP_TIMEOUT}s)"
	elif [ $rc -gt 128 ]; then
		cls="FAIL:killed(rc=$rc)"
	else
		cls=$(classify "$op" "$impl" "$W/err")
	fi
	echo "$WID $op $impl ${cls// /_} $*" >>"$W/log"
	{ echo "== $WID $op $impl rc=$rc: $*"; cat "$W/err"; [ "$op" != check ] || cat "$W/out"; } >>"$W/errors"
	return 1
}

impl() { if [ $((RANDOM % 2)) = 0 ]; then echo cstor; else echo go; fi; }
pick() { local a=("$@"); [ ${#a[@]} -gt 0 ] && echo "${a[RANDOM % ${#a[@]}]}"; }
# First line of a create's output is the ID (Go's create-container has no
# trailing newline).
first_id() { head -n 1 "$W/out" | tr -d '[:space:]'; }

# Objects of this worker: kind, names (the expected set), what depends on
# them; kept in memory and written out as CREATED/DELETED/NAMES lines.
declare -A KIND NAMES DEPS MOUNTS TOPOF IMGOF ISTOP
SEQ=0
# newname VAR PREFIX: a name no other worker or turn uses (not in a
# subshell, so that the counter counts).
newname() { SEQ=$((SEQ + 1)); printf -v "$1" '%s' "$WID-$2$SEQ"; }
created() { KIND[$1]=$2; NAMES[$1]=$3; DEPS[$1]=0; echo "CREATED $2 $1 $3" >>"$W/objects"; }
deleted() { echo "DELETED ${KIND[$1]} $1" >>"$W/objects"; unset "KIND[$1]" "NAMES[$1]" "DEPS[$1]" "MOUNTS[$1]" "CHOLDS[$1]" "GHOLDS[$1]"; }
of_kind() { local k; for k in "${!KIND[@]}"; do [ "${KIND[$k]}" = "$1" ] && echo "$k"; done; }
# Layers that are not an image's top (those only go with their image).
plain_layers() { local k; for k in $(of_kind layer); do [ -z "${ISTOP[$k]:-}" ] && echo "$k"; done; }
free_of_kind() { local k; for k in "${!KIND[@]}"; do [ "${KIND[$k]}" = "$1" ] && [ "${DEPS[$k]}" = 0 ] && [ -z "${MOUNTS[$k]:-}" ] && echo "$k"; done; }

op_create_layer() {
	local i n parent=""
	i=$(impl); newname n l
	case $((RANDOM % 3)) in
	0) parent=$LL_BASE ;;
	1) parent=$(pick $(plain_layers) "") ;;
	esac
	run create-layer "$i" create-layer -n "$n" $parent || return 0
	local id; id=$(first_id)
	created "$id" layer "$n"
	[ -z "$parent" ] || [ "$parent" = "$LL_BASE" ] || DEPS[$parent]=$((DEPS[$parent] + 1))
	[ -z "$parent" ] || [ "$parent" = "$LL_BASE" ] || TOPOF[$id]=$parent
}

op_delete_layer() {
	local id; id=$(pick $(free_of_kind layer)) || return 0
	run delete-layer "$(impl)" delete-layer "$id" || return 0
	local p=${TOPOF[$id]:-}
	[ -z "$p" ] || DEPS[$p]=$((DEPS[$p] - 1))
	unset "TOPOF[$id]"
	deleted "$id"
}

# An image on a layer of its own, on the long-lived base or on nothing, so
# that deleting the image deletes exactly that layer (the base is pinned by
# the long-lived image): a worker knows what delete-image removes.
# Half of them get a diff applied first: the Go side's import.
op_create_image() {
	local i n ln parent=""
	i=$(impl); newname n i; newname ln t
	[ $((RANDOM % 2)) = 0 ] && parent=$LL_BASE
	run create-layer "$i" create-layer -n "$ln" $parent || return 0
	local lid; lid=$(first_id)
	created "$lid" layer "$ln"
	if [ $((RANDOM % 2)) = 0 ]; then
		run applydiff "$(impl)" applydiff -f "$IMG/layer.tar" "$lid" || return 0
	fi
	run create-image "$(impl)" create-image -n "$n" "$lid" || return 0
	local id; id=$(first_id)
	created "$id" image "$n"
	DEPS[$lid]=1
	ISTOP[$lid]=1
	IMGOF[$id]=$lid
}

op_delete_image() {
	local id; id=$(pick $(free_of_kind image)) || return 0
	# Not while its layer is mounted (that is a refusal, not a race).
	[ -z "${MOUNTS[${IMGOF[$id]}]:-}" ] || return 0
	run delete-image "$(impl)" delete-image "$id" || return 0
	local lid=${IMGOF[$id]}
	deleted "$id"
	# Its layer went with it (nothing else used it).
	deleted "$lid"
	unset "IMGOF[$id]" "ISTOP[$lid]"
}

op_create_container() {
	local img n
	img=$(pick $(of_kind image) "$LL_IMG")
	newname n c
	run create-container "$(impl)" create-container -n "$n" "$img" || return 0
	local id; id=$(first_id)
	created "$id" container "$n"
	[ "$img" = "$LL_IMG" ] || DEPS[$img]=$((DEPS[$img] + 1))
	IMGOF[$id]=$img
}

op_delete_container() {
	local id; id=$(pick $(free_of_kind container)) || return 0
	run delete-container "$(impl)" delete-container "$id" || return 0
	local img=${IMGOF[$id]}
	[ "$img" = "$LL_IMG" ] || [ -z "${KIND[$img]:-}" ] || DEPS[$img]=$((DEPS[$img] - 1))
	unset "IMGOF[$id]"
	deleted "$id"
}

# A name from a small pool all workers use, added to one of ours: names are
# unique per kind, so workers take them from each other (images and layers:
# the name moves; containers: refused). Not counted as the object's own.
op_shared_name() {
	local id; id=$(pick "${!KIND[@]}") || return 0
	run add-shared-name "$(impl)" add-names -n "shared-name-$((RANDOM % 3))" "$id" || true
}

op_names() {
	local id n; id=$(pick "${!KIND[@]}") || return 0
	newname n x
	if [ $((RANDOM % 2)) = 0 ]; then
		run add-names "$(impl)" add-names -n "$n" "$id" || return 0
		NAMES[$id]="${NAMES[$id]} $n"
	else
		run set-names "$(impl)" set-names -n "$n" "$id" || return 0
		NAMES[$id]=$n
	fi
	echo "NAMES $id ${NAMES[$id]}" >>"$W/objects"
}

# Mount a layer or container of ours and unmount it, each step by either
# implementation; sometimes it stays mounted until a later turn. A Go
# unmount releases a Go hold only: a cstor mount is a persistent hold that
# only cstor's unmount releases (docs/mounts.md, "Holders"; a Go unmount of
# it is undone), while cstor's unmount releases its own holds first, then
# Go's.
declare -A CHOLDS GHOLDS
unmount_one() { # ID
	local id=$1 i
	i=$(impl)
	[ "${GHOLDS[$id]:-0}" -gt 0 ] || i=cstor
	run unmount "$i" unmount "$id" || return 1
	if [ "$i" = go ]; then
		GHOLDS[$id]=$((GHOLDS[$id] - 1))
	elif [ "${CHOLDS[$id]:-0}" -gt 0 ]; then
		CHOLDS[$id]=$((CHOLDS[$id] - 1))
	else
		GHOLDS[$id]=$((GHOLDS[$id] - 1))
	fi
	MOUNTS[$id]=$((MOUNTS[$id] - 1))
	[ "${MOUNTS[$id]}" != 0 ] || unset "MOUNTS[$id]" "CHOLDS[$id]" "GHOLDS[$id]"
}

# A third of the time it is the long-lived layer every worker mounts, so
# that holds of both implementations on one layer come and go at once
# (each worker releases only as many as it took, and the count must end at
# zero).
op_mount() {
	local id i; id=$(pick $(of_kind layer) $(of_kind container)) || id=$LL_MNT
	[ $((RANDOM % 3)) != 0 ] || id=$LL_MNT
	if [ -n "${MOUNTS[$id]:-}" ] && [ $((RANDOM % 2)) = 0 ]; then
		unmount_one "$id"
		return 0
	fi
	i=$(impl)
	run mount "$i" mount "$id" || return 0
	MOUNTS[$id]=$((${MOUNTS[$id]:-0} + 1))
	if [ "$i" = go ]; then
		GHOLDS[$id]=$((${GHOLDS[$id]:-0} + 1))
	else
		CHOLDS[$id]=$((${CHOLDS[$id]:-0} + 1))
	fi
	[ $((RANDOM % 2)) = 0 ] || return 0
	unmount_one "$id"
}

# Imports of the two shared images; every worker may delete them, so their
# records are not counted, only the operations' outcomes. A container of
# one is ours once made.
op_import() {
	local which n; which=$(pick a b); SEQ=$((SEQ + 1)); n=localhost/$WID-imp$SEQ:latest
	run import cstor import -q -n "$n" "oci:$IMG/$which:v1" || return 0
	case $((RANDOM % 3)) in
	0) run delete-shared-image "$(impl)" delete-image "$n" || true ;;
	1)
		local cn; newname cn c
		run create-container-shared "$(impl)" create-container -n "$cn" "$n" || return 0
		local id; id=$(first_id)
		created "$id" container "$cn"
		IMGOF[$id]=$LL_IMG # not ours to count
		;;
	esac
}

op_delete_shared() {
	run delete-shared-image "$(impl)" delete-image "$(pick localhost/shared-a:latest localhost/shared-b:latest)" || true
}

# Listings, and lookups of the long-lived objects: these must always work.
op_list() {
	local i; i=$(impl)
	case $((RANDOM % 8)) in
	0) run list-layers "$i" layers && { grep -q "^$LL_BASE" "$W/out" || echo "$WID list-layers $i FAIL:long-lived-layer-missing" >>"$W/log"; } ;;
	1) run list-images "$i" images && { grep -q "^$LL_IMG" "$W/out" || echo "$WID list-images $i FAIL:long-lived-image-missing" >>"$W/log"; } ;;
	2) run list-containers "$i" containers && { grep -q "^$LL_CTR" "$W/out" || echo "$WID list-containers $i FAIL:long-lived-container-missing" >>"$W/log"; } ;;
	3) run image "$i" image ll-img ;;
	4) run exists "$i" exists ll-base ll-img ll-ctr ;;
	5) run layer "$i" layer ll-base ;;
	6) run container "$i" container ll-ctr ;;
	7) run list-layers-json "$i" layers --json && { jq -e --arg i "$LL_BASE" 'any(.[]; .id == $i)' "$W/out" >/dev/null || echo "$WID list-layers-json $i FAIL:long-lived-layer-missing" >>"$W/log"; } ;;
	esac
}

# cstor check while the others write: what it reports must be a problem of
# the store, never an object made or deleted during the check (it holds no
# lock across its long steps, docs/check.md). Go has no check.
op_check() {
	local q=; [ $((RANDOM % 2)) = 0 ] && q=-q
	run check cstor check $q || true
}

worker() { # ID END
	set +e
	WID=w$1
	W=$STRESS/$WID
	mkdir -p "$W"
	: >"$W/log"; : >"$W/objects"
	RANDOM=$(( $1 * 7919 + $$ ))
	while [ "$(date +%s)" -lt "$2" ]; do
		case $((RANDOM % 20)) in
		0|1|2) op_create_layer ;;
		3|4) op_delete_layer ;;
		5|6) op_create_image ;;
		7) op_delete_image ;;
		8) op_create_container ;;
		9) op_delete_container ;;
		10) if [ $((RANDOM % 3)) = 0 ]; then op_shared_name; else op_names; fi ;;
		11|12) op_mount ;;
		13) op_import ;;
		14) op_delete_shared ;;
		15) [ $((RANDOM % 4)) = 0 ] && op_check ;;
		*) op_list ;;
		esac
	done
	# Everything this worker mounted is unmounted again.
	local id k
	for id in "${!MOUNTS[@]}"; do
		for ((k = MOUNTS[$id]; k > 0; k--)); do
			unmount_one "$id" || break
		done
	done
	# The names it meant each object to have.
	for id in "${!KIND[@]}"; do echo "FINAL ${KIND[$id]} $id ${NAMES[$id]}"; done >>"$W/objects"
}

# ---- the run and its verdict -------------------------------------------

# Each object a worker made and did not delete is listed once, with the
# names the worker gave it; each one it deleted is gone; no record file
# holds an ID twice.
records_right() { # OBJECTS LISTDIR LAYERS.json IMAGES.json CONTAINERS.json
	python3 - "$@" <<'PY'
import json, sys
objects, listdir = sys.argv[1], sys.argv[2]
bad = 0
listed = {k: json.load(open(f"{listdir}/{k}s.json")) for k in ("layer", "image", "container")}
final, deleted = {}, []
for line in open(objects):
    f = line.split()
    if f[0] == "FINAL":
        final[f[2]] = (f[1], sorted(f[3:]))
    elif f[0] == "DELETED":
        deleted.append((f[1], f[2]))
for oid, (kind, names) in final.items():
    recs = [r for r in listed[kind] if r["id"] == oid]
    if len(recs) != 1:
        print(f"FAIL: {kind} {oid} (made by a worker, not deleted) is there {len(recs)} times"); bad += 1
    else:
        have = sorted(n for n in recs[0].get("names") or [] if not n.startswith("shared-name-"))
        if have != names:
            print(f"FAIL: {kind} {oid} has names {have}, want {names}"); bad += 1
for kind, oid in deleted:
    if oid not in final and any(r["id"] == oid for r in listed[kind]):
        print(f"FAIL: {kind} {oid} was deleted but is still there"); bad += 1
for path in sys.argv[3:]:
    try:
        ids = [r["id"] for r in json.load(open(path))]
    except FileNotFoundError:
        continue
    dups = {i for i in ids if ids.count(i) > 1}
    if dups:
        print(f"FAIL: {path} holds {sorted(dups)} more than once"); bad += 1
# A name belongs to one object of a kind at most (the shared names were
# taken from each other all along).
for kind, recs in listed.items():
    seen = {}
    for r in recs:
        for n in r.get("names") or []:
            if n in seen:
                print(f"FAIL: {kind} name {n} is on {seen[n]} and {r['id']}"); bad += 1
            seen[n] = r["id"]
print(f"records checked: {len(final)} objects kept, {len(deleted)} deleted")
sys.exit(1 if bad else 0)
PY
}

# Can every lock file of the store be locked exclusively right now?
locks_free() { # DIR...
	python3 - "$@" <<'PY'
import fcntl, os, sys
bad = 0
n = 0
for top in sys.argv[1:]:
    for d, _, files in os.walk(top):
        for f in files:
            if not f.endswith(".lock"):
                continue
            p = os.path.join(d, f)
            n += 1
            try:
                fd = os.open(p, os.O_RDWR)
            except OSError as e:
                print("cannot open", p, e); bad += 1; continue
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                print("lock still held:", p); bad += 1
            os.close(fd)
print("lock files checked:", n)
sys.exit(1 if bad else 0)
PY
}

stress() { # DRIVER SECONDS
	set +e
	local d=$1 secs=$2 s
	s=$(t_store)
	GOPTS="-g $s/g -R $s/r -s $d"
	STRESS=$s/w
	mkdir -p "$STRESS"
	cs() { "$CSTOR" $GOPTS "$@"; }
	gcs() { "$GO_CS" $GOPTS "$@"; }
	# The long-lived objects, one of each kind, made by each side.
	LL_BASE=$(gcs create-layer -n ll-base | head -n 1)
	LL_IMG=$(cs create-image -n ll-img "$LL_BASE" | head -n 1)
	LL_CTR=$(gcs create-container -n ll-ctr ll-img | head -n 1 | tr -d '[:space:]')
	LL_MNT=$(cs create-layer -n ll-mnt "$LL_BASE" | head -n 1)
	cs import -q -n localhost/shared-a "oci:$IMG/a:v1" >/dev/null
	cs import -q -n localhost/shared-b "oci:$IMG/b:v1" >/dev/null
	export LL_BASE LL_IMG LL_CTR LL_MNT
	local end=$(($(date +%s) + secs)) pids=() w
	for ((w = 1; w <= WORKERS; w++)); do
		worker "$w" "$end" &
		pids+=($!)
	done
	for w in "${pids[@]}"; do wait "$w"; done
	cat "$STRESS"/*/log >"$STRESS/all.log"
	cat "$STRESS"/*/objects >"$STRESS/all.objects"

	# The counts, also as TAP comments of a passing run (fd 3).
	{
		echo "== $d: $(wc -l <"$STRESS/all.log") operations by $WORKERS workers in ${secs}s"
		awk '{ split($4, c, ":"); k = $2 " " $3 " " c[1]; if (c[1] != "ok") k = k ":" c[2]; n[k]++ }
		     END { for (k in n) printf "  %-45s %d\n", k, n[k] }' "$STRESS/all.log" | sort
		echo "  errors by kind:"
		awk '$4 != "ok" { split($4, c, ":"); n[c[1] ":" c[2]]++ }
		     END { for (k in n) printf "    %-43s %d\n", k, n[k] }' "$STRESS/all.log" | sort
	} | tee >(sed 's/^/# /' >&3)
	local rc=0
	local gobugs fails
	gobugs=$(grep -c ' gobug:' "$STRESS/all.log" || true)
	[ "$gobugs" = 0 ] || echo "Go CLI bugs seen (docs/differences.md): $(grep -o 'gobug:[^ ]*' "$STRESS/all.log" | sort | uniq -c | tr '\n' ' ')"
	fails=$(grep ' FAIL:' "$STRESS/all.log" || true)
	if [ -n "$fails" ]; then
		echo "$fails" | head -20
		# What each failed operation said (not the expected errors).
		echo "$fails" | head -20 | while read -r w op tool _; do
			grep -h -A8 "^== $w $op $tool rc=" "$STRESS"/*/errors 2>/dev/null | head -24
		done
		echo "FAIL: $(echo "$fails" | wc -l) operations failed"
		rc=1
	fi

	# Records: each FINAL object exists once, with its names; each
	# DELETED one is gone.
	cs layers --json >"$s/layers.json"
	cs images --json >"$s/images.json"
	cs containers --json >"$s/containers.json"
	local out
	out=$(records_right "$STRESS/all.objects" "$s" "$s/g/$d-layers/layers.json" \
		"$s/g/$d-images/images.json" "$s/g/$d-containers/containers.json") || rc=1
	echo "$out"
	echo "$out" | grep '^records checked' | sed 's/^/#   /' >&3
	local id have
	for id in "$LL_BASE" "$LL_IMG" "$LL_CTR" "$LL_MNT"; do
		cs exists "$id" >/dev/null || { echo "FAIL: long-lived $id is gone"; rc=1; }
	done
	# Both implementations list the same layers.
	expect_eq "$(gcs layers --json | jq -c '[.[].id] | sort')" \
		"$(jq -c '[.[].id] | sort' "$s/layers.json")" "layers as Go lists them" || rc=1
	expect_eq "$(gcs images --json | jq -c '[.[].id] | sort')" \
		"$(jq -c '[.[].id] | sort' "$s/images.json")" "images as Go lists them" || rc=1

	# Mounts: all unmounted.
	local mp=$s/r/$d-layers/mountpoints.json
	if [ -s "$mp" ]; then
		have=$(jq '[.[] | select(.count > 0)] | length' "$mp")
		[ "$have" = 0 ] || { echo "FAIL: mountpoints.json still counts mounts:"; cat "$mp"; rc=1; }
	fi
	local left
	left=$(awk -v g="$s/g/" 'index($5, g) == 1 {print $5}' /proc/self/mountinfo |
		grep -v "^$s/g/$d\$" || true)
	[ -z "$left" ] || { echo "FAIL: still mounted: $left"; rc=1; }
	for id in $(jq -r '.[].id' "$s/layers.json"); do
		[ -z "$(cs mounted "$id")" ] || { echo "FAIL: layer $id still mounted"; rc=1; }
	done

	# Locks: none left held.
	out=$(locks_free "$s/g" "$s/r") || rc=1
	echo "$out"
	echo "$out" | grep '^lock files checked' | sed 's/^/#   /' >&3

	cs check >"$s/check.out" 2>&1 || { echo "FAIL: cstor check:"; cat "$s/check.out"; rc=1; }
	# CSTOR_STRESS_KEEP=DIR keeps the logs of the run there.
	[ -z "${CSTOR_STRESS_KEEP:-}" ] || { mkdir -p "$CSTOR_STRESS_KEEP/$d"; cp -r "$STRESS"/. "$s"/*.json "$CSTOR_STRESS_KEEP/$d/"; cp -r "$s/r" "$CSTOR_STRESS_KEEP/$d/run"; }
	return $rc
}

test_stress_vfs() {
	need; mkimages
	stress vfs $(( (SECS + 1) / 2 ))
}

test_stress_overlay() {
	need; t_need_overlay; mkimages
	stress overlay $((SECS / 2))
}

exec 3>&1
t_begin
t_run test_stress_vfs
t_run test_stress_overlay
t_end
