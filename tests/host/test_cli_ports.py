"""--port may be left out: the one board on USB or the one running virtual board is used, several are
listed, none is one line; virtual boards register their port while they run. And the app's
config.json "board" is its default board."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from host_tools.boards import REGISTRY_ENV, register_virtual, running_virtual
from host_tools.cli.main import main
from host_tools.cli.ports import choose_port
from host_tools.errors import UserError

ZOO = [sys.executable, "-m", "host_tools.cli.main"]


@pytest.fixture(autouse=True)
def registry(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "registry"
    monkeypatch.setenv(REGISTRY_ENV, str(folder))
    return folder


def usb(device: str, vid: int, pid: int):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description="USB serial")


def no_usb() -> list:
    return []


def a_port(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_text("")
    return str(path)


def test_a_given_port_is_used_as_it_is(tmp_path):
    register_virtual(a_port(tmp_path, "other"), "esp32")
    assert choose_port("/dev/ttyACM7", port_lister=no_usb) == "/dev/ttyACM7"


def test_the_one_usb_board_is_used_and_unknown_usb_ids_are_not_boards():
    said = []
    ports = [usb("/dev/ttyACM0", 0x2E8A, 0x0005), usb("/dev/ttyUSB9", 0x1234, 0x5678)]
    assert choose_port(None, port_lister=lambda: ports, say=said.append) == "/dev/ttyACM0"
    assert said == ["using /dev/ttyACM0 (pico/pico2/pico_w, USB 2e8a:0005)"]


def test_the_one_running_virtual_board_is_used_and_forgotten_when_unregistered(tmp_path):
    port = a_port(tmp_path, "board")
    unregister = register_virtual(port, "pico", "blink")
    said = []
    assert choose_port(None, port_lister=no_usb, say=said.append) == port
    assert said == [f"using {port} (virtual pico running blink)"]
    unregister()
    with pytest.raises(UserError, match=r"^no board found: .*zoo-micro sim APP --link PATH, or give --port$"):
        choose_port(None, port_lister=no_usb)


def test_several_boards_are_listed_in_one_line_unless_one_is_the_apps_board(tmp_path):
    v1 = a_port(tmp_path, "v1")
    register_virtual(v1, "esp32")
    ports = [usb("/dev/ttyACM0", 0x2E8A, 0x0005)]
    with pytest.raises(UserError) as e:
        choose_port(None, port_lister=lambda: ports)
    assert str(e.value) == (
        "2 boards found: /dev/ttyACM0 (pico/pico2/pico_w, USB 2e8a:0005); "
        f"{v1} (virtual esp32); choose one with --port"
    )
    assert choose_port(None, board="esp32", port_lister=lambda: ports, say=lambda _: None) == v1
    assert choose_port(None, board="pico", port_lister=lambda: ports, say=lambda _: None) == "/dev/ttyACM0"


def test_a_dead_boards_entry_is_ignored_and_removed(tmp_path, registry):
    port = a_port(tmp_path, "board")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    registry.mkdir(parents=True, exist_ok=True)
    (registry / f"{dead.pid}-x.json").write_text(json.dumps({"pid": dead.pid, "port": port, "board": "pico"}))
    (registry / "junk.json").write_text("{not json")
    assert running_virtual() == []
    assert not (registry / f"{dead.pid}-x.json").exists()


def test_a_board_whose_port_is_gone_is_not_offered(tmp_path):
    register_virtual(str(tmp_path / "never-made"), "pico")
    assert running_virtual() == []


def test_one_virtual_board_per_port_named_by_its_link_when_it_registers_twice(tmp_path):
    port = a_port(tmp_path, "pty")
    link = tmp_path / "board"
    link.symlink_to(port)
    register_virtual(port, "pico")
    register_virtual(str(link), "pico", "blink")
    register_virtual(port, "pico")
    assert [v.port for v in running_virtual()] == [str(link)]


def test_sim_registers_its_link_while_it_runs_and_deploy_finds_it(tmp_path, registry):
    app = tmp_path / "blink"
    app.mkdir()
    (app / "main.py").write_text("print('blink up')\n")
    (app / "config.json").write_text('{"name": "blink", "board": "pico"}')
    link = tmp_path / "board"
    env = {**os.environ, REGISTRY_ENV: str(registry)}
    sim = subprocess.Popen(
        ZOO + ["sim", "--link", str(link), "--seconds", "60"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        banner = sim.stdout.readline()
        assert "serial port" in banner, banner + sim.stderr.read()
        (entry,) = running_virtual()
        assert (entry.port, entry.board, entry.app, entry.pid) == (str(link), "esp32", None, sim.pid)
        r = subprocess.run(ZOO + ["deploy", str(app), "--json"], env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert f"using {link} (virtual esp32)" in r.stderr
        assert json.loads(r.stdout)["port"] == str(link)
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(30)
    assert list(registry.glob("*.json")) == []  # unregistered at exit


def test_new_apps_board_is_the_default_of_sim_and_build(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "blink", "--board", "pico"]) == 0
    capsys.readouterr()
    assert main(["build", "blink", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["board"] == "pico" and built["arch"] == "armv6m"
    assert built["path"] == str(Path("build") / "blink-pico")
    assert "board.json" in built["files"] and not [f for f in built["files"] if f.startswith("tests")]
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "main.py").write_text("print(1)\n")
    assert main(["build", "plain"]) == 2
    assert capsys.readouterr().err == (
        'zoo-micro build: give --board (see zoo-micro boards), or put "board" in plain/config.json\n'
    )
    link = tmp_path / "board"
    sim = subprocess.Popen(
        ZOO + ["sim", "blink", "--link", str(link), "--seconds", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert sim.stdout.readline().startswith("virtual pico running blink;")
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(30)


def test_the_apps_config_board_chooses_among_several_running_boards(tmp_path):
    from host_tools.build import app_board

    pico, esp = a_port(tmp_path, "pico"), a_port(tmp_path, "esp")
    register_virtual(pico, "pico")
    register_virtual(esp, "esp32")
    app = tmp_path / "blink"
    app.mkdir()
    (app / "config.json").write_text('{"name": "blink", "board": "esp32"}')
    assert choose_port(None, app_board(app), port_lister=no_usb, say=lambda _: None) == esp


def test_detect_lists_running_virtual_boards_beside_usb_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("host_tools.cli.detect_cmd.connected_boards", lambda: [])
    port = a_port(tmp_path, "board")
    unregister = register_virtual(port, "pico", "blink")
    assert main(["detect", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"port": port, "usb": None, "description": f"zoo-micro sim (pid {os.getpid()})", "boards": ["pico"],
         "virtual": True, "app": "blink"}
    ]  # fmt: skip
    unregister()
    assert main(["detect"]) == 0
    assert capsys.readouterr().out.startswith("no boards found")


def test_bridge_without_port_takes_the_one_board_or_says_there_is_none(capsys, monkeypatch):
    import serial.tools.list_ports

    monkeypatch.setattr(serial.tools.list_ports, "comports", no_usb)
    assert main(["bridge", "--seconds", "1"]) == 2  # not argparse's "--port is required"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo-micro bridge: no board found:"), err


def test_bridge_link_bounds_reach_the_bridge_and_bad_ones_are_one_line(capsys, monkeypatch, tmp_path):
    import host_tools.bridge.launch as launch_mod

    made = {}

    class Stop(Exception):
        pass

    def fake_bridge(port, **kwargs):
        made.update(kwargs, port=port)
        raise Stop

    monkeypatch.setattr(launch_mod, "Bridge", fake_bridge)
    with pytest.raises(Stop):
        main(["bridge", "--port", str(tmp_path / "p"), "--max-links", "3", "--link-idle", "5"])
    assert made["max_links"] == 3 and made["link_idle"] == 5.0
    assert main(["bridge", "--port", str(tmp_path / "p"), "--max-links", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-links must be 1 or more" in err[0], err
