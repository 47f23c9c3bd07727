"""Find driver modules, load each at most once, and list the keys they see."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from zhenglian import errors, paths
from zhenglian.manifest import Manifest, ManifestSet, candidate_paths
from zhenglian.tokens.model import KeyCert, KeyInfo
from zhenglian.tokens.module import Pkcs11Module, _identity

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle
    from zhenglian.tokens.skf.backend import SkfBackend

log = logging.getLogger(__name__)

USER = "user"


@dataclass
class ModuleStatus:
    path: str
    claimed_by: tuple[str, ...]
    present: bool
    loaded: bool
    error: errors.ZhenglianError | None = None
    library: dict[str, object] = field(default_factory=dict)
    kind: str = "pkcs11"  # "pkcs11" | "skf"

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "manifests": list(self.claimed_by),
            "present": self.present,
            "loaded": self.loaded,
            "library": self.library,
            "error": self.error.to_dict() if self.error else None,
            "kind": self.kind,
        }


def _key(path: Path, kind: str = "pkcs11") -> str:
    """A library's place in the manager: its file, and the interface it is used through (a vendor
    library exporting both is one PKCS#11 module and one SKF library)."""
    return _identity(path) if kind == "pkcs11" else f"{kind}:{_identity(path)}"


# A string: the SKF backend (ctypes tables, ≈ 20 ms) is imported only where an SKF library is found.
Backend: TypeAlias = "Pkcs11Module | SkfBackend"


def user_library_kind(path: Path) -> str:
    """"skf" for a library that exports SKF_EnumDev and not C_GetFunctionList, else "pkcs11".

    A file that is neither, or cannot be loaded here, is tried as PKCS#11, whose
    loader reports why (missing, not a library, wrong architecture).
    """
    from zhenglian.tokens.skf import libkind

    return "skf" if libkind.library_kind(path) == "skf" else "pkcs11"


