"""zoo-micro deploy: sync an app and zoo_micro to a board over its serial port, with mpremote.

zoo_micro goes to /lib/zoo_micro and the app to /, as .mpy compiled for the board's arch (as mip
installs), but main.py and boot.py, which a board runs as source. With romfs, zoo_micro and the app's
modules go as one ROMFS image into the board's ROMFS partition (mpremote's own writer), and only
main.py, boot.py and data files to the filesystem. Only files whose SHA-256, computed on the board,
differs from the local one are sent. New files are written under /.zoo_stage first and renamed into
place only when every one arrived, so a deploy that fails half-way leaves the previous app runnable.
A manifest (/.zoo_deploy.json, written last) lists what was deployed, so files an earlier deploy of
the same app left behind are removed.

plan.py decides what changes (no board needed), board_helper.py is the code the board runs for it,
session.py talks to the board.
"""

from host_tools.deploy.plan import (
    MANIFEST,
    STAGE,
    DeployResult,
    FileToCopy,
    check_app,
    plan_files,
)
from host_tools.deploy.session import BoardLost, BoardSession, Progress, deploy

__all__ = [
    "MANIFEST",
    "STAGE",
    "BoardLost",
    "BoardSession",
    "DeployResult",
    "FileToCopy",
    "Progress",
    "check_app",
    "deploy",
    "plan_files",
]
