"""The state store survives power loss: a MicroPython process killed (SIGKILL) at random moments
while it saves always restarts with either the previous or the new state, never an error."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from host_tools.interpreter import PROJECT_ROOT, micropython_env, micropython_path

KILLS = 200

# Saves generation after generation; each generation is a consistent set of keys.
WRITER = """
import sys
from zoo_micro.state import StateMachineManager
s = StateMachineManager()
s.configure(path="state.json")
s.load()
gen = s.get_state("t", "gen", 0)
print("start", gen)
while True:
    gen += 1
    s.set_state("t", "gen", gen)
    s.set_state("t", "items", {"a": gen, "b": "x" * (gen % 50), "c": [gen] * 8})
    s.save()
    print("saved", gen)
"""

READER = """
from zoo_micro.state import StateMachineManager
import json
s = StateMachineManager()
s.configure(path="state.json")
s.load()
print(json.dumps({"gen": s.get_state("t", "gen", 0), "items": s.get_state("t", "items")}))
"""


def test_sigkill_during_saves_always_restarts_with_old_or_new_state(tmp_path: Path):
    (tmp_path / "writer.py").write_text(WRITER)
    (tmp_path / "reader.py").write_text(READER)
    env = micropython_env([PROJECT_ROOT])
    cmd = [micropython_path(), "-X", "heapsize=96K"]
    rng = random.Random(1234)
    last_saved = 0
    for i in range(KILLS):
        proc = subprocess.Popen(cmd + ["writer.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline().split()
        assert first[0] == "start", first
        started_from = int(first[1])
        # The state it booted with is the last fully saved generation, or the one being written.
        assert started_from in (last_saved, last_saved + 1), (i, started_from, last_saved)
        time.sleep(rng.uniform(0, 0.02))
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.stdout.read().split("\n")[:-1]  # the last piece may be cut mid-line
        proc.wait()
        saved = [int(line.split()[1]) for line in out if line.startswith("saved ")]
        last_saved = saved[-1] if saved else started_from
        r = subprocess.run(cmd + ["reader.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        state = json.loads(r.stdout.strip().splitlines()[-1])
        gen = state["gen"]
        assert gen in (last_saved, last_saved + 1), (i, gen, last_saved)
        if gen:
            # Never a mix of two generations: every key comes from the same save.
            assert state["items"]["a"] == gen and state["items"]["b"] == "x" * (gen % 50)
        last_saved = gen
    assert last_saved > KILLS // 2  # saves really happened between the kills
