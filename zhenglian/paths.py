"""Where things live: the data directory and the files shipped beside the code.

All state (settings, logs, PIN try counters, demo keys, outbox …) lives under a
single data directory: the platform's user data directory by default, or
``$ZHENGLIAN_HOME`` when set (tests and scripts use that).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "zhenglian"


def data_dir() -> Path:
    """The one directory that holds all of the client's state (created on demand)."""
    override = os.environ.get("ZHENGLIAN_HOME")
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def install_root() -> Path:
    """Folder that holds ``drivers/`` and ``resources/``.

    In a PyInstaller bundle that is the bundle folder; in a source checkout or
    an editable install it is the repository root.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def drivers_dir() -> Path:
    return Path(os.environ.get("ZHENGLIAN_DRIVERS_DIR") or install_root() / "drivers")


def resources_dir() -> Path:
    return install_root() / "resources"


def settings_file() -> Path:
    return data_dir() / "settings.json"


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
