"""zoo-micro completion: a shell completion script made from the command line's own argparse tables.

bash:  zoo-micro completion bash > ~/.local/share/bash-completion/completions/zoo-micro
zsh:   echo 'eval "$(zoo-micro completion zsh)"' >> ~/.zshrc
fish:  zoo-micro completion fish > ~/.config/fish/completions/zoo-micro.fish
"""

from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh", "fish")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "install it once:\n" + "\n".join(
        line.strip() for line in (__doc__ or "").splitlines() if line.strip().startswith(SHELLS)
    )


Command = tuple[str, str, list[argparse.Action]]  # name, help, its arguments


def _commands() -> list[Command]:
    """Every command with its arguments; a command whose extra is missing is listed without them."""
    from host_tools.cli.main import COMMANDS, build_parser

    parser, _ = build_parser(load_all=True)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(name, COMMANDS[name], sub.choices[name]._actions) for name in COMMANDS]


def _values(action: argparse.Action, boards: list[str]) -> list[str] | None:
    """The words an option's value may be (None: any file or text)."""
    if action.choices:
        return [str(c) for c in action.choices]
    if action.dest == "board":
        return boards
    return None


def bash_script(commands: list[Command], boards: list[str]) -> str:
    cases, values = [], {}
    for name, _, actions in commands:
        opts = sorted(o for a in actions for o in a.option_strings if a.help != argparse.SUPPRESS)
        cases.append(f"        {name}) opts={shlex.quote(' '.join(opts))} ;;")
        for a in actions:
            words = _values(a, boards)
            if words is not None and a.nargs != 0:
                for o in a.option_strings:
                    values[o] = words
    positional = {
        name: [str(c) for a in actions if not a.option_strings for c in (a.choices or ())]
        for name, _, actions in commands
    }
    value_cases = [f"        {o}) words={shlex.quote(' '.join(w))} ;;" for o, w in sorted(values.items())]
    pos_cases = [f"            {n}) words={shlex.quote(' '.join(w))} ;;" for n, w in positional.items() if w]
    names = " ".join(name for name, _, _ in commands)
    lines = [
        "# zoo-micro completion for bash (zoo-micro completion bash)",
        "_zoo_micro() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local cmd="" opts="" words=""',
        '    [ "$COMP_CWORD" -gt 1 ] && cmd="${COMP_WORDS[1]}"',
        '    if [ -z "$cmd" ]; then',
        f'        COMPREPLY=($(compgen -W "{names} --help --version" -- "$cur")); return',
        "    fi",
        '    case "$prev" in',
        *value_cases,
        "    esac",
        '    if [ -n "$words" ]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); return; fi',
        '    case "$cmd" in',
        *cases,
        "    esac",
        '    if [[ "$cur" == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        "    else",
        '        case "$cmd" in',
        *pos_cases,
        "        esac",
        '        [ -n "$words" ] && COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "    fi",
        "}",
        "complete -o default -F _zoo_micro zoo-micro",
    ]
    return "\n".join(lines) + "\n"


def zsh_script(commands: list[Command], boards: list[str]) -> str:
    """zsh runs the bash function through its bashcompinit layer (compinit first, unless it ran)."""
    return (
        "# zoo-micro completion for zsh (zoo-micro completion zsh)\n"
        "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + bash_script(commands, boards)
    )


def fish_script(commands: list[Command], boards: list[str]) -> str:
    lines = ["# zoo-micro completion for fish (zoo-micro completion fish)"]
    q = shlex.quote
    for name, text, _ in commands:
        lines.append(f"complete -c zoo-micro -n __fish_use_subcommand -f -a {name} -d {q(text)}")
    for name, _, actions in commands:
        when = q(f"__fish_seen_subcommand_from {name}")
        for a in actions:
            longs = [o[2:] for o in a.option_strings if o.startswith("--")]
            if not longs or a.help == argparse.SUPPRESS:
                continue
            line = f"complete -c zoo-micro -n {when} -l {longs[0]}"
            words = _values(a, boards)
            if a.nargs != 0:
                line += f" -x -a {q(' '.join(words))}" if words is not None else " -r"
            if a.help:
                line += f" -d {q(a.help.split(';')[0].split('(')[0].strip())}"
            lines.append(line)
        for a in actions:
            if not a.option_strings and a.choices:
                lines.append(f"complete -c zoo-micro -n {when} -f -a {q(' '.join(map(str, a.choices)))}")
    return "\n".join(lines) + "\n"


def script(shell: str) -> str:
    from host_tools.boards import board_ids

    make = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[shell]
    return make(_commands(), board_ids())


def run(args: argparse.Namespace) -> int:
    print(script(args.shell), end="")
    return 0
