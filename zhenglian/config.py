"""User settings, one JSON file under the data directory, over the deployment's defaults.

Settings are not secret (no PIN, no token); the server session token lives in
the OS keyring instead.  Unknown keys are kept so a newer version's settings
survive an older one.

Layers, each overriding the one before: the built-in defaults below; the
deployment's read-only defaults (:mod:`zhenglian.deployment`: the signing server
an installer or administrator presets); the user's settings file.  A value equal
to the deployment's is not written to the user's file, so a deployment that moves
its server reaches every user who did not choose another one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from zhenglian import deployment, paths
from zhenglian.errors import ConfigError


@dataclass
class Settings:
    # Extra PKCS#11 module files the user added (full paths).
    extra_modules: list[str] = field(default_factory=list)
    server_url: str = ""
    ca_bundle: str = ""  # extra CA certificates (PEM) for the signing server's TLS
    language: str = "zh_CN"
    autostart: bool = False
    key_poll_ms: int = 500
    usb_poll_ms: int = 2000
    task_poll_s: int = 60
    log_level: str = "INFO"
    reminder_days: list[int] = field(default_factory=lambda: [90, 30, 15, 7, 3, 1])
    bridge_port: int = 21881
    allowed_origins: list[str] = field(default_factory=list)
    timestamp_url: str = ""
    est_url: str = ""  # online renewal endpoint when the CA's manifest has none (demo CA)
    demo: bool = False  # trust the demo CA roots (set by `zhenglian demo init`)
    pin_cache_idle_s: int = 300
    # Sign the seal-use register's head with the key at the end of each batch (docs/register.md).
    register_anchor: bool = False
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)
    # The deployment's defaults under these settings (values, where each came from, bad files).
    _deployment: deployment.Defaults = field(default_factory=deployment.Defaults, repr=False)
    # What the file held for these settings when they were read or written (None: no file then).
    _saved: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, file: Path | None = None, defaults: deployment.Defaults | None = None) -> Settings:
        """The user's file over the deployment's defaults (``defaults`` None: read them now)."""
        deployed = deployment.load() if defaults is None else defaults
        file = file or paths.settings_file()
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            fresh = cls(**_copied(deployed.values), _deployment=deployed)
            fresh._saved = copy.deepcopy(fresh._file_data())
            return fresh
        except (OSError, ValueError) as exc:
            raise ConfigError(file=str(file), problem=str(exc)) from None
        if not isinstance(raw, dict):
            raise ConfigError(file=str(file), problem="顶层应为对象 / top level must be an object")
        known = {f.name: f for f in fields(cls) if not f.name.startswith("_")}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            if key in known:
                default = getattr(cls(), key)
                if type(default) is not type(value) and not (isinstance(default, int) and type(value) is int):
                    raise ConfigError(file=str(file), problem=f"{key} 类型错误 / {key} has the wrong type")
                values[key] = value
            else:
                extra[key] = value
        settings = cls(**{**_copied(deployed.values), **values}, _extra=extra, _deployment=deployed)
        settings._saved = copy.deepcopy(settings._file_data())
        return settings

    def deployed(self, key: str) -> Any:
        """The deployment's value for ``key`` (None when it sets none)."""
        return self._deployment.values.get(key)

    def _file_data(self) -> dict[str, Any]:
        """What :meth:`save` writes: every value but the deployment's, and the unknown keys kept."""
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        for key, value in self._deployment.values.items():
            if data.get(key) == value:
                del data[key]  # the deployment's value: it follows the deployment, not the user's file
        data.update(self._extra)
        return data

    def save(self, file: Path | None = None, *, chosen: Iterable[str] = ()) -> None:
        """Write the settings this object changed since it was loaded (or last saved), and the
        ones named in ``chosen`` (what the operator confirmed in the settings dialog) in any case.

        The file is read again under its lock and only those values are put over it: the tray
        saving a flag never writes back an old server address over one a command line (``demo
        init``) set meanwhile, nor the values of a file the operator deleted to start afresh.
        A file that no longer reads is replaced by these settings whole.
        """
        file = file or paths.settings_file()
        # Imported here: Settings.load runs before the tray icon, saving never does.
        from zhenglian import fsutil

        ours = self._file_data()
        with fsutil.locked(file):
            try:
                current = json.loads(file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                current = {}
            except (OSError, ValueError):
                current = None
            if isinstance(current, dict):
                base = self._saved if self._saved is not None else {}
                forced = set(chosen)
                for key in base.keys() | ours.keys() | forced:
                    if key in ours and (key in forced or key not in base or ours[key] != base[key]):
                        current[key] = ours[key]
                    elif key not in ours and (key in base or key in forced):
                        current.pop(key, None)
                data = current
            else:
                data = ours
            fsutil.atomic_write_json(file, data)
        self._saved = copy.deepcopy(ours)


def _copied(values: dict[str, Any]) -> dict[str, Any]:
    """Fresh lists, so editing a setting never edits the deployment's value."""
    return {k: list(v) if isinstance(v, list) else v for k, v in values.items()}
