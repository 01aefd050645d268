# bash completion for igtcloud and igtcloud-sandbox.
# Installed as share/bash-completion/completions/{igtcloud,igtcloud-sandbox}.
# Commands and options are read from the programs' own --help, so completion
# always matches the installed version.

# Option names in the "Options:" lines of `"$@" --help`, one per line.
_igtcloud_options()
{
    "$@" --help 2>/dev/null | awk '
        /^ +-/ {
            sub(/^ +/, "")
            head = $0
            cut = index(head, "  ")
            if (cut) head = substr(head, 1, cut - 1)
            n = split(head, words, /[ ,]+/)
            for (k = 1; k <= n; k++)
                if (words[k] ~ /^-/) { sub(/=.*/, "", words[k]); print words[k] }
        }'
}

# Command names listed under "Commands:" by `igtcloud --help`.
_igtcloud_commands()
{
    "$1" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}

_igtcloud()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local prog=${COMP_WORDS[0]} cmd="" i words=""
    COMPREPLY=()

    case $prev in
        --category) words="files dicom annotations" ;;
        --folder-structure) words="flat hierarchical" ;;
        --checksum) words="md5 crc32c sha256" ;;
        -t | --type) words="jwt access csrf" ;;
        -d | --domain) words="PROD TEST" ;;
        --cacert | -s | --service-key | --seed | --data | --log-requests | --faults | \
        --tls-cert | --tls-key)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0 ;;
    esac
    if [[ -n $words ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return 0
    fi

    if [[ ${prog##*/} == igtcloud-sandbox ]]; then
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "$(_igtcloud_options "$prog")" -- "$cur"))
        return 0
    fi

    local commands
    commands=$(_igtcloud_commands "$prog")
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} != -* ]]; then
            cmd=${COMP_WORDS[i]}
            break
        fi
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_igtcloud_options "$prog")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return 0
    fi
    # Only ask commands igtcloud lists for their help.
    [[ $'\n'$commands$'\n' == *$'\n'$cmd$'\n'* ]] || return 0
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_igtcloud_options "$prog" "$cmd")" -- "$cur"))
    fi
    return 0
}

complete -o default -F _igtcloud igtcloud igtcloud-sandbox
