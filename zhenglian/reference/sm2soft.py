"""A software SM2 private key, for the demo CA, reference parts and tests only.

The client never holds a private key: real SM2 keys live on UKeys.  This
helper makes demo CA keys, signs with them (SM2 with SM3 and an ID) and
exports PKCS#8 that OpenSSL 3 reads, so the C soft token and ``openssl``
can load the same key.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from asn1crypto import keys

from zhenglian.pki import sm2

_EC_PUBLIC_KEY = "1.2.840.10045.2.1"


def _point(d: int) -> bytes:
    q = sm2.GENERATOR * d
    return b"\x04" + q.x().to_bytes(32, "big") + q.y().to_bytes(32, "big")


@dataclass(frozen=True)
class SM2SoftKey:
    d: int = field(repr=False)

    @classmethod
    def generate(cls) -> SM2SoftKey:
        # GB/T 32918.1 6.1: d in [1, n-2]
        return cls(secrets.randbelow(sm2.N - 2) + 1)

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> SM2SoftKey:
        d = int.from_bytes(raw, "big")
        if not 1 <= d <= sm2.N - 2:
            raise ValueError("SM2 private key out of range")
        return cls(d)

    @property
    def point(self) -> bytes:
        return _point(self.d)

    def private_bytes(self) -> bytes:
        return self.d.to_bytes(32, "big")

    def public_key_info(self) -> keys.PublicKeyInfo:
        return keys.PublicKeyInfo({
            "algorithm": {
                "algorithm": _EC_PUBLIC_KEY,
                "parameters": keys.ECDomainParameters(name="named", value=sm2.CURVE_NAME),
            },
            "public_key": self.point,
        })

    def sign_digest(self, e: bytes, *, k: int | None = None) -> bytes:
        """SM2 signature (DER) of e = SM3(Z ‖ M) (GB/T 32918.2, 6.1)."""
        ei = int.from_bytes(e, "big")
        n = sm2.N
        while True:
            kk = k if k is not None else secrets.randbelow(n - 1) + 1
            x1 = (sm2.GENERATOR * kk).x()
            r = (ei + x1) % n
            if r == 0 or r + kk == n:
                if k is not None:
                    raise ValueError("bad k")
                continue
            s = (pow(1 + self.d, -1, n) * (kk - r * self.d)) % n
            if s == 0:
                if k is not None:
                    raise ValueError("bad k")
                continue
            return sm2.raw_to_der(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def sign(self, message: bytes, uid: bytes = sm2.DEFAULT_ID) -> bytes:
        """SM2 with SM3 over ``message`` with user ID ``uid``; DER (r, s)."""
        return self.sign_digest(sm2.e_value(self.point, message, uid))

    def pkcs8_der(self) -> bytes:
        """PKCS#8 PrivateKeyInfo (id-ecPublicKey, curve SM2), as OpenSSL 3 writes it."""
        ec_key = keys.ECPrivateKey({
            "version": "ecPrivkeyVer1",
            "private_key": self.d,
            "public_key": self.point,
        })
        return keys.PrivateKeyInfo({
            "version": 0,
            "private_key_algorithm": {
                "algorithm": _EC_PUBLIC_KEY,
                "parameters": keys.ECDomainParameters(name="named", value=sm2.CURVE_NAME),
            },
            "private_key": ec_key,
        }).dump()

    def pkcs8_pem(self) -> bytes:
        b64 = base64.encodebytes(self.pkcs8_der()).replace(b"\n", b"")
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        return b"-----BEGIN PRIVATE KEY-----\n" + b"\n".join(lines) + b"\n-----END PRIVATE KEY-----\n"

    @classmethod
    def from_pkcs8(cls, data: bytes) -> SM2SoftKey:
        """Load PKCS#8 (PEM or DER) holding an SM2 key (ours or OpenSSL's)."""
        if data.lstrip().startswith(b"-----"):
            from asn1crypto import pem

            _, _, data = pem.unarmor(data)
        info = keys.PrivateKeyInfo.load(data)
        params = info["private_key_algorithm"]["parameters"]
        if params.name != "named" or params.chosen.dotted != sm2.OID_SM2_CURVE:
            raise ValueError("not an SM2 private key")
        return cls.from_private_bytes(info["private_key"].parsed["private_key"].contents.rjust(32, b"\0")[-32:])
