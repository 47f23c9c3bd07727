"""SKF (GM/T 0016) key libraries over ctypes: the second key backend's driver layer.

* :mod:`.ffi` — the standard's structures and prototypes.
* :mod:`.sar` — every SAR_* code mapped to one typed error.
* :mod:`.libkind` — PKCS#11 or SKF, and a DLL's machine type (32-bit DLLs).
* :mod:`.library` — :class:`SkfLibrary` and its device/application/container objects.
* :mod:`.flags` — SKF PIN counts as the TokenFlags the UI reads.

See docs/keys.md, "SKF (GM/T 0016) libraries".
"""

from __future__ import annotations

import importlib
from typing import Any

# The names below are loaded on first use (PEP 562): loading any PKCS#11 module imports
# ``.libkind`` for its architecture check, and with it this package — which used to build
# every ctypes table of the SKF standard (≈ 12 ms) before a key could be shown or a PIN asked.
_HOME = {
    "token_flags": "flags",
    **dict.fromkeys(("elf_machine", "is_skf_library", "library_kind", "pe_machine", "process_machine"),
                    "libkind"),
    **dict.fromkeys(("ContainerCert", "DeviceEvent", "DeviceInfo", "EccPublicKey", "PinInfo", "RsaPublicKey",
                     "SkfApplication", "SkfContainer", "SkfDevice", "SkfLibrary", "parse_ecc_signature",
                     "poll_events"), "library"),
    **dict.fromkeys(("SAR_ERRORS", "error_for"), "sar"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "SAR_ERRORS", "ContainerCert", "DeviceEvent", "DeviceInfo", "EccPublicKey", "PinInfo", "RsaPublicKey",
    "SkfApplication", "SkfContainer", "SkfDevice", "SkfLibrary", "elf_machine", "error_for",
    "is_skf_library", "library_kind", "parse_ecc_signature", "pe_machine", "poll_events",
    "process_machine", "token_flags",
]
