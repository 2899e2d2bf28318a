#!/bin/bash
# The CLI's own cost: each command's cost above starting a process that does
# nothing (/bin/true), on a small overlay store (one layer, one image), in
# the same run, interleaved (true, layers, images, exists, mount, unmount,
# true, ...), cstor and the Go CLI. Wall: median of RUNS; CPU (user + system
# of the process, from the shell's `times`): mean of RUNS.
#   bench/cli-cost.sh [RUNS]      (default: 300)
. "$(dirname "$0")/lib.sh"
RUNS=${1:-300}

# timed NAME CMD...: run once, append wall us to $D/NAME.wall and cpu ms to $D/NAME.cpu
timed() {
	local name=$1
	shift
	local c0 c1 t0 t1
	times >"$BENCH_TMP/times"
	c0=$(tail -1 "$BENCH_TMP/times")
	t0=$EPOCHREALTIME
	"$@" >/dev/null
	t1=$EPOCHREALTIME
	times >"$BENCH_TMP/times"
	c1=$(tail -1 "$BENCH_TMP/times")
	echo "$t0 $t1" >>"$D/$name.wall"
	echo "$c0 $c1" >>"$D/$name.cpu" # "XmY.YYYs XmY.YYYs" user, system
}

side() { # side NAME CLI: the interleaved runs of one implementation
	local name=$1 cli=$2
	D=$BENCH_TMP/$name.res
	mkdir -p "$D"
	local G="-g $BENCH_TMP/$name/g -R $BENCH_TMP/$name/r -s overlay"
	local l
	l=$($cli $G create-layer | head -1)
	$cli $G create-image --name img "$l" >/dev/null
	for _ in $(seq 1 "$RUNS"); do
		timed true /bin/true
		timed layers $cli $G layers
		timed images $cli $G images
		timed exists $cli $G exists img
		timed mount $cli $G mount "$l"
		timed unmount $cli $G unmount "$l"
	done
}

# stats NAME CMD: "wall_median_ms cpu_mean_ms"
stats() {
	local d=$BENCH_TMP/$1.res
	awk '{ print ($2 - $1) * 1000 }' "$d/$2.wall" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.3f ", v[int((NR + 1) / 2)] }'
	# "user0 sys0 user1 sys1", each "XmY.YYYs"
	awk 'function ms(x, b) { split(x, b, /[ms]/); return b[1] * 60000 + b[2] * 1000 }
		{ s += ms($3) + ms($4) - ms($1) - ms($2) } END { printf "%.3f\n", s / NR }' "$d/$2.cpu"
}

side cstor "$CSTOR"
side go "$GO_CS"
read -r ctw ctc < <(stats cstor true)
read -r gtw gtc < <(stats go true)
echo "$RUNS runs each, ms; above = the command minus /bin/true in the same side's run"
printf '%-9s %9s %9s %9s %9s   %9s %9s %9s %9s\n' command "cstor wall" above "cstor cpu" above \
	"Go wall" above "Go cpu" above
printf '%-9s %9s %9s %9s %9s   %9s %9s %9s %9s\n' /bin/true "$ctw" - "$ctc" - "$gtw" - "$gtc" -
for c in layers images exists mount unmount; do
	read -r cw cc < <(stats cstor "$c")
	read -r gw gc < <(stats go "$c")
	printf '%-9s %9s %9s %9s %9s   %9s %9s %9s %9s\n' "$c" \
		"$cw" "$(awk -v a="$cw" -v b="$ctw" 'BEGIN { printf "%.3f", a - b }')" \
		"$cc" "$(awk -v a="$cc" -v b="$ctc" 'BEGIN { printf "%.3f", a - b }')" \
		"$gw" "$(awk -v a="$gw" -v b="$gtw" 'BEGIN { printf "%.3f", a - b }')" \
		"$gc" "$(awk -v a="$gc" -v b="$gtc" 'BEGIN { printf "%.3f", a - b }')"
done
