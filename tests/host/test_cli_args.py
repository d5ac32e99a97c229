"""Careless command lines get one line and a non-zero exit, never a traceback; deploy checks the whole
app before it touches a board; deploy and build answer in JSON when asked."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from host_tools.cli.main import main


def one_line(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def make_app(folder: Path, main_py: str = "import helper\nprint('app', helper.NAME)\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(main_py)
    (folder / "helper.py").write_text("NAME = 'helper'\n")
    return folder


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("option", ["--heap-kb", "--flash-kb", "--romfs-kb"])
def test_sim_refuses_a_size_that_is_not_positive(option, capsys):
    line = one_line(["sim", option, "-5"], capsys)
    assert line == f"zoo-micro sim: {option} must be a positive number of KB"


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_deploy_run_and_watch_refuse_a_timeout_that_is_not_positive(tmp_path, capsys, value):
    app = make_app(tmp_path / "blink")
    for command in ("deploy", "run", "watch"):
        line = one_line([command, str(app), "--port", "/dev/null", "--timeout", value], capsys)
        assert line.startswith(f"zoo-micro {command}: --timeout must be a positive number, not ")


def test_monitor_refuses_seconds_that_are_not_positive(capsys):
    assert one_line(["monitor", "--port", "/dev/null", "--seconds", "-2"], capsys) == (
        "zoo-micro monitor: --seconds must be a positive number, not -2"
    )


def test_deploy_to_a_socket_url_nobody_listens_on_is_one_line(tmp_path, capsys):
    app = make_app(tmp_path / "blink")
    port = f"socket://127.0.0.1:{closed_port()}"
    line = one_line(["deploy", str(app), "--port", port], capsys)
    assert line == (
        f"zoo-micro deploy: cannot connect to {port}: Connection refused; "
        "is the board's serial-over-network server running?"
    )
    line = one_line(["deploy", str(app), "--port", "serial+tcp://x:1"], capsys)
    assert line.startswith("zoo-micro deploy: serial+tcp://x:1 is not a port pyserial can open (")


@pytest.mark.parametrize("form", [["--mpy"], ["--mpy", "--dry-run"], ["--py"]], ids=["mpy", "dry-run", "py"])
def test_deploy_compile_checks_every_file_before_copying_any(zoo_board, tmp_path, capsys, form):
    board = zoo_board(None, install_lib=False, link=tmp_path / "port")
    before = sorted(p.relative_to(board.flash).as_posix() for p in board.flash.rglob("*") if p.is_file())
    app = make_app(tmp_path / "blink", "import helper\nprint('app', helper.NAME\n\nx = 1\n")
    line = one_line(["deploy", str(app), "--port", board.port, *form], capsys)
    assert re.fullmatch(
        r"zoo-micro deploy: main\.py line \d+: SyntaxError: .*nothing on the board changed.*", line
    )
    after = sorted(p.relative_to(board.flash).as_posix() for p in board.flash.rglob("*") if p.is_file())
    assert after == before and "main.py" not in after


def test_deploy_json_says_what_it_copied(zoo_board, tmp_path, capsys):
    board = zoo_board(None, install_lib=False, link=tmp_path / "port")
    app = make_app(tmp_path / "blink")
    assert main(["deploy", str(app), "--port", board.port, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["port"] == board.port and result["dry_run"] is False
    assert {"main.py", "helper.mpy"} <= set(result["copied"]) and result["removed"] == []
    assert result["bytes_copied"] > 0 and result["skipped"] == 0
    assert main(["deploy", str(app), "--port", board.port, "--json", "--dry-run"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["dry_run"] is True and again["copied"] == [] and again["skipped"] == len(result["copied"])


def test_build_json_describes_the_bundle(tmp_path, capsys):
    app = make_app(tmp_path / "blink")
    assert main(["build", str(app), "--board", "esp32", "--out", str(tmp_path / "out"), "--json"]) == 0
    bundle = json.loads(capsys.readouterr().out)
    assert bundle["board"] == "esp32" and bundle["arch"] == "xtensawin" and bundle["frozen"] is False
    assert bundle["path"] == str(tmp_path / "out")
    assert {"main.py", "boot.py", "board.json", "app_main.mpy", "helper.mpy"} <= set(bundle["files"])
