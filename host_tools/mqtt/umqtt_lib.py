"""umqtt.simple for the MicroPython unix port (virtual nodes, tests, the fleet bench).

Boards get it with `mpremote mip install umqtt.simple`. Here it comes from PyPI through pip, once,
into a cache folder: the sdist has no setup.py, so pip stops before building it, but with
`--no-clean` it leaves the unpacked `umqtt/simple.py` behind, which is all the unix port needs.
The file is checked against a pinned SHA-256. umqtt is MIT-licensed (micropython-lib).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.errors import UserError

PACKAGE = "micropython-umqtt.simple"
VERSION = "1.3.4"
SHA256 = "8555d2f654deb8eb0d724f79b0811a78cc94029d070f3d96bbd74288653d63a5"
CACHE_ENV = "ZOO_MICRO_CACHE"


def cache_dir() -> Path:
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zoo-micro"


def umqtt_path(cache: Path | None = None) -> Path:
    """A folder holding umqtt/simple.py, to put on MICROPYPATH; fetched on first use."""
    target = (cache or cache_dir()) / f"umqtt-simple-{VERSION}"
    if _intact(target / "umqtt" / "simple.py"):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zoo-umqtt-", dir=target.parent) as tmp:
        work = Path(tmp)
        env = dict(os.environ, TMPDIR=str(work), PIP_DISABLE_PIP_VERSION_CHECK="1")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-clean"]
        cmd += ["-d", str(work / "dl"), f"{PACKAGE}=={VERSION}"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        found = [p for p in work.rglob("umqtt/simple.py") if _intact(p)]
        if not found:
            why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(
                f"could not get {PACKAGE} {VERSION} from PyPI ({why}); check the network, "
                f"or put its umqtt/simple.py in {target / 'umqtt'}"
            )
        staged = work / "staged"
        (staged / "umqtt").mkdir(parents=True)
        shutil.copyfile(found[0], staged / "umqtt" / "simple.py")
        (staged / "umqtt" / "__init__.py").write_text("")
        try:
            staged.rename(target)
        except OSError:
            if not _intact(target / "umqtt" / "simple.py"):  # another process won the race, or not
                raise
    return target


def _intact(path: Path) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256
