"""SM2 on PKCS#11 tokens: vendor mechanism numbers, from manifests and known families.

There is no standard PKCS#11 number for SM2.  Vendors use their own, and
differ in whether the token hashes (computing Z with the default user ID
itself) or takes e = SM3(Z‖M), and in returning DER or r‖s.  A driver
manifest may say which (``[[sm2]]`` entries: mechanism, hashes, output); the
families seen in public headers are tried after those, each only when the
token lists its number.  Nothing here is trusted: every signature is checked
against the certificate (:mod:`zhenglian.keys.session`), and only a plan whose
signature verified is remembered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zhenglian.keys.mechanisms import SignPlan

VENDOR = 0x80000000
# Not a PKCS#11 number: what the SKF backend (zhenglian.tokens.skf.backend) offers for
# SKF_ECCSignData — we pass e = SM3(Z‖M), the key returns r‖s.  Outside the vendor range and
# unassigned by PKCS#11, so no PKCS#11 module lists it.
MECH_SKF_SM2_E = 0x5A4C0001


def _plan(mechanism: int, token_hashes: bool, output: str, name: str) -> SignPlan:
    return SignPlan("sm2", mechanism, "sm3", "sm2_sm3", token_hashes, output, name)


# (mechanism, token hashes with the default ID, output) — public headers, unverified on real keys.
KNOWN: tuple[SignPlan, ...] = (
    _plan(VENDOR + 0x8100, True, "raw", "SM2 vendor+0x8100 (SM3-with-SM2, r‖s)"),
    _plan(VENDOR + 0x8101, True, "der", "SM2 vendor+0x8101 (SM3-with-SM2, DER)"),
    _plan(VENDOR + 0x8102, True, "raw", "SM2 vendor+0x8102 (default ID, r‖s)"),
    _plan(VENDOR + 0x8103, True, "der", "SM2 vendor+0x8103 (default ID, DER)"),
    _plan(VENDOR + 0x8104, False, "raw", "SM2 vendor+0x8104 (sign e, r‖s)"),
    _plan(0x8005000C, True, "auto", "SM2 0x8005000C (SM2-with-SM3)"),
    _plan(VENDOR + 4, False, "auto", "SM2 vendor+4 (sign e)"),
    _plan(MECH_SKF_SM2_E, False, "raw", "SKF SM2 (SKF_ECCSignData: e in, r‖s out)"),
)


def manifest_plans(manifest: Any) -> list[SignPlan]:
    """``[[sm2]]`` entries of a driver manifest (:class:`zhenglian.manifest.Sm2Entry`), in order."""
    out = []
    for entry in getattr(manifest, "sm2", ()) or ():
        if entry.hashes not in ("token", "client") or entry.output not in ("raw", "der", "auto"):
            continue
        state = "verified" if entry.verified else "unverified"
        out.append(_plan(entry.mechanism, entry.hashes == "token", entry.output,
                         f"SM2 {entry.mechanism:#x} ({getattr(manifest, 'id', 'manifest')}, {state})"))
    return out


def plans(manifests: Any, offered: Sequence[int]) -> list[SignPlan]:
    """Candidate SM2 plans: the manifests' entries first, then the known families.

    ``manifests``: one manifest, None, or several (the key's CA first, then the
    manifests that claim the driver file).  A configured or known plan is a
    candidate only when the token lists its number; a token that lists nothing
    (some do not implement C_GetMechanismList) gets every one, to probe.
    """
    if manifests is None:
        manifests = ()
    elif not isinstance(manifests, (list, tuple)):
        manifests = (manifests,)
    have = set(offered)
    configured: list[SignPlan] = []
    seen: set[tuple[int, bool, str]] = set()
    for m in manifests:
        for p in manifest_plans(m):
            if (have and p.mechanism not in have) or (p.mechanism, p.token_hashes, p.output) in seen:
                continue
            seen.add((p.mechanism, p.token_hashes, p.output))
            configured.append(p)
    taken = {(p.mechanism, p.token_hashes) for p in configured}
    known = [p for p in KNOWN if (not have or p.mechanism in have) and (p.mechanism, p.token_hashes) not in taken]
    return configured + known
