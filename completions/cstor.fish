# fish completion for cstor: the candidates come from `cstor __complete`
# (commands, flags, and the IDs and names in the store the line names).
function __cstor_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($words[1] __complete $words[2..-1] "$cur" 2>/dev/null)
    switch "$out[1]"
        case :file
            __fish_complete_path "$cur"
        case :dir
            __fish_complete_directories "$cur"
        case '*'
            printf '%s\n' $out
    end
end
complete -c cstor -f -a '(__cstor_complete)'
