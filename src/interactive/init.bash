# shellguard: the start-up file of a guarded interactive bash (generated; do not edit).
#
# Read as bash's --rcfile by the top shell, and from PROMPT_COMMAND by child shells (`bash`,
# `bash --norc`, `exec bash`), which inherit PS0 and PROMPT_COMMAND from the environment.
# The gate itself is PS0: bash expands it once per complete command line, after reading all of
# it and before running any of it; its command substitution hands the line (from `history 1`)
# to shellguard, which sends SIGINT to this shell when the answer is no.
if [ -z "${__sg_armed-}" ]; then
    # The top shell: read the user's start-up file as `bash -i` would have.
    if [ "${1-}" != __sg_prompt ] && [ -f ~/.bashrc ]; then
        . ~/.bashrc
    fi
    # Functions shadowing the builtins the gate relies on would fake the line. In POSIX mode
    # `unset` is found before any function of that name.
    __sg_pc=${POSIXLY_CORRECT-__sg_unset}
    POSIXLY_CORRECT=1
    \unset -f builtin history command unset kill exec set shopt bind readonly export source . 2>/dev/null
    \unset POSIXLY_CORRECT
    if [ "$__sg_pc" != __sg_unset ]; then POSIXLY_CORRECT=$__sg_pc; fi
    \unset __sg_pc
    # The line is read from history: every line must reach it, as typed.
    \builtin shopt -s promptvars cmdhist
    \builtin shopt -u lithist 2>/dev/null
    \builtin set -o history
    HISTCONTROL=
    HISTIGNORE=
    # These run text without PS0.
    \builtin bind -r '\C-x\C-e' 2>/dev/null
    \builtin bind -m vi-command -r v 2>/dev/null
    # The gate first, then whatever PS0 the user had.
    case "${PS0-}" in
        *__interactive-check*) ;;
        *) PS0=@PS0@"${PS0-}" ;;
    esac
    \builtin readonly PS0
    \builtin export PS0
    # Ours last, so the history number it notes is the one the next line gets.
    case "${PROMPT_COMMAND-}" in
        *__sg_n=*) ;;
        '') PROMPT_COMMAND=@PC@ ;;
        *) PROMPT_COMMAND="$PROMPT_COMMAND"$'\n'@PC@ ;;
    esac
    \builtin export PROMPT_COMMAND
    # Registered with the host: Enter typed into a shell that is not registered is held.
    if [ -n "${SHELLGUARD_INTERACTIVE_HOST-}" ]; then
        : >"$SHELLGUARD_INTERACTIVE_HOST/shells/$$" 2>/dev/null
    fi
    # This shell's own record of the last line checked (`exec bash` keeps the pid).
    \builtin readonly __sg_id=$RANDOM$RANDOM
    \builtin readonly __sg_armed=1
fi
