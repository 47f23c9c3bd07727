"""Which USB keys are plugged in, by vendor and product id.

Lets the client say "a NETCA key is plugged in, but its driver is not
installed" — PKCS#11 cannot see a key whose driver is missing, USB can.
Linux reads sysfs (``$ZHENGLIAN_USB_SYSFS`` overrides the root, for tests);
Windows asks SetupAPI for present USB devices.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UsbDevice:
    vid: str  # upper-case hex, 4 digits
    pid: str
    manufacturer: str = ""
    product: str = ""
    location: str = ""

    @property
    def id(self) -> str:
        return f"{self.vid}:{self.pid}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def scan_sysfs(root: Path | None = None) -> list[UsbDevice]:
    root = root or Path(os.environ.get("ZHENGLIAN_USB_SYSFS", "/sys/bus/usb/devices"))
    out = []
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    for entry in entries:
        vid, pid = _read(entry / "idVendor"), _read(entry / "idProduct")
        if not (re.fullmatch(r"[0-9a-fA-F]{4}", vid) and re.fullmatch(r"[0-9a-fA-F]{4}", pid)):
            continue
        out.append(UsbDevice(vid.upper(), pid.upper(), _read(entry / "manufacturer"),
                             _read(entry / "product"), entry.name))
    return out


def scan_windows() -> list[UsbDevice]:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    setupapi = ctypes.WinDLL("setupapi", use_last_error=True)
    DIGCF_PRESENT, DIGCF_ALLCLASSES = 0x2, 0x4  # noqa: N806
    SPDRP_HARDWAREID = 0x1  # noqa: N806

    class SP_DEVINFO_DATA(ctypes.Structure):  # noqa: N801
        _fields_ = [("cbSize", wintypes.DWORD), ("ClassGuid", ctypes.c_byte * 16),
                    ("DevInst", wintypes.DWORD), ("Reserved", ctypes.c_void_p)]

    setupapi.SetupDiGetClassDevsW.restype = ctypes.c_void_p
    setupapi.SetupDiGetClassDevsW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR, wintypes.HWND, wintypes.DWORD]
    setupapi.SetupDiEnumDeviceInfo.argtypes = [ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(SP_DEVINFO_DATA)]
    setupapi.SetupDiGetDeviceRegistryPropertyW.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(SP_DEVINFO_DATA), wintypes.DWORD, ctypes.POINTER(wintypes.DWORD),
        ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
    setupapi.SetupDiDestroyDeviceInfoList.argtypes = [ctypes.c_void_p]

    handle = setupapi.SetupDiGetClassDevsW(None, "USB", None, DIGCF_PRESENT | DIGCF_ALLCLASSES)
    if not handle or handle == ctypes.c_void_p(-1).value:
        return []
    out: dict[str, UsbDevice] = {}
    try:
        index = 0
        while True:
            data = SP_DEVINFO_DATA()
            data.cbSize = ctypes.sizeof(SP_DEVINFO_DATA)
            if not setupapi.SetupDiEnumDeviceInfo(handle, index, ctypes.byref(data)):
                break
            index += 1
            buf = ctypes.create_unicode_buffer(1024)
            if not setupapi.SetupDiGetDeviceRegistryPropertyW(
                handle, ctypes.byref(data), SPDRP_HARDWAREID, None, buf, ctypes.sizeof(buf), None
            ):
                continue
            m = re.search(r"VID_([0-9A-F]{4})&PID_([0-9A-F]{4})", buf.value.upper())
            if m:
                dev = UsbDevice(m.group(1), m.group(2))
                out.setdefault(dev.id, dev)
    finally:
        setupapi.SetupDiDestroyDeviceInfoList(handle)
    return list(out.values())


def scan() -> list[UsbDevice]:
    """Present USB devices; empty (never an exception) where the OS will not tell."""
    try:
        if sys.platform.startswith("win"):
            return scan_windows()
        return scan_sysfs()
    except Exception as exc:  # a USB listing must never break key detection
        log.warning("USB scan failed: %s", type(exc).__name__)
        return []
