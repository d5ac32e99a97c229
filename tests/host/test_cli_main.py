"""The command line as a whole: each command loads only its own module, a missing extra is one line,
--version, and shell completion scripts made from the same argument tables."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from host_tools.cli.main import COMMANDS, main


def test_a_command_imports_only_its_own_module():
    code = (
        "import sys, contextlib, io\n"
        "from host_tools.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['boards', '--json'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('host_tools.cli.')))\n"
        "print('paho' in sys.modules, 'host_tools.deploy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded, heavy = out.stdout.splitlines()
    assert loaded == "['host_tools.cli.boards_cmd', 'host_tools.cli.main']"
    assert heavy == "False False"


def _without_paho(monkeypatch):
    # paho itself, and every module that imported it (another test in this process may have)
    paho_users = ("host_tools.fleet", "host_tools.link.broker", "host_tools.sources.mqtt_source",
                  "host_tools.sinks.mqtt_sink", "host_tools.mqtt", "host_tools.bridge")  # fmt: skip
    for name in [m for m in sys.modules if m == "paho" or m.startswith(("paho.",) + paho_users)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "host_tools.cli.fleet_cmd", raising=False)
    monkeypatch.setitem(sys.modules, "paho", None)  # `import paho` now fails as if it were not installed


def test_help_lists_every_command_without_the_mqtt_extra(monkeypatch, capsys):
    _without_paho(monkeypatch)
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_a_command_whose_extra_is_missing_says_which_in_one_line(monkeypatch, capsys):
    _without_paho(monkeypatch)
    assert main(["fleet", "--mqtt", "mqtt://127.0.0.1:1", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        'zoo-micro fleet: needs the mqtt extra (paho is not installed): pip install "zoo-micro[mqtt]"'
    ]
    assert main(["boards", "--json"]) == 0  # the others still work


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"zoo-micro {version('zoo-micro')}\n"


def complete(words: list[str], tmp_path) -> list[str]:
    """What bash offers for the last of `words`, with the script zoo-micro completion bash prints."""
    script = tmp_path / "zoo.bash"
    script.write_text(cli_main_script("bash"))
    line = " ".join(words)
    probe = (
        f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
        '_zoo_micro; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return [w for w in out.stdout.splitlines() if w]


def cli_main_script(shell: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "host_tools.cli.main", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_bash_completion_offers_commands_options_and_board_ids(tmp_path):
    assert complete(["zoo-micro", "dep"], tmp_path) == ["deploy"]
    assert complete(["zoo-micro", "deploy", "--dr"], tmp_path) == ["--dry-run"]
    assert "--heap-kb" in complete(["zoo-micro", "sim", "--he"], tmp_path)
    assert complete(["zoo-micro", "sim", "--board", "pico"], tmp_path) == ["pico", "pico2", "pico_w"]
    assert complete(["zoo-micro", "completion", "f"], tmp_path) == ["fish"]


def test_zsh_and_fish_scripts_name_every_command():
    zsh = cli_main_script("zsh")
    assert zsh.startswith("# zoo-micro completion for zsh") and "bashcompinit" in zsh
    assert "complete -o default -F _zoo_micro zoo-micro" in zsh
    fish = cli_main_script("fish")
    for name in COMMANDS:
        assert f"complete -c zoo-micro -n __fish_use_subcommand -f -a {name} " in fish
    assert "-n '__fish_seen_subcommand_from build' -l board -x -a 'esp32 " in fish


def test_completion_refuses_an_unknown_shell(capsys):
    with pytest.raises(SystemExit) as done:
        main(["completion", "tcsh"])
    assert done.value.code == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_board_ids_and_options(tmp_path):
    script = tmp_path / "zoo.fish"
    script.write_text(cli_main_script("fish"))
    probe = (
        f"function zoo-micro; end; source {script}; complete -C 'zoo-micro dep'; "
        "complete -C 'zoo-micro sim --board pico'; complete -C 'zoo-micro deploy --dr'"
    )
    out = subprocess.run(["fish", "--no-config", "-c", probe], capture_output=True, text=True, timeout=30)
    words = [line.split("\t")[0] for line in out.stdout.splitlines()]
    assert words == ["deploy", "pico", "pico2", "pico_w", "--dry-run"], out.stdout + out.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script_and_binds_the_completion(tmp_path):
    script = tmp_path / "zoo.zsh"
    script.write_text(cli_main_script("zsh"))
    probe = f"source {script} && (( $+functions[_zoo_micro] )) && complete -p zoo-micro"
    out = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=30)
    assert "complete -o default -F _zoo_micro zoo-micro" in out.stdout.splitlines(), out.stdout + out.stderr
