"""Board files: their schema and facts, loading errors, USB matching, and the boards/detect commands."""

from __future__ import annotations

import fnmatch
import json
import shutil

import pytest
from serial.tools.list_ports_common import ListPortInfo

from host_tools.boards import (
    BOARDS_DIR,
    REGISTRY_ENV,
    all_boards,
    connected_boards,
    get_board,
    load_board,
    match_usb,
)
from host_tools.cli.main import main
from host_tools.errors import UserError

REQUIRED_KEYS = ("id", "name", "chip", "mpy_arch", "flash", "baud", "usb", "heap_kb", "max_threads", "pins")
REQUIRED_KEYS += ("firmware", "micropython", "notes")
EXPECTED_IDS = ["esp32", "esp32c3", "esp32s3", "pico", "pico2", "pico_w"]
# Facts from MicroPython's ports (emitters, thread model) and the UF2/esptool documentation.
FACTS = {
    "esp32": {"chip": "esp32", "mpy_arch": "xtensawin", "max_threads": 4, "offset": "0x1000"},
    "esp32s3": {"chip": "esp32s3", "mpy_arch": "xtensawin", "max_threads": 4, "offset": "0x0"},
    "esp32c3": {"chip": "esp32c3", "mpy_arch": "rv32imc", "max_threads": 4, "offset": "0x0"},
    "pico": {"chip": "rp2040", "mpy_arch": "armv6m", "max_threads": 1, "family": "0xe48bff56"},
    "pico_w": {"chip": "rp2040", "mpy_arch": "armv6m", "max_threads": 1, "family": "0xe48bff56"},
    "pico2": {"chip": "rp2350", "mpy_arch": "armv7emsp", "max_threads": 1, "family": "0xe48bff59"},
}


@pytest.fixture(autouse=True)
def no_virtual_boards(tmp_path, monkeypatch):
    """detect also lists running virtual boards: none here, whatever else runs on this computer."""
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "registry"))


# Firmware file names as micropython.org publishes them.
RELEASE_NAMES = {
    "esp32": "ESP32_GENERIC-20241129-v1.24.1.bin",
    "esp32s3": "ESP32_GENERIC_S3-20241129-v1.24.1.bin",
    "esp32c3": "ESP32_GENERIC_C3-20241129-v1.24.1.bin",
    "pico": "RPI_PICO-20241129-v1.24.1.uf2",
    "pico_w": "RPI_PICO_W-20241129-v1.24.1.uf2",
    "pico2": "RPI_PICO2-20241129-v1.24.1.uf2",
}


def port_info(device: str, vid: int | None, pid: int | None, description: str = "") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, description
    return info


def test_every_board_file_loads_and_the_six_boards_are_there():
    boards = all_boards()
    assert [b.id for b in boards] == EXPECTED_IDS
    for b in boards:
        raw = json.loads((BOARDS_DIR / f"{b.id}.json").read_text())
        for key in REQUIRED_KEYS:
            assert key in raw, (b.id, key)
        assert b.baud == 115200
        assert b.heap_kb >= 100 and b.heapsize == f"{b.heap_kb}K"
        assert b.usb and all(len(i) == 9 for i in b.usb_ids())
        assert "led" in b.pins and set(b.pins["uart"]) == {"id", "tx", "rx"}
        assert b.notes


@pytest.mark.parametrize("board_id", EXPECTED_IDS)
def test_board_facts_match_the_chip(board_id):
    b = get_board(board_id)
    facts = FACTS[board_id]
    assert (b.chip, b.mpy_arch, b.max_threads) == (facts["chip"], facts["mpy_arch"], facts["max_threads"])
    if "offset" in facts:
        assert b.flash_method == "esptool" and b.flash["chip"] == b.chip
        assert b.flash["offset"] == facts["offset"] and b.flash["baud"] >= 115200
    else:
        assert b.flash_method == "uf2" and b.flash["family_id"] == facts["family"]
        assert (0x2E8A, 0x0005) in b.usb


def test_firmware_globs_pick_exactly_their_own_release_file():
    boards = all_boards()
    for board_id, name in RELEASE_NAMES.items():
        matching = [b.id for b in boards if fnmatch.fnmatch(name, b.firmware)]
        assert matching == [board_id], (name, matching)


def test_pico2_takes_the_absolute_and_data_families_besides_arm_secure():
    main_family, also = get_board("pico2").uf2_families()
    assert main_family == 0xE48BFF59
    assert also == {0xE48BFF57, 0xE48BFF58}
    assert get_board("pico").uf2_families() == (0xE48BFF56, set())


def test_unknown_board_is_one_line_listing_the_known_ones():
    with pytest.raises(UserError) as e:
        get_board("esp8266")
    text = str(e.value)
    assert "\n" not in text and "esp8266" in text
    for board_id in EXPECTED_IDS:
        assert board_id in text


def test_a_path_is_not_a_board_id():
    with pytest.raises(UserError, match="unknown board"):
        get_board("../boards/pico")


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda d: d.pop("heap_kb"), "missing key 'heap_kb'"),
        (lambda d: d.update(mpy_arch="arm64"), "mpy_arch 'arm64'"),
        (lambda d: d.update(usb=[{"vid": "2e8a", "pid": "5"}]), "usb[0]"),
        (lambda d: d.update(max_threads=0), "'max_threads' must be positive"),
        (lambda d: d.update(max_threads=True), "'max_threads' must be a int"),
        (lambda d: d["flash"].update(family_id="e48bff56"), "flash.family_id"),
        (lambda d: d["flash"].update(method="dfu"), "flash.method"),
        (lambda d: d.update(id="pico3"), "does not match the file name"),
        (lambda d: d["pins"].pop("uart"), "pins.uart"),
        (lambda d: d["micropython"].pop("board"), "'micropython' must be"),
    ],
)
def test_a_malformed_board_file_is_one_line_naming_the_file(tmp_path, change, problem):
    data = json.loads((BOARDS_DIR / "pico.json").read_text())
    change(data)
    path = tmp_path / "pico.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError) as e:
        load_board(path)
    text = str(e.value)
    assert "\n" not in text and str(path) in text and problem in text


