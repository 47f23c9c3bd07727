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
def structured(c):
    return not issubclass(c, core.ValueMap) and c is not core.Choice
after_pki = [c for c in _subclasses(core.Asn1Value)
             if c not in core._SETUP_CLASSES and c.__module__.startswith("asn1crypto.") and structured(c)]
if sys.argv[1] == "overlap":
    from zhenglian.pdf.overlap import Overlap
    Overlap(lambda item, ticket: None).stop()
left = [f"{c.__module__}.{c.__qualname__}" for c in _subclasses(core.Asn1Value)
        if c not in core._SETUP_CLASSES and structured(c)]
from asn1crypto import algos, cms, x509
# A name a library registers after start-up (pyHanko's pdf_mac_data arrives with its PDF-MAC
# module) can still be written: the name maps stay lazy.
import pyhanko.pdf_utils.crypt.pdfmac  # noqa: F401
late = cms.CMSAttributeType.unmap("pdf_mac_data")
print(json.dumps({
    "after_pki": [c.__qualname__ for c in after_pki],
    "left": left,
    "org": x509.NameType.unmap("organization_name"),
    "sm2": algos.SignedDigestAlgorithmId.unmap("sm2_sm3"),
    "atomic": core.ValueMap._setup.__name__,
    "pyhanko": any(m.startswith("pyhanko") for m in sys.modules),
    "late": late,
}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_importing_pki_sets_up_every_asn1crypto_class_with_the_sm2_names() -> None:
    seen = _probe("pki")
    assert seen["after_pki"] == []
    assert seen["org"] == "2.5.4.10"
    assert seen["sm2"] == "1.2.156.10197.1.501"
    assert seen["atomic"] == "_atomic_reverse_map"  # name maps published whole when first built


def test_a_worker_pool_starts_only_after_pyhankos_classes_are_set_up() -> None:
    seen = _probe("overlap")
    assert seen["pyhanko"]
    assert seen["left"] == []


def test_names_registered_later_by_a_library_are_still_known() -> None:
    """pyHanko adds ``pdf_mac_data`` when its PDF-MAC module loads (encrypted documents);
    signing an encrypted PDF failed when the name maps had been built before that."""
    assert _probe("overlap")["late"] == "1.0.32004.1.2"


_MAC_PROBE = r"""
import json
import zhenglian.pki  # the reverse maps are built here, before pyHanko adds its OIDs
from zhenglian.pdf.preload import pdf_stack
pdf_stack()
from asn1crypto import cms
out = {}
for value in ("1.0.32004.1.2", "pdf_mac_data", "0.4.0.1733.2.1"):
    try:
        t = cms.CMSAttributeType(value)
        out[value] = [t.dotted, t.native]
    except Exception as exc:
        out[value] = repr(exc)
print(json.dumps(out))
"""


def test_oids_pyhanko_adds_after_the_tables_are_built_map_both_ways() -> None:
    # pyHanko's ISO 32004 module wrote the reverse entry the wrong way round (OID -> name), so a
    # dotted OID "unmapped" to its name and signing an encrypted document (its PDF MAC) failed.
    out = subprocess.run([sys.executable, "-c", _MAC_PROBE], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["1.0.32004.1.2"] == ["1.0.32004.1.2", "pdf_mac_data"]
    assert got["pdf_mac_data"] == ["1.0.32004.1.2", "pdf_mac_data"]
    assert got["0.4.0.1733.2.1"] == ["0.4.0.1733.2.1", "mime_type"]  # a CAdES attribute: registered, no reverse entry
