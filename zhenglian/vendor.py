"""Start a CA vendor's own client (from its manifest) when its key is not recognised."""

from __future__ import annotations

import subprocess
from pathlib import Path

from zhenglian import errors
from zhenglian.manifest import Manifest, current_os, expand


def find_vendor_client(m: Manifest) -> Path | None:
    for raw in m.vendor_client.get(current_os(), ()):
        p = Path(expand(raw))
        if p.is_file():
            return p
    return None


def start_vendor_client(m: Manifest) -> None:
    exe = find_vendor_client(m)
    if exe is None:
        raise errors.VendorClientMissing(name=m.vendor_client_name_zh or m.name_zh,
                                  name_en=m.vendor_client_name_en or m.name_en)
    subprocess.Popen([str(exe)], close_fds=True)  # noqa: S603 - path from our own manifest
