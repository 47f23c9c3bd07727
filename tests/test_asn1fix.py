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
