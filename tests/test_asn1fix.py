"""zhenglian.pki.asn1fix: asn1crypto re-encodes only values whose length really is indefinite."""

from __future__ import annotations

import pytest
from asn1crypto import core, x509

import zhenglian.pki  # noqa: F401  (applies the fix)
from zhenglian.pki.asn1fix import ends_indefinite


@pytest.mark.parametrize(("header", "indefinite"), [
    (b"\x30\x80", True),
    (b"\xa0\x80", True),
    (b"\x30\x81\x80", False),  # definite, 128 bytes
    (b"\x30\x82\x01\x80", False),  # definite, 384 bytes
    (b"\xa4\x81\x83\x30\x81\x80", False),  # explicit [4] around a 128-byte SEQUENCE
    (b"\xa4\x81\x83\x30\x80", True),  # explicit, inner indefinite
    (b"\x1f\x81\x01\x80", True),  # high tag number, indefinite
    (b"\x30", True),  # unparseable: the library's view stands
    (b"\x30\x84\x00\x00", True),  # length octets cut short
])
def test_ends_indefinite(header: bytes, indefinite: bool) -> None:
    assert ends_indefinite(header) is indefinite


def _name_of_length(total: int) -> x509.Name:
    """A Name whose DER is ``total`` bytes (one CN, padded)."""
    for n in range(1, 200):
        name = x509.Name.build({"common_name": "x" * n})
        if len(name.dump()) == total:
            return x509.Name.load(name.dump())
    raise AssertionError(total)


def test_a_128_byte_general_names_is_not_rebuilt_on_every_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name_of_length(126)  # [4] EXPLICIT → 128 bytes → GeneralNames header 30 81 80
    names = x509.GeneralNames([x509.GeneralName({"directory_name": name})])
    der = names.dump()
    assert der[:3] == b"\x30\x81\x80"
    loaded = x509.GeneralNames.load(der)
    calls = []
    real = core.ObjectIdentifier.set
    monkeypatch.setattr(core.ObjectIdentifier, "set", lambda self, v: calls.append(v) or real(self, v))
    for _ in range(5):
        assert loaded.dump() == der
    holder = x509.GeneralNames([x509.GeneralName({"directory_name": name})])
    for _ in range(5):
        assert holder.dump() == der
    assert calls == []  # nothing rebuilt from native values


def test_indefinite_length_ber_is_still_converted_to_der() -> None:
    ber = b"\x30\x80\x02\x01\x05\x02\x01\x07\x00\x00"  # SEQUENCE (indefinite) { 5, 7 }
    from asn1crypto.algos import DSASignature

    value = DSASignature.load(ber)
    assert value.dump() == b"\x30\x06\x02\x01\x05\x02\x01\x07"
    assert value["r"].native == 5 and value["s"].native == 7


def _signed_attrs_like() -> core.Asn1Value:
    """A structure built from Python values, as pyHanko builds CMS signed attributes (with an
    explicit tag, a DEFAULT field, a SET OF to sort and a parsed certificate name inside)."""
    from asn1crypto import cms, tsp

    issuer = _name_of_length(126)
    ess = tsp.ESSCertIDv2({
        "hash_algorithm": {"algorithm": "sha384"},
        "cert_hash": b"\x01" * 48,
        "issuer_serial": {"issuer": [x509.GeneralName({"directory_name": issuer})], "serial_number": 12345},
    })
    return cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [b"\x02" * 32]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{"certs": [ess]}]}),
    ])


def test_dump_reads_contents_once_and_writes_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.pki import asn1fix

    assert asn1fix.ORIGINAL_DUMP is not None and core.Asn1Value.dump is not asn1fix.ORIGINAL_DUMP
    ours = _signed_attrs_like().dump()
    assert type(_signed_attrs_like()).load(ours).dump() == ours  # DER, parses back to itself
    # the library's own method gives the same bytes, with far more encoding work
    counts = {"ours": 0, "library": 0}
    real_set = core.Sequence._set_contents
    which = "ours"

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts[which] += 1
        return real_set(self, *args, **kwargs)

    monkeypatch.setattr(core.Sequence, "_set_contents", counting)
    assert _signed_attrs_like().dump() == ours
    which = "library"
    monkeypatch.setattr(core.Asn1Value, "dump", asn1fix.ORIGINAL_DUMP)
    assert _signed_attrs_like().dump() == ours
    assert counts["library"] > 4 * counts["ours"] > 0


def test_explicitly_tagged_and_parsed_values_dump_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.pki import asn1fix

    def made() -> list[bytes]:
        general = x509.GeneralName({"directory_name": _name_of_length(60)})  # [4] EXPLICIT, parsed Name
        built = general.dump()
        return [built, x509.GeneralName.load(built).dump(), x509.GeneralName.load(built).dump(force=True)]

    ours = made()
    assert ours[0] == ours[1] == ours[2]
    monkeypatch.setattr(core.Asn1Value, "dump", asn1fix.ORIGINAL_DUMP)
    assert made() == ours
