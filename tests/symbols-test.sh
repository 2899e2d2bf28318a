#!/bin/bash
# The library exports exactly the symbols listed in libcstor.sym, each is
# declared in a public header, and each public header compiles on its own as
# C and as C++ with -pedantic.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
lib=$(ls "$B"/src/libcstor/libcstor.so.*.*.* | head -1)
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n '/global:/,/local:/p' src/libcstor/libcstor.sym | grep -o 'cstor_[a-z0-9_]*' | sort -u)
if [ "$exported" != "$listed" ]; then
	echo "exported vs listed differ:"; diff <(echo "$exported") <(echo "$listed"); exit 1
fi
# Every public declaration is exported.
declared=$(grep -ho 'CSTOR_PUBLIC[^;(]*cstor_[a-z0-9_]*(' include/cstor/*.h | grep -o 'cstor_[a-z0-9_]*($' | tr -d '(' | sort -u)
if [ "$declared" != "$listed" ]; then
	echo "declared in include/cstor vs listed in libcstor.sym:"; diff <(echo "$declared") <(echo "$listed"); exit 1
fi
for s in $listed; do
	grep -q "\b$s(" include/cstor/*.h || { echo "$s is not declared in include/cstor"; exit 1; }
done
for h in include/cstor/*.h; do
	# The typedef keeps a macro-only header from being an empty unit.
	src="#include <cstor/$(basename "$h")>
typedef int cstor_header_check;"
	echo "$src" | cc -x c -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only -
	if command -v g++ >/dev/null; then
		echo "$src" | g++ -x c++ -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only -
	fi
done
