"""zoo_twin: an app's own main.py and workers on CPython, in the test's process."""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

import pytest

from host_tools.errors import UserError
from zoo_micro import decorators

NODE = """
from zoo_micro import BaseWorker, Master, event, worker

import settings


@worker(name="counter", delay_time=0.01, is_loop=True)
class Counter(BaseWorker):
    def __init__(self, props=None):
        super().__init__(props)
        self.n = 0

    def _execute(self):
        self.n += 1
        return self.n


@event("ping")
def on_ping(request):
    request.content["master"].publish("pong", request.content["n"] * settings.FACTOR)


master = Master("config.json")
master.run()
"""


def make_app(folder: Path, main: str = NODE) -> Path:
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(main))
    (folder / "settings.py").write_text("FACTOR = 10\n")
    (folder / "config.json").write_text('{"name": "twin-node"}')
    return folder


def test_twin_runs_the_master_main_py_builds_and_records_its_events(zoo_twin, tmp_path):
    twin = zoo_twin(make_app(tmp_path / "app"))
    assert twin.master.name == "twin-node"  # config.json read relative to the app, as on the board
    assert [twin.wait_for_event("counter_result").content for _ in range(3)] == [1, 2, 3]
    twin.publish("ping", {"master": twin.master, "n": 4})
    assert twin.wait_for_event("pong").content == 40


def test_each_twin_imports_the_app_afresh_and_leaves_the_registries_as_they_were(zoo_twin, tmp_path):
    before = (list(decorators.workers), list(decorators.handlers))
    app = make_app(tmp_path / "app")
    first = zoo_twin(app)
    first.wait_for_event("counter_result")
    first.stop()
    second = zoo_twin(app)
    assert second.wait_for_event("counter_result").content == 1
    assert [w.name for w in second.master.workers] == ["counter"]
    assert (list(decorators.workers), list(decorators.handlers)) == before


def test_hardware_modules_can_be_given_to_the_twin(zoo_twin, tmp_path):
    main = """
    from machine import ADC
    from zoo_micro import BaseWorker, Master

    class Probe(BaseWorker):
        is_loop = True

        def _execute(self):
            return ADC(26).read_u16()

    master = Master()
    master.register_worker("probe", Probe, props={"delay_time": 0.01})
    master.run()
    """
    app = make_app(tmp_path / "app", main)
    with pytest.raises(UserError, match=r"imports machine, which CPython does not have"):
        zoo_twin(app)
    fake = types.ModuleType("machine")
    fake.ADC = lambda pin: types.SimpleNamespace(read_u16=lambda: 1234)
    twin = zoo_twin(app, modules={"machine": fake})
    assert twin.wait_for_event("probe_result").content == 1234


def test_main_py_that_never_runs_a_master_is_refused(zoo_twin, tmp_path):
    app = make_app(tmp_path / "app", "print('no master here')\n")
    with pytest.raises(UserError, match=r"never called master.run\(\)"):
        zoo_twin(app)
