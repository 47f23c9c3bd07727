"""Certificates and keys made in memory, and a clock to move by hand (expiry tests, plain helpers)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from zhenglian.pki.cert import parse as parse_cert
from zhenglian.tokens.flags import TokenFlags
from zhenglian.tokens.model import KeyCert, KeyInfo

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def make_cert(not_after: dt.datetime, org: str = "东莞市测试有限公司", not_before: dt.datetime | None = None,
              uscc: str | None = None):
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if uscc:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, uscc))
    name = x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, org)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or not_after - 365 * DAY).not_valid_after(not_after)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
            .sign(key, hashes.SHA256()))
    return parse_cert(cert.public_bytes(serialization.Encoding.DER))


def make_keyinfo(serial: str, *infos) -> KeyInfo:  # type: ignore[no-untyped-def]
    return KeyInfo(
        module_path="/x/lib.so", module_ids=("netca",), slot_id=1, label=f"L{serial}", serial=serial,
        manufacturer="m", model="k", flags=TokenFlags(0), ca_id="netca", ca_name_zh="网证通",
        ca_name_en="NETCA", ca_source="issuer", demo=False,
        certificates=tuple(KeyCert(info=i, cka_id=b"\x01", label="sign", paired=True) for i in infos),
    )


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


