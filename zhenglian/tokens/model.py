"""What detection reports about a key and its certificates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from zhenglian.pki.cert import CertInfo
from zhenglian.tokens.flags import TokenFlags


@dataclass(frozen=True)
class KeyCert:
    """A certificate object on the key, with its CKA_ID pairing."""

    info: CertInfo
    cka_id: bytes
    label: str
    # True: a key object with the same CKA_ID and the same public key is on
    # the key; False: none; None: could not tell (private objects need login).
    paired: bool | None

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        d = self.info.to_dict(now)
        d.update({"cka_id": self.cka_id.hex(), "label": self.label, "paired": self.paired})
        return d


@dataclass(frozen=True)
class KeyInfo:
    """One key (token) in one slot of one module."""

    module_path: str
    module_ids: tuple[str, ...]  # manifests that list this module ("user" for --module)
    slot_id: int
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: TokenFlags
    ca_id: str | None  # manifest id of the issuing CA, if known
    ca_name_zh: str | None
    ca_name_en: str | None
    ca_source: str | None  # "module" or "issuer"
    demo: bool
    certificates: tuple[KeyCert, ...] = field(default=())
    read_error: str | None = None  # set when the certificates could not be read
    backend: str = "pkcs11"  # the key library serving it: "pkcs11" | "skf"
    pin_tries_left: int | None = None  # exact, where the key says (SKF); PKCS#11 gives flags only

    @property
    def identity(self) -> tuple[str, str, str]:
        """Stable identity: library file, token serial (never the slot number) and the interface
        (a vendor library with both a PKCS#11 and an SKF interface shows the key twice)."""
        return (self.module_path, self.serial, self.backend)

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """Changes when anything the user would notice changes."""
        return (
            self.module_path,
            self.slot_id,
            self.serial,
            self.label,
            self.flags.raw,
            self.pin_tries_left,
            tuple(c.info.sha256 for c in self.certificates),
        )

    def signing_certificates(self) -> list[KeyCert]:
        return [c for c in self.certificates if not c.info.is_ca and c.info.usage in ("signing", "both")]

    def signing_certificate(self) -> KeyCert | None:
        certs = self.signing_certificates()
        # Prefer one paired with its key and valid longest.
        certs.sort(key=lambda c: (c.paired is not False, c.info.not_after), reverse=True)
        return certs[0] if certs else None

    def organization(self) -> str | None:
        cert = self.signing_certificate()
        return cert.info.organization if cert else None

    def display_name(self) -> str:
        org = self.organization() or self.label
        ca = self.ca_name_zh or "未知CA"
        return f"{ca} · {org}"

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        return {
            "module": self.module_path,
            "module_manifests": list(self.module_ids),
            "slot": self.slot_id,
            "label": self.label,
            "serial": self.serial,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "ca": self.ca_id,
            "ca_name_zh": self.ca_name_zh,
            "ca_name_en": self.ca_name_en,
            "ca_identified_by": self.ca_source,
            "demo": self.demo,
            "pin": self.flags.to_dict(),
            "certificates": [c.to_dict(now) for c in self.certificates],
            "read_error": self.read_error,
            "backend": self.backend,
            "pin_tries_left": self.pin_tries_left,
        }
