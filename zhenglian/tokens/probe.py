"""Try a PKCS#11 module in a child process before this process loads it.

A broken driver must be reported, never fatal: a module whose
``C_GetFunctionList`` returns CKR_OK with a NULL list, a NULL entry point, or
a ``C_Initialize`` that crashes would take python-pkcs11 — and the tray app,
at every start — down with it (issue 15.5).  So the first time a module file
is seen, ``python -m zhenglian.tokens.probe PATH`` (in a packaged build: the
app itself with :data:`PROBE_FLAG`) loads it in a child process, bounded in
time, and checks:

- the library loads and exports ``C_GetFunctionList``;
- ``C_GetFunctionList`` returns CKR_OK and a non-NULL list whose version is
  a Cryptoki 2.x or 3.x, with every entry point the client calls non-NULL;
- ``C_Initialize(NULL)``, ``C_GetSlotList`` and ``C_Finalize`` return
  without crashing.

The verdict is cached in the data directory under the file's identity (path,
size, mtime and SHA-256), so each module file is probed once: later starts
only ``stat`` the file (a changed file is probed again).  Only definite
verdicts are cached — "works" and "broken" (crash, NULL list, bad version,
missing entry points); a time-out or a ``C_Initialize`` that returns an error
(the key's configuration, not a crash) is tried again next time.

The child imports nothing but the standard library: this module must stay that way.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zhenglian import selfexec
from zhenglian.tokens import p11raw

PROBE_FLAG = "--probe-pkcs11-module"  # argv[1] of a packaged build (zhenglian.selfexec)
PROBE_TIMEOUT_S = 20.0  # a USB driver may take seconds to enumerate its readers
CACHE_NAME = "module-probes.json"
CACHE_MAX_ENTRIES = 200
MAX_OUTPUT = 4096
MAX_SLOTS = 1024

CKR_OK = 0x0
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191

_ORDER = p11raw.FUNCTION_ORDER
# What python-pkcs11 and zhenglian call: a NULL one would be a jump to address 0.
REQUIRED = (
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetSlotList", "C_GetSlotInfo", "C_GetTokenInfo",
    "C_GetMechanismList", "C_OpenSession", "C_CloseSession", "C_GetSessionInfo", "C_Login", "C_Logout",
    "C_GetAttributeValue", "C_FindObjectsInit", "C_FindObjects", "C_FindObjectsFinal", "C_SignInit", "C_Sign",
)

_WINDOWS = sys.platform.startswith("win")
_FUNCTYPE = ctypes.WINFUNCTYPE if _WINDOWS else ctypes.CFUNCTYPE  # type: ignore[attr-defined]
CK_ULONG = ctypes.c_ulong
CK_RV = CK_ULONG


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class _FunctionList(ctypes.Structure):
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [("version", _Version)] + [(name, ctypes.c_void_p) for name in _ORDER]


_INITIALIZE = _FUNCTYPE(CK_RV, ctypes.c_void_p)
_FINALIZE = _FUNCTYPE(CK_RV, ctypes.c_void_p)
_GETSLOTLIST = _FUNCTYPE(CK_RV, ctypes.c_ubyte, ctypes.POINTER(CK_ULONG), ctypes.POINTER(CK_ULONG))


@dataclass(frozen=True)
class ProbeResult:
    """``ok``: safe to load in this process.  ``final``: a definite verdict (cached)."""

    ok: bool
    detail: str = ""
    version: str = ""
    slots: int = -1
    final: bool = True


# --- the child ---------------------------------------------------------------------------


def run_checks(path: str) -> ProbeResult:
    """The checks themselves (in the child: a crash here kills only the child)."""
    loader = ctypes.WinDLL if _WINDOWS else ctypes.CDLL  # type: ignore[attr-defined]
    try:
        lib = loader(path)
    except OSError as exc:
        return ProbeResult(False, f"cannot be loaded: {str(exc).split(': ')[-1][:120]}")
    try:
        get_list = lib.C_GetFunctionList
    except AttributeError:
        return ProbeResult(False, "no C_GetFunctionList")
    get_list.restype = CK_RV
    get_list.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionList))]
    table = ctypes.POINTER(_FunctionList)()
    rv = int(get_list(ctypes.byref(table)))
    if rv != CKR_OK:
        return ProbeResult(False, f"C_GetFunctionList returned {rv:#x}")
    if not table:
        return ProbeResult(False, "C_GetFunctionList returned a NULL function list")
    fl = table.contents
    version = f"{fl.version.major}.{fl.version.minor}"
    if fl.version.major not in (2, 3):
        return ProbeResult(False, f"function list version {version} is not Cryptoki 2.x or 3.x", version)
    missing = [name for name in REQUIRED if not getattr(fl, name)]
    if missing:
        return ProbeResult(False, "NULL entry points: " + ", ".join(missing[:6]), version)
    rv = int(_INITIALIZE(fl.C_Initialize)(None))
    if rv not in (CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED):
        # The driver answered (no crash): its configuration or device, python-pkcs11 reports it.
        return ProbeResult(True, f"C_Initialize returned {rv:#x}", version, final=False)
    try:
        count = CK_ULONG(0)
        get_slots = _GETSLOTLIST(fl.C_GetSlotList)
        rv = int(get_slots(0, None, ctypes.byref(count)))
        if rv != CKR_OK:
            return ProbeResult(True, f"C_GetSlotList returned {rv:#x}", version, final=False)
        if count.value > MAX_SLOTS:
            return ProbeResult(False, f"C_GetSlotList claims {count.value} slots", version)
        slots = (CK_ULONG * max(count.value, 1))()
        rv = int(get_slots(0, slots, ctypes.byref(count)))
        if rv != CKR_OK:
            return ProbeResult(True, f"C_GetSlotList returned {rv:#x}", version, final=False)
        return ProbeResult(True, "", version, int(count.value))
    finally:
        _FINALIZE(fl.C_Finalize)(None)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m zhenglian.tokens.probe MODULE", file=sys.stderr)
        return 2
    result = run_checks(args[0])
    selfexec.write_answer(json.dumps(asdict(result)))
    return 0


# --- the parent ---------------------------------------------------------------------------


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def probe_in_child(path: Path, timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Run the checks on ``path`` in a child process; the verdict, whatever the child does."""
    try:
        proc = selfexec.run(PROBE_FLAG, [str(path)], timeout_s)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"no answer within {timeout_s:.0f} s", final=False)
    except OSError as exc:
        return ProbeResult(False, f"probe could not start: {type(exc).__name__}", final=False)
    if proc.returncode < 0:
        return ProbeResult(False, f"crashed ({_signal_name(proc.returncode)}) while being checked")
    out = proc.stdout[-MAX_OUTPUT:].decode("utf-8", "replace").strip().splitlines()
    try:
        data = json.loads(out[-1]) if out else None
        result = ProbeResult(bool(data["ok"]), str(data["detail"])[:200], str(data["version"])[:16],
                             int(data["slots"]), bool(data["final"]))
    except (ValueError, KeyError, TypeError, IndexError):
        # Exited without a verdict: the library ended the process (exit() in a constructor...).
        return ProbeResult(False, f"the check ended without an answer (exit code {proc.returncode})")
    return result


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ProbeCache:
    """Verdicts by module file, in ``<data dir>/module-probes.json`` (and in memory)."""

    def __init__(self, file: Path | None = None) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] | None = None

    @property
    def file(self) -> Path:
        if self._file is None:
            from zhenglian import paths

            self._file = paths.data_dir() / CACHE_NAME
        return self._file

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            try:
                raw = self.file.read_bytes()[: 1 << 20]
                data = json.loads(raw.decode("utf-8"))
                self._entries = {k: v for k, v in data.items() if isinstance(v, dict)} \
                    if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def _store(self, key: str, entry: dict[str, Any]) -> None:
        """Put one verdict into the file as it is now: the command line's verdicts stay."""
        from zhenglian import fsutil

        try:
            with fsutil.locked(self.file):
                self._entries = None  # read again: another process may have written meanwhile
                entries = self._load()
                entries.pop(key, None)
                entries[key] = entry
                while len(entries) > CACHE_MAX_ENTRIES:
                    entries.pop(next(iter(entries)))
                fsutil.atomic_write_json(self.file, entries)
        except OSError:
            pass  # a read-only or full data directory: probe again next time

    def verdict(self, path: Path, probe: Any = probe_in_child) -> ProbeResult:
        """The cached verdict for this file, or a fresh probe (cached when definite)."""
        key = str(path.resolve())
        st = path.stat()
        with self._lock:
            entry = self._load().get(key)
            if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
                return _from_entry(entry)
        digest = _sha256(path)
        with self._lock:
            entry = self._load().get(key)
            if entry and entry.get("sha256") == digest and entry.get("size") == st.st_size:
                self._store(key, {**entry, "mtime_ns": st.st_mtime_ns})  # touched, not changed
                return _from_entry(entry)
        result = probe(path)
        if result.final:
            with self._lock:
                self._store(key, {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest,
                                  **asdict(result)})
        return result


def _from_entry(entry: dict[str, Any]) -> ProbeResult:
    return ProbeResult(bool(entry.get("ok")), str(entry.get("detail", "")), str(entry.get("version", "")),
                       int(entry.get("slots", -1)), True)


_cache = ProbeCache()
_path_locks: dict[str, threading.Lock] = {}
_path_locks_guard = threading.Lock()


def check_module(path: Path) -> None:
    """Raise DriverInvalid unless ``path`` is known (or now found) safe to load in this process."""
    from zhenglian import errors

    key = str(path)
    with _path_locks_guard:
        lock = _path_locks.setdefault(key, threading.Lock())
    with lock:
        try:
            result = _cache.verdict(Path(path))
        except OSError as exc:
            raise errors.DriverInvalid(path=key, detail=type(exc).__name__) from None
    if not result.ok:
        raise errors.DriverInvalid(path=key, detail=result.detail)


if __name__ == "__main__":
    raise SystemExit(main())