def test_a_board_file_that_is_not_json_names_the_line(tmp_path):
    shutil.copy(BOARDS_DIR / "esp32.json", tmp_path / "esp32.json")
    (tmp_path / "pico.json").write_text('{"id": "pico",\n  "name": }')
    with pytest.raises(UserError, match=r"pico.json is not valid JSON \(line 2"):
        all_boards(tmp_path)
    assert get_board("esp32", tmp_path).id == "esp32"


def test_match_usb_finds_every_board_sharing_an_id():
    assert [b.id for b in match_usb(0x2E8A, 0x0005)] == ["pico", "pico2", "pico_w"]
    assert [b.id for b in match_usb("303a", "4001")] == ["esp32s3"]
    assert [b.id for b in match_usb("303A", "1001")] == ["esp32c3", "esp32s3"]
    assert [b.id for b in match_usb(0x10C4, 0xEA60)] == ["esp32", "esp32c3", "esp32s3"]
    assert match_usb(0x1234, 0x5678) == []
    assert match_usb(None, None) == []


def test_connected_boards_keeps_only_ports_with_known_ids():
    ports = [
        port_info("/dev/ttyACM1", 0x2E8A, 0x0005, "Board in FS mode"),
        port_info("/dev/ttyS0", None, None),
        port_info("/dev/ttyUSB0", 0x0BDA, 0x8152, "some other USB thing"),
        port_info("/dev/ttyACM0", 0x303A, 0x4001, "ESP32-S3"),
    ]
    found = connected_boards(lambda: ports)
    assert [(c.port, c.usb_id) for c in found] == [
        ("/dev/ttyACM0", "303a:4001"),
        ("/dev/ttyACM1", "2e8a:0005"),
    ]
    assert [b.id for b in found[0].boards] == ["esp32s3"]
    assert [b.id for b in found[1].boards] == ["pico", "pico2", "pico_w"]
    assert connected_boards(lambda: []) == []


def test_boards_command_prints_json_with_every_board(capsys):
    assert main(["boards", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == EXPECTED_IDS
    assert rows[0] == json.loads((BOARDS_DIR / "esp32.json").read_text())


def test_boards_command_prints_a_table_row_per_board(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for b in all_boards():
        assert b.id in out and b.mpy_arch in out


def test_boards_table_fits_80_columns_one_line_per_board(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # rich's width when stdout is no terminal
    assert main(["boards"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    for b in all_boards():
        (row,) = [line for line in lines if line.split()[:1] == [b.id]]
        assert row.rstrip().endswith(b.name), row  # the whole name, on the board's own line
    assert lines[0].split() == ["id", "chip", "arch", "flash", "heap", "thr", "USB", "name"]


def test_detect_without_boards_is_not_an_error(capsys, monkeypatch):
    ports = [port_info("/dev/ttyS0", None, None)]
    monkeypatch.setattr("host_tools.cli.detect_cmd.connected_boards", lambda: connected_boards(lambda: ports))
    assert main(["detect"]) == 0
    assert "no boards found" in capsys.readouterr().out


def test_detect_lists_a_plugged_in_pico(capsys, monkeypatch):
    ports = [port_info("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode")]
    monkeypatch.setattr("host_tools.cli.detect_cmd.connected_boards", lambda: connected_boards(lambda: ports))
    assert main(["detect", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "port": "/dev/ttyACM0",
            "usb": "2e8a:0005",
            "description": "Board in FS mode",
            "boards": ["pico", "pico2", "pico_w"],
        }
    ]


def test_cli_unknown_board_exits_2_with_one_line(capsys, tmp_path):
    (tmp_path / "main.py").write_text("print(1)\n")
    assert main(["build", str(tmp_path), "--board", "nope", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("zoo-micro build: unknown board 'nope'")


def test_the_boards_table_in_the_docs_matches_the_board_files():
    text = (BOARDS_DIR.parent / "docs" / "build-and-flash.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] in EXPECTED_IDS:
            rows[cells[0]] = cells
    assert sorted(rows) == EXPECTED_IDS
    for b in all_boards():
        _, _, arch, flashing, heap, threads, usb, firmware = rows[b.id]
        assert (arch, heap, threads, firmware) == (
            b.mpy_arch,
            f"{b.heap_kb} KB",
            str(b.max_threads),
            b.firmware,
        )
        assert usb == ", ".join(b.usb_ids())
        assert (b.flash.get("offset") or b.flash["family_id"]) in flashing


def test_detect_table_fits_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    ports = [
        port_info("/dev/serial/by-id/usb-Silicon_Labs_CP2102", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge"),
        port_info("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode"),
    ]
    monkeypatch.setattr("host_tools.cli.detect_cmd.connected_boards", lambda: connected_boards(lambda: ports))
    assert main(["detect"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line.split()[:2] for line in lines if line.startswith("/dev/")]
    assert rows == [["/dev/serial/by-id/usb-Silicon_Labs_CP2102", "10c4:ea60"], ["/dev/ttyACM0", "2e8a:0005"]]
