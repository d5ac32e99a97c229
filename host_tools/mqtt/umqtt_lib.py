"""umqtt.simple for the MicroPython unix port (virtual nodes, tests, the fleet bench).

Boards get it with `mpremote mip install umqtt.simple`. Here it comes from the package index once,
into a cache folder: the sdist, found through the index's JSON API (PEP 691) and unpacked with
tarfile. Both the archive and umqtt/simple.py are checked against pinned SHA-256 hashes. umqtt is
MIT-licensed (micropython-lib).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from host_tools.errors import UserError

PACKAGE = "micropython-umqtt.simple"
VERSION = "1.3.4"
SHA256 = "8555d2f654deb8eb0d724f79b0811a78cc94029d070f3d96bbd74288653d63a5"  # umqtt/simple.py
SDIST_SHA256 = "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f"
INDEX = "https://pypi.org/simple/micropython-umqtt-simple/"
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
    try:
        data = _download()
    except OSError as e:
        raise UserError(
            f"could not get {PACKAGE} {VERSION} from the package index ({e}); check the network, "
            f"or put its umqtt/simple.py in {target / 'umqtt'}"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix="zoo-umqtt-", dir=target.parent))
    (staged / "umqtt").mkdir()
    (staged / "umqtt" / "simple.py").write_bytes(data)
    (staged / "umqtt" / "__init__.py").write_text("")
    shutil.rmtree(target, ignore_errors=True)  # a damaged copy
    try:
        staged.rename(target)
    except OSError:
        shutil.rmtree(staged, ignore_errors=True)
        if not _intact(target / "umqtt" / "simple.py"):  # another process won the race, or not
            raise
    return target


def _download() -> bytes:
    """umqtt/simple.py out of the pinned sdist; UserError if the index serves another archive."""
    name = f"{PACKAGE}-{VERSION}.tar.gz"
    req = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        files = {f["filename"]: f for f in json.load(r)["files"]}
    if name not in files:
        raise UserError(f"{INDEX} lists no {name}")
    with urllib.request.urlopen(files[name]["url"], timeout=60) as r:
        sdist = r.read()
    digest = hashlib.sha256(sdist).hexdigest()
    if digest != SDIST_SHA256:
        raise UserError(f"{name} from {INDEX} has SHA-256 {digest}, not the pinned {SDIST_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and m.name.endswith("/umqtt/simple.py"))
        data = tar.extractfile(member).read()
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise UserError(f"umqtt/simple.py in {name} is not the pinned one")
    return data


def _intact(path: Path) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256
