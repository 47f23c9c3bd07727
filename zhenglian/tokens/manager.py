"""Find driver modules, load each at most once, and list the keys they see."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from zhenglian import errors, paths
from zhenglian.manifest import Manifest, ManifestSet, candidate_paths
from zhenglian.tokens.model import KeyCert, KeyInfo
from zhenglian.tokens.module import Pkcs11Module, _identity

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle

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

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "manifests": list(self.claimed_by),
            "present": self.present,
            "loaded": self.loaded,
            "library": self.library,
            "error": self.error.to_dict() if self.error else None,
        }


_key = _identity


class TokenManager:
    """Owns every Pkcs11Module of the process."""

    def __init__(self, manifests: ManifestSet, extra_modules: Iterable[str] = ()) -> None:
        self.manifests = manifests
        self._modules: dict[str, Pkcs11Module] = {}
        home = str(paths.data_dir())
        for m in manifests.manifests:
            env = {k: v.replace("{home}", home) for k, v in m.module_env.items()}
            for path in candidate_paths(m):
                if path.is_file():
                    self._add(path, m.id, m.rescan, env)
        for raw in extra_modules:
            self._add(Path(raw).expanduser(), USER, "slotlist", {})

    def _add(self, path: Path, claim: str, rescan: str, env: dict[str, str]) -> None:
        key = _key(path)
        existing = self._modules.get(key)
        if existing is None:
            self._modules[key] = Pkcs11Module(path, (claim,), rescan, env)
            return
        if claim not in existing.claimed_by:
            existing.claimed_by = (*existing.claimed_by, claim)
        if rescan == "reinitialize":
            existing.rescan = rescan
        existing.env.update(env)

    @property
    def modules(self) -> list[Pkcs11Module]:
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
            )
            for m in self.modules
        ]

    # --- identification ----------------------------------------------------

    def _manifests_of(self, module: Pkcs11Module) -> list[Manifest]:
        return [m for m in (self.manifests.by_id(i) for i in module.claimed_by) if m is not None]

    def identify_ca(self, module: Pkcs11Module, certs: list[KeyCert]) -> tuple[Manifest | None, str | None]:
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

    def read_key(self, module: Pkcs11Module, slot_id: int, token: object) -> KeyInfo | None:
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
        )

    def scan_module(self, module: Pkcs11Module, refresh: bool = True) -> list[KeyInfo]:
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
        keys.sort(key=lambda k: (k.ca_id or "~", k.label, k.serial))
        return keys

    def status_for(self, path: Path) -> ModuleStatus | None:
        module = self._modules.get(_key(path))
        if module is None:
            return None
        return ModuleStatus(str(module.path), module.claimed_by, module.path.is_file(), module.loaded,
                            module.error, module.library_info())

    def handle(self, key: KeyInfo) -> KeyHandle:
        """The key as the layers above hold it: its backend, facts and driver manifest."""
        from zhenglian.keys.handle import KeyHandle

        module = self.module_for(key)
        return KeyHandle(module, key, self.pin_policy_manifest(key), tuple(self._manifests_of(module)))

    def module_for(self, key: KeyInfo) -> Pkcs11Module:
        module = self._modules.get(_key(Path(key.module_path)))
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
