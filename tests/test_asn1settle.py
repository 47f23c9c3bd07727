"""zhenglian.pki.asn1settle: asn1crypto's lazy class tables are built before any worker runs.

A pipelined batch once failed a good task with ``KeyError: 'organization_name'``: two threads
met an asn1crypto class for the first time together and one read its half-built name map.
These tests run in a fresh interpreter, so what they see is what the client sees at start.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import json, sys
from asn1crypto import core
from zhenglian.pki.asn1settle import _subclasses
import zhenglian.pki
after_pki = [c for c in _subclasses(core.Asn1Value)
             if c not in core._SETUP_CLASSES and c.__module__.startswith("asn1crypto.") and c is not core.Choice]
if sys.argv[1] == "overlap":
    from zhenglian.pdf.overlap import Overlap
    Overlap(lambda item, ticket: None).stop()
left = [f"{c.__module__}.{c.__qualname__}" for c in _subclasses(core.Asn1Value)
        if c not in core._SETUP_CLASSES and c is not core.Choice]
from asn1crypto import algos, x509
print(json.dumps({
    "after_pki": [c.__qualname__ for c in after_pki],
    "left": left,
    "org": x509.NameType._reverse_map.get("organization_name") if x509.NameType._reverse_map else None,
    "sm2": algos.SignedDigestAlgorithmId._reverse_map.get("sm2_sm3"),
    "pyhanko": any(m.startswith("pyhanko") for m in sys.modules),
}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_importing_pki_sets_up_every_asn1crypto_class_with_the_sm2_names() -> None:
    seen = _probe("pki")
    assert seen["after_pki"] == []
    assert seen["org"] == "2.5.4.10"  # the name map a worker read half-built
    assert seen["sm2"] == "1.2.156.10197.1.501"  # registered before the maps were built, so in them


def test_a_worker_pool_starts_only_after_pyhankos_classes_are_set_up() -> None:
    seen = _probe("overlap")
    assert seen["pyhanko"]
    assert seen["left"] == []
