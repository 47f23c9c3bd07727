"""Diagnostics: what the support desk needs to know, in one structure.

Shared by ``zhenglian doctor`` and the GUI's diagnostics page.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from zhenglian import __version__, paths
from zhenglian.manifest import candidate_paths, current_os
from zhenglian.services import Context
from zhenglian.tokens import snapshot, usb

PACKAGES = ("python-pkcs11", "pyhanko", "pyhanko-certvalidator", "asn1crypto", "cryptography",
            "PySide6_Essentials", "httpx", "keyring")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _skf_file(p: Path, ctx: Context | None = None) -> dict[str, Any]:
    """An SKF library named by a manifest: present, loaded, its machine type, and why it cannot load
    (a 32-bit DLL for a 64-bit process is said as such)."""
    from zhenglian.tokens.skf import libkind

    present = p.is_file()
    s = ctx.tokens.status_for(p, "skf") if present and ctx is not None else None
    problem = (s.error if s is not None else None) or (libkind.architecture_problem(p) if present else None)
    return {
        "path": str(p),
        "present": present,
        "loaded": bool(s and s.loaded),
        "machine": libkind.file_machine(p) if present else None,
        "error": problem.to_dict() if problem else None,
        "library": s.library if s is not None else {},
    }


def _deployment(ctx: Context) -> dict[str, Any]:
    """The installer's / administrator's defaults under the settings: values, their files, bad files."""
    d = getattr(ctx.settings, "_deployment", None)
    if d is None:
        return {"values": {}, "sources": {}, "problems": []}
    return {"values": dict(d.values), "sources": dict(d.sources), "problems": list(d.problems)}


def collect(ctx: Context) -> dict[str, Any]:
    ctx.tokens.load_all()
    devices = usb.scan()
    snap = snapshot.take(ctx.tokens, devices)
    statuses = {s.path: s for s in ctx.tokens.statuses()}
    drivers = []
    for m in ctx.manifests.manifests:
        cands = []
        for p in candidate_paths(m):
            s = ctx.tokens.status_for(p) if p.is_file() else None
            # A second name for an already listed file (a symlink) is not a second driver.
            duplicate = bool(s and s.path != str(p))
            cands.append({
                "path": str(p),
                "present": p.is_file(),
                "same_as": s.path if duplicate and s else None,
                "loaded": bool(s and s.loaded),
                "error": s.error.to_dict() if s and s.error else None,
            })
        skf = [_skf_file(p, ctx) for p in candidate_paths(m, skf=True)]
        drivers.append({
            "id": m.id,
            "kind": m.kind,
            "name_zh": m.name_zh,
            "name_en": m.name_en,
            "found": any(c["present"] for c in cands) or any(x["present"] for x in skf),
            "modules": cands,
            "skf_modules": skf,
            "keys": sum(1 for k in snap.keys if k.ca_id == m.id or m.id in k.module_ids),
        })
    user_modules = [s.to_dict() for s in statuses.values() if "user" in s.claimed_by]
    return {
        "version": __version__,
        "os": f"{platform.system()} {platform.release()} ({current_os()}, {platform.machine()})",
        "python": sys.version.split()[0],
        "packages": {p: _version(p) for p in PACKAGES},
        "paths": {
            "data": str(paths.data_dir()),
            "settings": str(paths.settings_file()),
            "logs": str(paths.log_dir()),
            "drivers": str(paths.drivers_dir()),
            "user_drivers": str(paths.data_dir() / "drivers"),  # support staff's manifests, read after
            "resources": str(paths.resources_dir()),
        },
        "deployment": _deployment(ctx),
        "manifest_errors": [e.to_dict() | {"message": e.user_message()} for e in ctx.manifests.errors],
        "drivers": drivers,
        "user_modules": user_modules,
        "modules_loaded": [s.to_dict() for s in statuses.values() if s.loaded],
        "keys": [{"serial": k.serial, "label": k.label, "ca": k.ca_id, "module": k.module_path,
                  "backend": k.backend, "organization": k.organization(), "pin_state": k.flags.pin_state(),
                  "pin_tries_left": k.pin_tries_left} for k in snap.keys],
        "usb_devices": [d.id for d in devices],
        "usb_without_driver": [u.to_dict() for u in snap.unrecognised],
    }
