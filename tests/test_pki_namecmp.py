"""zhenglian.pki.namecmp: certificate-name equality and ``hashable`` exactly as asn1crypto's own,
worked out once per distinct name and remembered in a bounded memo."""

from __future__ import annotations

import itertools

import pytest
from asn1crypto import core, x509

import zhenglian.pki  # noqa: F401  (applies the memo)
from zhenglian.memo import BoundedMemo
from zhenglian.pki import namecmp


def _rdn(*pairs: tuple[str, core.Asn1Value]) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": t, "value": v}) for t, v in pairs])


def _utf8(s: str) -> x509.DirectoryString:
    return x509.DirectoryString(name="utf8_string", value=core.UTF8String(s))


def _printable(s: str) -> x509.DirectoryString:
    return x509.DirectoryString(name="printable_string", value=core.PrintableString(s))


def _name(*rdns: x509.RelativeDistinguishedName) -> x509.Name:
    return x509.Name(name="", value=x509.RDNSequence(list(rdns)))


def _ders() -> list[bytes]:
    names = [
        x509.Name.build({"common_name": "Zhenglian Demo CA", "organization_name": "证联测试", "country_name": "CN"}),
        x509.Name.build({"common_name": "zhenglian  demo ca", "organization_name": "证联测试", "country_name": "CN"}),
        x509.Name.build({"common_name": "ZHENGLIAN DEMO CA", "country_name": "CN"}, use_printable=True),
        x509.Name.build({"common_name": "Zhenglian Demo CA", "country_name": "CN"}),
        x509.Name.build({"common_name": "Other CA", "organization_name": "证联测试", "country_name": "CN"}),
        x509.Name.build({"common_name": "ＺＨＥＮＧＬＩＡＮ demo CA", "organization_name": "证联测试",
                         "country_name": "CN"}),  # full-width letters: NFKC folds them
        _name(_rdn(("country_name", _printable("CN"))), _rdn(("common_name", _utf8("A")))),
        _name(_rdn(("common_name", _utf8("A"))), _rdn(("country_name", _printable("CN")))),  # order matters
        _name(_rdn(("common_name", _utf8("A")), ("country_name", _printable("CN")))),  # one multi-valued RDN
        _name(_rdn(("country_name", _printable("CN")), ("common_name", _utf8("a")))),
        _name(_rdn(("common_name", _utf8("A")), ("common_name", _utf8("B")))),  # a type twice in one RDN
        _name(_rdn(("common_name", _utf8("B")), ("common_name", _utf8("A")))),
        _name(_rdn(("common_name", _utf8("B")))),
        _name(_rdn(("common_name", _utf8("A\u00ad")))),  # a soft hyphen is mapped away
        _name(_rdn(("common_name", _utf8("A\ue000")))),  # a private-use character: prohibited
        _name(_rdn(("2.5.4.3", _utf8("A")))),
        _name(),
    ]
    return [n.dump() for n in names]


