#!/bin/bash
# Drivers are asked, never named: no code outside src/libcstor/drivers/
# compares anything with a driver's name (a capability or an op of the
# driver's table says what differs), and none names a driver's ops table
# (src/libcstor/drivers/registry.c is the only list of drivers).
#
# The scanner strips comments, then looks at every call of a string
# comparison (streq, strcmp, ...) and flags it when an argument is a
# driver-name literal ("overlay", "vfs", an alias, a Go driver name) or
# a driver's name as the store holds it (driver_ops->name,
# cstor_store_driver_name()); also initializers listing driver names and
# references to a driver's ops table. Messages and paths that merely
# mention a driver are not comparisons and pass. The scanner is checked on a
# planted tree first, so that it cannot silently find nothing.
. "$(dirname "$0")/../lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DRIVERS=$TOP/src/libcstor/drivers

# Driver names: every .name and alias of the ops tables, and the names of
# the registry's list of homes (Go drivers cstor does not have too).
driver_names() {
	{
		sed -n 's/^[[:space:]]*\.name = "\([^"]*\)".*/\1/p' "$DRIVERS"/*.c
		grep -h '_aliases\[\] = {' "$DRIVERS"/*.c | grep -o '"[^"]*"' | tr -d '"'
		grep -h 'prior_homes\[\] = {' "$DRIVERS"/registry.c | grep -o '"[^"]*"' | tr -d '"'
	} | sort -u
}

# scan DIR NAME... : prints "file: call" for each violation under DIR
# (C files), skipping DIR/libcstor/drivers.
scan() {
	local dir=$1; shift
	local names; names=$(IFS='|'; echo "$*")
	find "$dir" -name '*.[ch]' -not -path "$dir/libcstor/drivers/*" -print0 |
		xargs -0 -r perl -0777 -ne '
			BEGIN { $names = shift @ARGV }
			my $src = $_;
			# Comments out, string literals kept (a "/*" inside one
			# is not a comment).
			$src =~ s{("(?:[^"\\\n]|\\.)*")|//[^\n]*|/\*.*?\*/}{defined $1 ? $1 : " "}gse;
			while ($src =~ /\b(streq|streq_ptr|strcmp|strncmp|strcasecmp|strncasecmp|memcmp)\s*(\((?:[^()"]++|"(?:[^"\\]|\\.)*"|(?2))*\))/g) {
				my ($fn, $args) = ($1, $2);
				if ($args =~ /"(?:$names)"/ ||
				    $args =~ /driver_ops\s*->\s*name\b|cstor_store_driver_name\s*\(/) {
					(my $call = "$fn$args") =~ s/\s+/ /g;
					print "$ARGV: $call\n";
				}
			}
			# A list of drivers (an initializer holding a driver
			# name) or an ops table by its name: only the registry
			# lists drivers.
			while ($src =~ /=\s*(\{[^{};]*"(?:$names)"[^{};]*\})/g) {
				(my $init = $1) =~ s/\s+/ /g;
				print "$ARGV: lists drivers $init\n";
			}
			while ($src =~ /\b(cstor_driver_(?:$names))\b/g) {
				print "$ARGV: names the ops table $1\n";
			}
		' "$names"
}

test_scanner_finds_planted_comparisons() {
	local names; names=$(driver_names)
	echo "$names" | grep -qx overlay || die "no overlay among the driver names: $names"
	echo "$names" | grep -qx vfs || die "no vfs among the driver names: $names"
	local d; d=$(mktemp -d "$T_TMP/plant.XXXXXX")
	mkdir -p "$d/libcstor/transfer" "$d/libcstor/drivers" "$d/cli"
	cat >"$d/libcstor/transfer/bad.c" <<'EOF'
static int f(struct cstor_store *s, const char *n)
{
	if (streq(s->driver_ops->name,
		  "overlay"))
		return 1;
	if (strcmp(n, "vfs") == 0 || !strncmp(n, "overlay2", 8))
		return 2;
	if (streq_ptr(cstor_store_driver_name(s), other(n)))
		return 3;
	return s->driver_ops == &cstor_driver_vfs;
}
static const char *const known[] = { "overlay", "aufs",
				     "btrfs" };
EOF
	cat >"$d/cli/good.c" <<'EOF'
/* streq(name, "overlay") in a comment is fine */
static int g(const char *n)
{
	// strcmp(n, "vfs") neither
	log("the %s driver has no staging directories (overlay only)", "vfs");
	snprintf(p, sizeof(p), "%s/overlay/%s", a, b);
	if (streq(n, "overlayfs") || streq(n, "/*vfs*/"))
		return 1;
	return streq(n, "mountopt");
}
static const char *const keys[] = { "mountopt", "overlayfs" };
EOF
	# Inside drivers/ anything goes.
	echo 'int h(const char *n) { return streq(n, "overlay"); }' >"$d/libcstor/drivers/x.c"
	local out; out=$(scan "$d" $names)
	echo "$out"
	expect_eq "$(echo "$out" | grep -c 'bad\.c')" 6 "violations found in the planted file"
	echo "$out" | grep -q 'good\.c' && die "a message, path or comment was taken for a comparison"
	echo "$out" | grep -q 'drivers/x\.c' && die "drivers/ was scanned"
	echo "$out" | grep -q 'streq(s->driver_ops->name, "overlay")' || die "multi-line call missed"
	return 0
}

test_no_driver_names_outside_drivers() {
	local out; out=$(scan "$TOP/src" $(driver_names))
	[ -z "$out" ] || die "code outside src/libcstor/drivers/ decides by a driver's name:
$out"
}

t_begin
t_run test_scanner_finds_planted_comparisons
t_run test_no_driver_names_outside_drivers
t_end