class TokenManager:
    """Owns every key library of the process: PKCS#11 modules and SKF libraries."""

    def __init__(self, manifests: ManifestSet, extra_modules: Iterable[str] = ()) -> None:
        self.manifests = manifests
        self._modules: dict[str, Backend] = {}
        home = str(paths.data_dir())
        for m in manifests.manifests:
            env = {k: v.replace("{home}", home) for k, v in m.module_env.items()}
            for path in candidate_paths(m):
                if path.is_file():
                    self._add(path, m.id, m.rescan, env)
            for path in candidate_paths(m, skf=True):
                if path.is_file():
                    self._add(path, m.id, m.rescan, env, kind="skf")
        for raw in extra_modules:
            path = Path(raw).expanduser()
            self._add(path, USER, "slotlist", {}, kind=user_library_kind(path))

    def _add(self, path: Path, claim: str, rescan: str, env: dict[str, str], kind: str = "pkcs11") -> None:
        key = _key(path, kind)
        existing = self._modules.get(key)
        if existing is None:
            cls: Any = Pkcs11Module
            if kind == "skf":
                from zhenglian.tokens.skf.backend import SkfBackend

                cls = SkfBackend
            self._modules[key] = cls(path, (claim,), rescan, env)
            return
        if claim not in existing.claimed_by:
            existing.claimed_by = (*existing.claimed_by, claim)
        if rescan == "reinitialize":
            existing.rescan = rescan
        existing.env.update(env)

    @property
    def modules(self) -> list[Backend]:
        return list(self._modules.values())

    def load_all(self) -> list[errors.ZhenglianError]:
        """Load every module; one broken driver never hides the others."""
        problems: list[errors.ZhenglianError] = []
        for module in self.modules:
            try:
                module.load()
            except errors.DriverError as exc:
                log.warning("driver %s: %s", module.path, exc.code)
                problems.append(exc)
        return problems

    def statuses(self) -> list[ModuleStatus]:
        return [
            ModuleStatus(
                path=str(m.path),
                claimed_by=m.claimed_by,
                present=m.path.is_file(),
                loaded=m.loaded,
                error=m.error,
                library=m.library_info(),
                kind=m.kind,
            )
            for m in self.modules
        ]

    # --- identification ----------------------------------------------------

    def _manifests_of(self, module: Backend) -> list[Manifest]:
        return [m for m in (self.manifests.by_id(i) for i in module.claimed_by) if m is not None]

    def identify_ca(self, module: Backend, certs: list[KeyCert]) -> tuple[Manifest | None, str | None]:
        """Which CA issued this key: the module's own CA manifest, else the certificate issuer."""
        cas = [m for m in self._manifests_of(module) if m.is_ca]
        if len(cas) == 1:
            return cas[0], "module"
        for cert in certs:
            if cert.info.is_ca:
                continue
            values = list(cert.info.issuer_fields.values()) + [cert.info.issuer]
            found = self.manifests.ca_for_issuer(values)
            if found is not None:
                return found, "issuer"
        return None, None

    def pin_policy_manifest(self, key: KeyInfo) -> Manifest | None:
        """The manifest whose PIN policy applies: the CA's, else the module's."""
        if key.ca_id:
            return self.manifests.by_id(key.ca_id)
        for ident in key.module_ids:
            m = self.manifests.by_id(ident)
            if m is not None:
                return m
        return None

    # --- scanning ----------------------------------------------------------

    def read_key(self, module: Backend, slot_id: int, token: Any) -> KeyInfo | None:
        """Read one key's facts and certificates; None if it was pulled out meanwhile."""
        facts = module.token_facts(token)
        read_error = None
        certs: list[KeyCert] = []
        try:
            with module.session(str(facts["serial"])) as session:
                certs = module.read_certificates(session)
        except (errors.TokenRemoved, errors.NoKey):
            log.info("key removed while reading it")
            return None
        except errors.ZhenglianError as exc:
            read_error = exc.code
        certs.sort(key=lambda c: (c.info.is_ca, c.info.usage != "signing", c.cka_id))
        ca, source = self.identify_ca(module, certs)
        return KeyInfo(
            module_path=str(module.path),
            module_ids=module.claimed_by,
            slot_id=int(slot_id),
            label=str(facts["label"]),
            serial=str(facts["serial"]),
            manufacturer=str(facts["manufacturer"]),
            model=str(facts["model"]),
            flags=facts["flags"],  # type: ignore[arg-type]
            ca_id=ca.id if ca else None,
            ca_name_zh=ca.name_zh if ca else None,
            ca_name_en=ca.name_en if ca else None,
            ca_source=source,
            demo=any(m.is_demo for m in self._manifests_of(module)),
            certificates=tuple(certs),
            read_error=read_error,
            backend=module.kind,
            pin_tries_left=facts.get("tries_left"),  # type: ignore[arg-type]
        )

    def scan_module(self, module: Backend, refresh: bool = True) -> list[KeyInfo]:
        """Every key of one loaded module (takes the module's lock)."""
        with module.lock:
            if refresh:
                module.refresh()
            keys = [self.read_key(module, slot_id, token) for slot_id, token in module.present_tokens()]
            return [k for k in keys if k is not None]

    def scan(self, refresh: bool = True) -> list[KeyInfo]:
        """All keys of all loadable modules (loading them on first use)."""
        self.load_all()
        keys: list[KeyInfo] = []
        for module in self.modules:
            if not module.loaded:
                continue
            try:
                keys.extend(self.scan_module(module, refresh=refresh))
            except errors.ZhenglianError as exc:
                log.warning("scan of %s failed: %s", module.path, exc.code)
        keys = self.one_per_key(keys)
        keys.sort(key=lambda k: (k.ca_id or "~", k.label, k.serial))
        return keys

    # --- one key, two libraries --------------------------------------------

    def preferred_backend(self, key: KeyInfo) -> str:
        """Which backend should serve this key when both reach it: the manifest's ``prefer``,
        else PKCS#11 — except SKF for an SM2 key (SKF_ECCSignData is standard; PKCS#11 SM2
        mechanism numbers are vendor guesses)."""
        for ident in (key.ca_id, *key.module_ids):
            m = self.manifests.by_id(ident) if ident else None
            if m is not None and m.prefer_backend:
                return m.prefer_backend
        cert = key.signing_certificate()
        if cert is not None:
            from zhenglian.keys.mechanisms import key_algorithm

            try:
                if key_algorithm(cert.info.der) == "sm2":
                    return "skf"
            except ValueError:
                pass
        return "pkcs11"

    def one_per_key(self, keys: list[KeyInfo]) -> list[KeyInfo]:
        """A key seen through a PKCS#11 module and an SKF library (same serial) is kept once."""
        groups: dict[str, list[KeyInfo]] = {}
        for k in keys:
            groups.setdefault(k.serial, []).append(k)
        keep: dict[str, str] = {}
        for serial, views in groups.items():
            if len({v.backend for v in views}) > 1:
                # Decide once per key, from the view that read the most (certificates, CA).
                best = max(views, key=lambda v: (v.signing_certificate() is not None, v.ca_id is not None))
                keep[serial] = self.preferred_backend(best)
        out = [k for k in keys if keep.get(k.serial, k.backend) == k.backend]
        for serial, backend in keep.items():
            log.info("key %s: reachable through PKCS#11 and SKF; %s serves it", serial, backend)
        return out

    def status_for(self, path: Path, kind: str = "pkcs11") -> ModuleStatus | None:
        module = self._modules.get(_key(path, kind))
        if module is None:
            return None
        return ModuleStatus(str(module.path), module.claimed_by, module.path.is_file(), module.loaded,
                            module.error, module.library_info(), module.kind)

    def handle(self, key: KeyInfo) -> KeyHandle:
        """The key as the layers above hold it: its backend, facts and driver manifest."""
        from zhenglian.keys.handle import KeyHandle

        module = self.module_for(key)
        return KeyHandle(module, key, self.pin_policy_manifest(key), tuple(self._manifests_of(module)))

    def module_for(self, key: KeyInfo) -> Backend:
        module = self._modules.get(_key(Path(key.module_path), key.backend))
        if module is None:
            raise errors.NoKey(key.serial)
        return module

    def find_key(self, serial: str | None = None, keys: list[KeyInfo] | None = None) -> KeyInfo:
        """The key with this serial, or the only key present."""
        keys = self.scan() if keys is None else keys
        if serial:
            for k in keys:
                if k.serial == serial or k.label == serial:
                    return k
            raise errors.NoKey(serial)
        if not keys:
            raise errors.NoKey()
        if len(keys) > 1:
            raise errors.KeyAmbiguous(serials=", ".join(k.serial for k in keys))
        return keys[0]
