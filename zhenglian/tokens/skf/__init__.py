"""SKF (GM/T 0016) key libraries over ctypes: the second key backend's driver layer.

* :mod:`.ffi` — the standard's structures and prototypes.
* :mod:`.sar` — every SAR_* code mapped to one typed error.
* :mod:`.libkind` — PKCS#11 or SKF, and a DLL's machine type (32-bit DLLs).
* :mod:`.library` — :class:`SkfLibrary` and its device/application/container objects.
* :mod:`.flags` — SKF PIN counts as the TokenFlags the UI reads.

See docs/keys.md, "SKF (GM/T 0016) libraries".
"""

from zhenglian.tokens.skf.flags import token_flags
from zhenglian.tokens.skf.libkind import (
    elf_machine,
    is_skf_library,
    library_kind,
    pe_machine,
    process_machine,
)
from zhenglian.tokens.skf.library import (
    ContainerCert,
    DeviceEvent,
    DeviceInfo,
    EccPublicKey,
    PinInfo,
    RsaPublicKey,
    SkfApplication,
    SkfContainer,
    SkfDevice,
    SkfLibrary,
    parse_ecc_signature,
    poll_events,
)
from zhenglian.tokens.skf.sar import SAR_ERRORS, error_for

__all__ = [
    "SAR_ERRORS", "ContainerCert", "DeviceEvent", "DeviceInfo", "EccPublicKey", "PinInfo", "RsaPublicKey",
    "SkfApplication", "SkfContainer", "SkfDevice", "SkfLibrary", "elf_machine", "error_for",
    "is_skf_library", "library_kind", "parse_ecc_signature", "pe_machine", "poll_events",
    "process_machine", "token_flags",
]
