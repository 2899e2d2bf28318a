#!/bin/sh
# Build the man pages: the command pages and cstor(1) from the command table
# (`cstor __man`), the others from docs/man/*.scd. Usage:
# gen-man.sh CSTOR SCDOC SRCDIR OUTDIR STAMP
set -eu
cstor=$1 scdoc=$2 src=$3 out=$4 stamp=$5
mkdir -p "$out"
rm -f "$out"/*.[0-9]
for page in $("$cstor" __man); do
	"$cstor" __man "$page" | "$scdoc" > "$out/$page.tmp"
	mv "$out/$page.tmp" "$out/$page"
done
for scd in "$src"/*.scd; do
	page=$(basename "$scd" .scd)
	"$scdoc" < "$scd" > "$out/$page.tmp"
	mv "$out/$page.tmp" "$out/$page"
done
touch "$stamp"
