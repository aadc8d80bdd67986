"""``tim-py completion bash|zsh|fish``: shell completion scripts, made from the parser itself.

The parser (``parser.build_parser``) is the one statement of the commands, their
options, which options take a value, their choices and which arguments are files
or directories; this module walks it (``command_tree``) and writes the same tree
out as a script for each shell.  A new command or option is completed as soon as
the parser has it; nothing here names a command.

Each script finds where the command line is (the command path, such as ``user
import``, and how many positional arguments follow it) the same way: words are
scanned left to right, an option that takes a value skips the next word, a word
that names a subcommand of the current path extends the path.  Then it offers
the subcommands, the options (on ``-``), an option's choices, files or
directories, or nothing (an ID: no shell can know the accounts of a world).

The scripts are static: completing runs no Python (starting tim_py's interpreter
and its compiled module on every Tab would take a third of a second).
"""
from __future__ import annotations

import argparse
from typing import Dict, List, NamedTuple, Optional, Tuple

from . import EXIT_OK
from .render import out

SHELLS = ("bash", "zsh", "fish")

# What completes the value of an option or a positional argument
FLAG = "flag"  # an option without a value
FILE = "file"
DIR = "dir"
ANY = "any"  # a value no shell can guess (an ID, a number, text)
#: the attribute of an argparse action that lists the words its value takes, when argparse's own
#: ``choices`` cannot say it (the value is judged elsewhere and takes other spellings too)
COMPLETE_WORDS = "complete_words"


class Arg(NamedTuple):
    """An option (``strings`` the spellings) or a positional argument (``strings`` empty)."""

    strings: Tuple[str, ...]
    kind: str  # FLAG, FILE, DIR, ANY, or "choices"
    choices: Tuple[str, ...]
    help: str


class Node(NamedTuple):
    """A command path (``()`` for ``tim-py`` itself): its subcommands, options and positionals."""

    subcommands: Tuple[Tuple[str, str], ...]  # (name, help)
    options: Tuple[Arg, ...]
    positionals: Tuple[Arg, ...]


def _kind(action: argparse.Action) -> Tuple[str, Tuple[str, ...]]:
    if action.option_strings and action.nargs == 0:
        return FLAG, ()
    if action.choices is not None and not isinstance(action.choices, dict):
        return "choices", tuple(str(c) for c in action.choices)
    words = getattr(action, COMPLETE_WORDS, None)
    if words:
        return "choices", tuple(words)
    metavar = str(action.metavar or "")
    if action.dest == "data_dir" or metavar == "DIR":
        return DIR, ()
    if action.dest == "file" or metavar == "FILE":
        return FILE, ()
    return ANY, ()


def command_tree(parser: argparse.ArgumentParser) -> Dict[Tuple[str, ...], Node]:
    """Every command path of ``parser`` and what may follow it."""
    tree: Dict[Tuple[str, ...], Node] = {}

    def walk(p: argparse.ArgumentParser, path: Tuple[str, ...]) -> None:
        subs: List[Tuple[str, str]] = []
        options: List[Arg] = []
        positionals: List[Arg] = []
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                helps = {c.dest: c.help or "" for c in a._choices_actions}
                for name, child in a.choices.items():
                    subs.append((name, helps.get(name, "")))
                    walk(child, path + (name,))
                continue
            kind, choices = _kind(a)
            text = (a.help or "") if a.help is not argparse.SUPPRESS else ""
            if a.option_strings:
                options.append(Arg(tuple(a.option_strings), kind, choices, text))
            else:
                positionals.append(Arg((), kind, choices, text))
        tree[path] = Node(tuple(subs), tuple(options), tuple(positionals))

    walk(parser, ())
    return tree


def _help(text: str) -> str:
    """A help text on one line, shortened, %-escapes of argparse undone."""
    text = " ".join(text.replace("%%", "%").split())
    return text if len(text) <= 70 else text[:67] + "..."


def _sq(text: str) -> str:
    """``text`` as one single-quoted word of a POSIX shell (bash, zsh)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _fq(text: str) -> str:
    """``text`` as one single-quoted word of fish."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value_kind(a: Arg) -> str:
    """What a script's helpers say of an argument: flag, file, dir, any, or choices:A B C."""
    return f"choices:{' '.join(a.choices)}" if a.kind == "choices" else a.kind


# ---- bash and zsh: the tree as shell functions of the same syntax --------------------------------


