"""What kind of library a file is, before and after loading it.

* :func:`pe_machine` / :func:`elf_machine` read the machine type from a
  Windows DLL's PE header or an ELF header, without loading the file, so a
  32-bit-only SKF DLL is reported as such instead of failing with an obscure
  loader error (a 64-bit process cannot load it).
* :func:`library_kind` tells a PKCS#11 module (exports ``C_GetFunctionList``)
  from an SKF library (exports ``SKF_EnumDev``).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from pathlib import Path
from typing import Literal

from zhenglian.errors import SkfWrongArchitecture

Machine = Literal["x86", "x64", "arm64", "arm", "other"]
Kind = Literal["pkcs11", "skf", "both"]

_PE_MACHINES: dict[int, Machine] = {0x014C: "x86", 0x8664: "x64", 0xAA64: "arm64", 0x01C4: "arm"}
_ELF_MACHINES: dict[int, Machine] = {3: "x86", 62: "x64", 183: "arm64", 40: "arm"}
_MAX_PE_OFFSET = 1 << 16  # e_lfanew beyond this is not a real DLL


def _read_at(f, offset: int, size: int) -> bytes:  # noqa: ANN001 - a binary file object
    f.seek(offset)
    return f.read(size)


def pe_machine(path: str | os.PathLike[str]) -> Machine | None:
    """Machine of a PE file ("x86", "x64", "arm64", "arm", "other"), or None when not a PE file."""
    try:
        with open(path, "rb") as f:
            mz = _read_at(f, 0, 64)
            if len(mz) < 64 or mz[:2] != b"MZ":
                return None
            (e_lfanew,) = struct.unpack_from("<I", mz, 0x3C)
            if e_lfanew < 64 or e_lfanew > _MAX_PE_OFFSET:
                return None
            head = _read_at(f, e_lfanew, 6)
    except OSError:
        return None
    if len(head) < 6 or head[:4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", head, 4)
    return _PE_MACHINES.get(machine, "other")


def elf_machine(path: str | os.PathLike[str]) -> Machine | None:
    """Machine of an ELF file, or None when not an ELF file."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return None
    (machine,) = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)
    return _ELF_MACHINES.get(machine, "other")


def file_machine(path: str | os.PathLike[str]) -> Machine | None:
    return pe_machine(path) or elf_machine(path)


def process_machine() -> Machine:
    """The machine this Python process runs as (what it can load)."""
    m = platform.machine().lower()
    bits64 = sys.maxsize > 2**32
    if m in ("amd64", "x86_64", "x64"):
        return "x64" if bits64 else "x86"
    if m in ("i386", "i486", "i586", "i686", "x86"):
        return "x86"
    if m in ("arm64", "aarch64"):
        return "arm64" if bits64 else "arm"
    if m.startswith("arm"):
        return "arm"
    return "other"


MACHINE_NAMES = {"x86": "32 位 x86 (32-bit x86)", "x64": "64 位 x64 (64-bit x64)",
                 "arm64": "64 位 ARM (ARM64)", "arm": "32 位 ARM (32-bit ARM)", "other": "其他架构 (other)"}


def machine_mismatch(path: str | os.PathLike[str]) -> Machine | None:
    """The file's machine when this process cannot load it, else None."""
    m = file_machine(path)
    if m is None or m == "other":
        return None
    ours = process_machine()
    if m == ours:
        return None
    # Windows on ARM64 loads x64 DLLs into x64 (emulated) processes only; no mixing.
    return m


def architecture_problem(path: str | os.PathLike[str]) -> SkfWrongArchitecture | None:
    """The error to show when this process cannot load the file for its machine type, else None."""
    wrong = machine_mismatch(path)
    if wrong is None:
        return None
    return SkfWrongArchitecture(path=str(path), machine=MACHINE_NAMES[wrong], ours=MACHINE_NAMES[process_machine()])


def load(path: str | os.PathLike[str]) -> ctypes.CDLL:
    """Load with the SKF calling convention: stdcall on Windows, cdecl elsewhere."""
    if sys.platform == "win32":
        return ctypes.WinDLL(str(path))  # type: ignore[attr-defined,unused-ignore]
    return ctypes.CDLL(str(path), mode=getattr(os, "RTLD_LOCAL", 0) | getattr(os, "RTLD_NOW", 0))


def library_kind(path: str | os.PathLike[str]) -> Kind | None:
    """"pkcs11", "skf", "both" or None (not loadable here, or neither)."""
    p = Path(path)
    if not p.is_file() or machine_mismatch(p):
        return None
    try:
        lib = load(p)
    except OSError:
        return None
    has_p11 = hasattr(lib, "C_GetFunctionList")
    has_skf = hasattr(lib, "SKF_EnumDev")
    if has_p11 and has_skf:
        return "both"
    return "pkcs11" if has_p11 else "skf" if has_skf else None


def is_skf_library(path: str | os.PathLike[str]) -> bool:
    return library_kind(path) in ("skf", "both")


def skf_architecture_problems(manifest: object) -> list[SkfWrongArchitecture]:
    """A manifest's SKF libraries that are installed but built for another architecture (a
    32-bit-only DLL): shown on the card of a key whose driver cannot be used, and by doctor."""
    from zhenglian.manifest import candidate_paths

    out = []
    for path in candidate_paths(manifest, skf=True):  # type: ignore[arg-type]
        problem = architecture_problem(path) if path.is_file() else None
        if problem is not None:
            out.append(problem)
    return out
