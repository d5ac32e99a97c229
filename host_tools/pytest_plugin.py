"""pytest fixtures for zoo_micro apps, installed with zoo-micro (entry point pytest11).

zoo_board: start an app on a virtual board (MicroPython unix port, the board's heap, fake peripherals,
a serial port); returns a host_tools.sim.VirtualBoard. zoo_twin: run an app's Master on CPython in this
process; returns a host_tools.sim.twin.Twin. Both stop what they started when the test ends, and a
failing test's report shows what each board printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def zoo_board(request):
    """Factory: zoo_board(app, board="esp32", start=True, **options) -> a VirtualBoard.

    Options are VirtualBoard's (flash_dir, link, heap_kb, flash_kb, install_lib). With start=False
    the board is returned before it boots, to script inputs the app reads at once. Script its peripherals
    (set_pin, set_adc, i2c_device, uart_send, set_rtc), read what it prints (output, read_output,
    wait_for_output, wait_for_event), reset it (reset, soft_reset, wait_for_reset), or give its
    port to mpremote.
    """
    from host_tools.sim.virtual_board import VirtualBoard

    boards: list[VirtualBoard] = []

    def make(
        app: str | Path | None = None, board: str = "esp32", start: bool = True, **options
    ) -> VirtualBoard:
        vb = VirtualBoard(app, board=board, **options)
        boards.append(vb)
        return vb.start() if start else vb

    yield make
    for i, vb in enumerate(boards):
        vb.stop()
        request.node.add_report_section("call", f"zoo board {i} ({vb.profile.id}) printed", vb.output[-6000:])


@pytest.fixture
def zoo_twin():
    """Factory: zoo_twin(app, modules=None) -> a started Twin (the app's Master on CPython)."""
    from host_tools.sim.twin import Twin

    twins: list[Twin] = []

    def start(app: str | Path, modules: dict | None = None) -> Twin:
        twin = Twin(app, modules)
        twins.append(twin)
        return twin.start()

    yield start
    for twin in reversed(twins):
        twin.stop()
