"""zoo-micro new: a new app from host_tools/templates/app, ready for zoo-micro sim and pytest."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from host_tools.boards import get_board
from host_tools.errors import UserError

TEMPLATES = Path(str(resources.files("host_tools").joinpath("templates", "app")))
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def new_app(name: str, board: str = "esp32", parent: str | Path = ".") -> list[Path]:
    """Write the app folder parent/name; returns the files made."""
    if not NAME.match(name):
        raise UserError(f"{name!r} is not an app name: use letters, digits, - and _, starting with a letter")
    get_board(board)  # an unknown board is a UserError listing the known ones
    dest = Path(parent) / name
    if dest.exists():
        raise UserError(f"{dest} already exists; choose another name or remove it")
    made = []
    for src in sorted(TEMPLATES.rglob("*.tmpl")):
        target = dest / src.relative_to(TEMPLATES).with_suffix("")
        if target.name == "test_app.py":
            # pytest needs each test file's name unique when several apps' tests run together
            target = target.with_name(f"test_{name.replace('-', '_').lower()}.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(src.read_text()).substitute(name=name, board=board))
        made.append(target)
    return made
