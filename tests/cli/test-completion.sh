#!/bin/bash
# Shell completion: bash, fish and zsh complete commands, flags, and the IDs
# and names of the layers, images and containers of the store the command
# line names (-g/-R/-s honoured), all through `cstor __complete`.
. "$(dirname "$0")/../lib.sh"

TOP=${CSTOR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
COMP=$TOP/completions

# A store with a layer, an image and a container, each named.
fill_store() {
	local G="-g $1/g -R $1/r -s vfs"
	"$CSTOR" $G create-layer -n baselayer >/dev/null
	"$CSTOR" $G create-image -n docker.io/library/busybox:latest baselayer >/dev/null
	"$CSTOR" $G create-container -n webbox docker.io/library/busybox:latest >/dev/null
}

# bash: complete_bash WORD... (the last is the word being completed).
complete_bash() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cstor; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$COMP/cstor.bash" "$CSTOR" "$@"
}

test_bash_commands_and_flags() {
	local out
	out=$(complete_bash ima)
	expect_eq "$(echo $out)" "image images images-by-digest" "commands"
	out=$(complete_bash layers --j)
	expect_eq "$out" "--json" "a command's flag"
	out=$(complete_bash --gr)
	expect_eq "$out" "--graph" "a global flag"
	out=$(complete_bash help impo)
	expect_eq "$(echo $out)" "import import-layer" "help COMMAND"
	out=$(complete_bash -s "")
	grep -qx vfs <<<"$out" && grep -qx overlay <<<"$out" || die "drivers: $out"
}

test_bash_objects_of_the_named_store() {
	local s; s=$(t_store)
	fill_store "$s"
	local lid iid cid
	lid=$("$CSTOR" -g "$s/g" -R "$s/r" -s vfs layer --json baselayer | jq -r ".[0].id")
	local out
	out=$(complete_bash -g "$s/g" -R "$s/r" -s vfs image "")
	grep -qx "docker.io/library/busybox:latest" <<<"$out" || die "image name: $out"
	grep -qx "webbox" <<<"$out" && die "a container offered for image: $out"
	out=$(complete_bash -g "$s/g" -R "$s/r" -s vfs layer ba)
	expect_eq "$out" "baselayer" "layer name by prefix"
	# The flags after the command name the store too.
	out=$(complete_bash container -g "$s/g" --run="$s/r" --storage-driver=vfs w)
	expect_eq "$out" "webbox" "container name, store flags after the command"
	out=$(complete_bash -g "$s/g" -R "$s/r" -s vfs delete "${lid:0:12}")
	expect_eq "$out" "$lid" "layer ID by prefix"
	# Paths where a command takes one.
	out=$(complete_bash import "$s/")
	grep -qx "$s/g" <<<"$out" || die "import completes paths: $out"
	# A store that does not exist offers nothing and is not created.
	out=$(complete_bash -g "$s/typo" -R "$s/r" -s vfs image "")
	expect_eq "$out" "" "nothing from a missing store"
	[ ! -e "$s/typo" ] || die "completion created $s/typo"
}

test_fish() {
	command -v fish >/dev/null || t_skip "fish is not installed" || return
	local s; s=$(t_store)
	fill_store "$s"
	local bin; bin=$(dirname "$CSTOR")
	local out
	out=$(PATH=$bin:$PATH fish -c "source $COMP/cstor.fish; complete -C 'cstor -g $s/g -R $s/r -s vfs image '")
	grep -q "^docker.io/library/busybox:latest" <<<"$out" || die "fish image names: $out"
	out=$(PATH=$bin:$PATH fish -c "source $COMP/cstor.fish; complete -C 'cstor lay'" | cut -f1)
	expect_eq "$(echo $out)" "layer layers layer-parent-owners" "fish commands"
}

test_zsh() {
	command -v zsh >/dev/null || t_skip "zsh is not installed" || return
	zsh -n "$COMP/_cstor" || die "zsh script does not parse"
	zmodload_ok=$(zsh -fc 'zmodload zsh/zpty && echo yes' 2>/dev/null)
	[ "$zmodload_ok" = yes ] || t_skip "zsh has no zpty module" || return
	local s; s=$(t_store)
	fill_store "$s"
	local bin; bin=$(dirname "$CSTOR")
	# A real interactive zsh in a pseudo-terminal: compinit, the script on
	# fpath, and the completion list of a TAB.
	local out
	out=$(PATH=$bin:$PATH timeout 30 zsh -f -c '
		zmodload zsh/zpty
		zpty z zsh -f -i
		zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; zstyle \":completion:*\" list-rows-first true; setopt nobeep; PS1=XX"
		zpty -w z "cstor -g $2/g -R $2/r -s vfs get-names webb	"
		sleep 2
		zpty -w z $'"'"'\003'"'"'
		zpty -r -t z out 2>/dev/null
		while zpty -r -t z line 2>/dev/null; do out+=$line; done
		print -r -- $out
		zpty -d z' _ "$COMP" "$s" 2>&1)
	grep -q "get-names webbox" <<<"$out" || die "zsh did not complete webbox: $(tail -c 400 <<<"$out")"
}

t_run test_bash_commands_and_flags
t_run test_bash_objects_of_the_named_store
t_run test_fish
t_run test_zsh
t_end
