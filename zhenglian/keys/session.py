"""A logged-in key session that signs messages and checks every signature.

:class:`KeySession` is what a signing batch holds: the key handle, the open
(logged-in) backend session, and the plan — the mechanism chosen from the
token's list.  :meth:`KeySession.sign` returns a signature only after it
verified against the certificate's public key.

When the token's list leaves more than one candidate (no list at all, or SM2
vendor numbers to probe), the candidates are tried in order on the real
document's message; a candidate that the key refuses (mechanism invalid) or
whose signature does not verify is dropped, and the first that works is
remembered for the module file (:data:`_LEARNT`).  Probing never costs a PIN
try: it happens after login, and only signing calls are repeated.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from zhenglian import errors
from zhenglian.keys import mechanisms
from zhenglian.keys.check import signature_matches
from zhenglian.keys.handle import KeyHandle
from zhenglian.keys.mechanisms import SignPlan
from zhenglian.keys.owner import on_key_thread

log = logging.getLogger(__name__)

# module path → the plan that worked there (per process; a key's module does not change mechanisms)
_LEARNT: dict[tuple[str, str], SignPlan] = {}
_LEARNT_LOCK = threading.Lock()


def candidate_plans(handle: KeyHandle) -> list[SignPlan]:
    """Plans for this key, best first, from its certificate and the token's mechanism list.

    The plan that worked before on this driver file comes first; the others follow, so a
    second key of another numbering behind the same file is still probed, not refused.
    """
    cert = handle.signing_cert
    algorithm = mechanisms.key_algorithm(cert.info.der)
    with _LEARNT_LOCK:
        learnt = _LEARNT.get((str(handle.backend.path), algorithm))
    offered = handle.backend.mechanisms(handle.serial)
    if algorithm == "sm2":
        from zhenglian.keys import sm2mech

        plans = sm2mech.plans(handle.manifests, offered)
    else:
        plans = mechanisms.standard_plans(algorithm, offered)
    if learnt is not None:
        plans = [learnt, *(p for p in plans if p != learnt)]
    if not plans:
        raise errors.MechanismUnsupported(mechanism=f"{algorithm.upper()}")
    return plans


class KeySession:
    """Signs with the key on one logged-in session (the caller holds the login)."""

    def __init__(self, handle: KeyHandle, session: Any) -> None:
        self.handle = handle
        self.session = session
        self.cert_der = handle.signing_cert.info.der
        self.cka_id = handle.signing_cert.cka_id
        self.plans = candidate_plans(handle)
        self._point: bytes | None = None

    @property
    def plan(self) -> SignPlan:
        return self.plans[0]

    def _public_point(self) -> bytes | None:
        if self.plan.algorithm != "sm2":
            return None
        if self._point is None:
            from asn1crypto import x509

            from zhenglian.pki import sm2

            self._point = sm2.public_point(x509.Certificate.load(self.cert_der))
        return self._point

    def sign(self, message: bytes) -> bytes:
        """The key's signature of ``message`` as CMS carries it, checked against the certificate.

        Called from a helper thread of a pipelined batch, the key call runs on the
        thread that holds the session (:mod:`zhenglian.keys.owner`).
        """
        return on_key_thread(lambda: self._sign(message))

    def _sign(self, message: bytes) -> bytes:
        last: errors.ZhenglianError | None = None
        while self.plans:
            plan = self.plans[0]
            try:
                raw = self.handle.backend.sign_raw(self.session, self.cka_id, plan.mechanism,
                                                   plan.to_token(message, self._public_point()))
                readings = plan.readings(raw)
            except (errors.MechanismUnsupported, errors.KeySignatureInvalid) as exc:
                last = exc
                log.info("key %s: %s refused or answered malformed: %s", self.handle.serial, plan.name, exc.code)
            else:
                for signature in readings:
                    if signature_matches(self.cert_der, plan, message, signature):
                        self._learn(plan)
                        return signature
                last = errors.KeySignatureInvalid(detail=plan.name)
                log.warning("key %s: %s gave a signature that does not verify", self.handle.serial, plan.name)
            if len(self.plans) == 1:
                break
            self.plans = self.plans[1:]  # try the next candidate on the same message
        raise last or errors.MechanismUnsupported(mechanism="?")

    def _learn(self, plan: SignPlan) -> None:
        self.plans = [plan]
        with _LEARNT_LOCK:
            _LEARNT[(str(self.handle.backend.path), plan.algorithm)] = plan

    def max_signature_size(self) -> int:
        """Bytes a signature can take in CMS (for pyHanko's size estimate)."""
        from asn1crypto import x509

        key = x509.Certificate.load(self.cert_der).public_key
        if self.plan.algorithm == "rsa":
            return (key.bit_size + 7) // 8
        n = (key.bit_size + 7) // 8
        return 2 * (n + 3) + 2
