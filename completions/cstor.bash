# bash completion for cstor. The candidates (commands, flags, and the IDs and
# names of the layers, images and containers of the store the command line
# names) come from `cstor __complete`, which reads cstor's command table.
_cstor() {
	local cur words cword
	if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
		# "--graph=/x" and "image:tag" stay one word.
		_get_comp_words_by_ref -n =: cur words cword
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${COMP_WORDS[COMP_CWORD]}
	fi
	local out IFS=$'\n'
	out=$("${words[0]}" __complete "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
	case $out in
	:file)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	:dir)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		;;
	*)
		COMPREPLY=($out)
		if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
			__ltrim_colon_completions "$cur"
		fi
		;;
	esac
}
complete -F _cstor cstor
