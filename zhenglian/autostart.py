"""Start with the system: the Windows Run key, or an XDG autostart entry."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE = "zhenglian"


def command() -> list[str]:
    """How to start the tray app from here (a bundle's executable, or python -m)."""
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable)
        gui = exe.with_name("zhenglian-gui.exe") if os.name == "nt" else exe
        return [str(gui if gui.exists() else exe)]
    return [sys.executable, "-m", "zhenglian"]


def _xdg_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "autostart" / "zhenglian.desktop"


def is_enabled() -> bool:
    if sys.platform.startswith("win"):  # pragma: no cover - Windows only
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, VALUE)
                return True
        except OSError:
            return False
    return _xdg_file().exists()


def set_enabled(enabled: bool) -> None:
    if sys.platform.startswith("win"):  # pragma: no cover - Windows only
        import subprocess
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            if enabled:
                winreg.SetValueEx(key, VALUE, 0, winreg.REG_SZ, subprocess.list2cmdline(command()))
            else:
                try:
                    winreg.DeleteValue(key, VALUE)
                except FileNotFoundError:
                    pass
        return
    f = _xdg_file()
    if not enabled:
        f.unlink(missing_ok=True)
        return
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(
        "[Desktop Entry]\nType=Application\nName=zhenglian\nName[zh_CN]=证联客户端\n"
        f"Exec={shlex.join(command())}\nIcon=zhenglian\nX-GNOME-Autostart-enabled=true\nTerminal=false\n",
        encoding="utf-8",
    )