def _outcome(fn: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", fn(*args)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the test compares what each raises
        return "raises", (type(exc), str(exc))


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    namecmp.KEYS.clear()
    namecmp.HASHABLES.clear()


def test_equality_is_the_librarys_for_every_pair() -> None:
    ders = _ders()
    assert namecmp.ORIGINAL_EQ is not None and namecmp.ORIGINAL_EQ is not x509.Name.__eq__
    for a, b in itertools.product(ders, repeat=2):
        for _ in range(2):  # the second round answers from the memo
            ours = _outcome(lambda x, y: x == y, x509.Name.load(a), x509.Name.load(b))
            theirs = _outcome(namecmp.ORIGINAL_EQ, x509.Name.load(a), x509.Name.load(b))
            assert ours == theirs, (a, b)
            assert _outcome(lambda x, y: x != y, x509.Name.load(a), x509.Name.load(b)) == (
                theirs if theirs[0] == "raises" else ("ok", not theirs[1]))


def test_the_cases_that_matter_answer_as_rfc_5280_says() -> None:
    d = _ders()
    load = x509.Name.load
    assert load(d[0]) == load(d[1])  # case and inner spaces
    assert load(d[2]) == load(d[3])  # PrintableString against UTF8String
    assert load(d[0]) == load(d[5])  # full-width letters
    assert load(d[0]) != load(d[3]) and load(d[0]) != load(d[4])  # an attribute less; another CN
    assert load(d[6]) != load(d[7])  # RDN order
    assert load(d[6]) != load(d[8])  # two RDNs against one multi-valued RDN
    assert load(d[8]) == load(d[9])  # attribute order inside one RDN does not matter
    assert load(d[13]) == x509.Name.build({"common_name": "a"})  # the soft hyphen mapped away
    assert load(d[0]) != "CN=Zhenglian Demo CA" and load(d[0]) != x509.Name.load(d[0]).chosen
    with pytest.raises(ValueError):
        _ = load(d[14]) == load(d[14])  # prohibited in a name: raises, as the library does


def test_hashable_is_the_librarys() -> None:
    assert namecmp.ORIGINAL_HASHABLE is not None
    for der in _ders():
        for _ in range(2):
            assert _outcome(lambda n: n.hashable, x509.Name.load(der)) == _outcome(
                namecmp.ORIGINAL_HASHABLE, x509.Name.load(der))


def test_each_distinct_name_is_prepared_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = x509.NameTypeAndValue._ldap_string_prep

    def counting(self: x509.NameTypeAndValue, string: str) -> str:
        calls.append(string)
        return real(self, string)

    monkeypatch.setattr(x509.NameTypeAndValue, "_ldap_string_prep", counting)
    a, b = _ders()[0], _ders()[4]
    assert x509.Name.load(a) != x509.Name.load(b)
    first = len(calls)
    assert first == 6  # three attributes in each name
    for _ in range(20):  # new objects each time, as every certificate read from a PDF is
        assert x509.Name.load(a) != x509.Name.load(b)
        assert x509.Name.load(a) == x509.Name.load(a)
        _ = x509.Name.load(b).hashable, x509.Name.load(b).hashable
    assert len(calls) == first + 3  # only b's hashable, once


def test_a_name_that_cannot_be_prepared_is_not_remembered() -> None:
    bad = _ders()[14]
    for _ in range(3):
        with pytest.raises(ValueError):
            _ = x509.Name.load(bad) == x509.Name.load(bad)
        with pytest.raises(ValueError):
            _ = x509.Name.load(bad).hashable
    assert len(namecmp.KEYS) == 0 and len(namecmp.HASHABLES) == 0


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(namecmp, "KEYS", BoundedMemo(8))
    first = x509.Name.build({"common_name": "n0"})
    for i in range(50):
        assert x509.Name.build({"common_name": f"n{i}"}) == x509.Name.build({"common_name": f"N{i}"})
        assert len(namecmp.KEYS) <= 8
    assert first == x509.Name.build({"common_name": "N0"})  # evicted, worked out again: same answer


def test_apply_is_idempotent() -> None:
    eq, original = x509.Name.__eq__, namecmp.ORIGINAL_EQ
    namecmp.apply()
    assert x509.Name.__eq__ is eq and namecmp.ORIGINAL_EQ is original


def test_a_long_name_is_not_remembered_across_objects() -> None:
    long_cn = "长" * 1000  # 3000 bytes of UTF-8: over MAX_NAME_BYTES
    a = x509.Name.build({"common_name": long_cn}).dump()
    b = x509.Name.build({"common_name": long_cn + " "}).dump()  # equal after preparation
    assert len(a) > namecmp.MAX_NAME_BYTES
    for _ in range(3):
        assert (x509.Name.load(a) == x509.Name.load(b)) is namecmp.ORIGINAL_EQ(x509.Name.load(a), x509.Name.load(b))
        assert x509.Name.load(a).hashable == namecmp.ORIGINAL_HASHABLE(x509.Name.load(a))  # type: ignore[misc]
    assert x509.Name.load(a) == x509.Name.load(b)
    assert len(namecmp.KEYS) == 0 and len(namecmp.HASHABLES) == 0