def _sh_tables(tree: Dict[Tuple[str, ...], Node]) -> str:
    """Four functions, valid in bash and zsh: ``_tim_py_subs PATH`` (the subcommands),
    ``_tim_py_opts PATH`` (the options), ``_tim_py_opt PATH OPTION`` (what its value is, or
    flag; status 1 when PATH has no such option) and ``_tim_py_pos PATH N`` (what the Nth
    positional argument is), plus ``_tim_py_descs PATH`` (name:help lines, for zsh)."""
    subs, opts, opt, pos, descs = [], [], [], [], []
    for path, node in tree.items():
        key = _sq(" ".join(path))
        if node.subcommands:
            subs.append(f"        {key}) echo {_sq(' '.join(n for n, _ in node.subcommands))} ;;")
            lines = "\n".join(f"{n.replace(':', chr(92) + ':')}:{_help(h)}" for n, h in node.subcommands)
            descs.append(f"        {key}) printf '%s\\n' {_sq(lines)} ;;")
        words = [s for a in node.options for s in a.strings]
        opts.append(f"        {key}) echo {_sq(' '.join(words))} ;;")
        for a in node.options:
            for s in a.strings:
                opt.append(f"        {_sq(' '.join(path) + '|' + s)}) echo {_sq(_value_kind(a))} ;;")
        for n, a in enumerate(node.positionals):
            pos.append(f"        {_sq(' '.join(path) + '|' + str(n))}) echo {_sq(_value_kind(a))} ;;")

    def fn(name: str, args: str, cases: List[str], default: str) -> str:
        body = "\n".join(cases)
        return f"{name}() {{\n    case {args} in\n{body}\n        *) {default} ;;\n    esac\n}}\n"

    return "".join([
        fn("_tim_py_subs", '"$1"', subs, ":"),
        fn("_tim_py_descs", '"$1"', descs, ":"),
        fn("_tim_py_opts", '"$1"', opts, ":"),
        fn("_tim_py_opt", '"$1|$2"', opt, "return 1"),
        fn("_tim_py_pos", '"$1|$2"', pos, "echo any"),
    ])


#: where the command line is: sets cmdpath, npos and expect from the words before the current
#: one (bash: COMP_WORDS[1..COMP_CWORD-1]; zsh: words[2..CURRENT-1]); the same text in both
_SH_SCAN = """\
    local cmdpath="" npos=0 expect="" w kind
    for w in "${before[@]}"; do
        if [[ -n $expect ]]; then expect=""; continue; fi
        case $w in
            --*=*) continue ;;
            -*) kind=$(_tim_py_opt "$cmdpath" "$w") && [[ $kind != flag ]] && expect=1; continue ;;
        esac
        if [[ " $(_tim_py_subs "$cmdpath") " == *" $w "* ]]; then
            cmdpath="${cmdpath:+$cmdpath }$w"; npos=0
        else
            npos=$((npos + 1))
        fi
    done
"""


def bash_script(tree: Dict[Tuple[str, ...], Node]) -> str:
    return f"""\
# bash completion for tim-py, made by 'tim-py completion bash' from its own parser.
# Load it in ~/.bashrc:  eval "$(tim-py completion bash)"
{_sh_tables(tree)}
_tim_py_kind() {{
    case $1 in
        choices:*) COMPREPLY=($(compgen -W "${{1#choices:}}" -- "$2")) ;;
        file) COMPREPLY=($(compgen -f -- "$2")); compopt -o filenames 2>/dev/null ;;
        dir) COMPREPLY=($(compgen -d -- "$2")); compopt -o filenames 2>/dev/null ;;
        *) COMPREPLY=() ;;
    esac
}}

_tim_py() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}}
    local -a before=("${{COMP_WORDS[@]:1:COMP_CWORD-1}}")
{_SH_SCAN}
    if [[ -n $expect ]]; then
        _tim_py_kind "$(_tim_py_opt "$cmdpath" "${{COMP_WORDS[COMP_CWORD-1]}}")" "$cur"; return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_tim_py_opts "$cmdpath")" -- "$cur")); return 0
    fi
    local subs; subs=$(_tim_py_subs "$cmdpath")
    if [[ -n $subs ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur")); return 0
    fi
    _tim_py_kind "$(_tim_py_pos "$cmdpath" "$npos")" "$cur"
}}

complete -F _tim_py tim-py
"""


def zsh_script(tree: Dict[Tuple[str, ...], Node]) -> str:
    return f"""\
#compdef tim-py
# zsh completion for tim-py, made by 'tim-py completion zsh' from its own parser.
# Install: tim-py completion zsh > "${{fpath[1]}}/_tim-py" (then restart zsh), or in ~/.zshrc
# after compinit:  source <(tim-py completion zsh)
{_sh_tables(tree)}
_tim_py_kind() {{
    case $1 in
        choices:*) compadd -- ${{=${{1#choices:}}}} ;;
        file) _files ;;
        dir) _files -/ ;;
    esac
}}

_tim_py() {{
    local cur=${{words[CURRENT]}}
    local -a before; before=("${{(@)words[2,CURRENT-1]}}")
{_SH_SCAN}
    if [[ -n $expect ]]; then
        _tim_py_kind "$(_tim_py_opt "$cmdpath" "${{words[CURRENT-1]}}")"; return
    fi
    if [[ $cur == -* ]]; then
        compadd -- ${{=$(_tim_py_opts "$cmdpath")}}; return
    fi
    local -a subs; subs=("${{(@f)$(_tim_py_descs "$cmdpath")}}")
    if [[ -n ${{subs[1]}} ]]; then
        _describe -t commands 'tim-py command' subs; return
    fi
    _tim_py_kind "$(_tim_py_pos "$cmdpath" "$npos")"
}}

if [[ ${{funcstack[1]}} == _tim-py ]]; then
    _tim_py "$@"
else
    compdef _tim_py tim-py
fi
"""


def fish_script(tree: Dict[Tuple[str, ...], Node]) -> str:
    subpaths = sorted(f"{' '.join(path)}|{n}" for path, node in tree.items() for n, _ in node.subcommands)
    valopts = sorted(f"{' '.join(path)}|{s}" for path, node in tree.items() for a in node.options
                     if a.kind != FLAG for s in a.strings)
    lines = [
        "# fish completion for tim-py, made by 'tim-py completion fish' from its own parser.",
        "# Install: tim-py completion fish > ~/.config/fish/completions/tim-py.fish",
        "set -g __tim_py_subpaths " + " ".join(_fq(s) for s in subpaths),
        "set -g __tim_py_valopts " + " ".join(_fq(s) for s in valopts),
        """\
# The command path and the number of positional arguments after it, one a line.
function __tim_py_state
    set -l words (commandline -opc)
    set -e words[1]
    set -l cmdpath ''
    set -l npos 0
    set -l expect 0
    for w in $words
        if test $expect = 1
            set expect 0
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-*'
                if contains -- "$cmdpath|$w" $__tim_py_valopts
                    set expect 1
                end
                continue
        end
        if contains -- "$cmdpath|$w" $__tim_py_subpaths
            set cmdpath (string trim -- "$cmdpath $w")
            set npos 0
        else
            set npos (math $npos + 1)
        end
    end
    echo $cmdpath
    echo $npos
end

# True when the command path is $argv[1] (and, given $argv[2], that many positionals follow it).
function __tim_py_at
    set -l state (__tim_py_state)
    test "$state[1]" = "$argv[1]"; or return 1
    test (count $argv) -lt 2; or test "$state[2]" = "$argv[2]"
end
""",
    ]
    for path, node in tree.items():
        at = _fq(" ".join(path))  # (a command path: letters, digits, '-' and spaces only)
        for name, text in node.subcommands:
            lines.append(f'complete -c tim-py -f -n "__tim_py_at {at}" -a {_fq(name)} -d {_fq(_help(text))}')
        for a in node.options:
            spec = " ".join(f"-l {_fq(s[2:])}" if s.startswith("--") else f"-s {_fq(s[1:])}" for s in a.strings)
            if a.kind == FLAG:
                value = ""
            elif a.kind == "choices":
                value = f" -x -a {_fq(' '.join(a.choices))}"
            elif a.kind == FILE:
                value = " -r -F"
            elif a.kind == DIR:
                value = " -x -a '(__fish_complete_directories)'"
            else:
                value = " -x"
            lines.append(f'complete -c tim-py -n "__tim_py_at {at}" {spec}{value} -d {_fq(_help(a.help))}')
        if not node.subcommands and not any(a.kind == FILE for a in node.positionals):
            lines.append(f'complete -c tim-py -f -n "__tim_py_at {at}"')  # no files where none go
        for n, a in enumerate(node.positionals):
            if a.kind == "choices":
                lines.append(f'complete -c tim-py -f -n "__tim_py_at {at} {n}" -a {_fq(" ".join(a.choices))}')
    return "\n".join(lines) + "\n"


SCRIPTS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}


def script(shell: str, parser: Optional[argparse.ArgumentParser] = None) -> str:
    """The completion script for ``shell`` (one of ``SHELLS``), from ``parser`` (default: tim-py's)."""
    if parser is None:
        from .parser import build_parser

        parser = build_parser()
    return SCRIPTS[shell](command_tree(parser))


def cmd_completion(args: argparse.Namespace) -> int:
    out(script(args.shell).rstrip("\n"))
    return EXIT_OK
