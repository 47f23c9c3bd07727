import pytest

from zhenglian.pki import uscc

# Real-format codes of well-known companies (public business registrations).
REAL = ["91350100M000100Y43", "914403001922038216", "91440300708461136T"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code: str) -> None:
    assert uscc.is_valid(code)


@pytest.mark.parametrize("code", REAL)
def test_every_single_character_change_of_the_check_digit_is_caught(code: str) -> None:
    for c in uscc.ALPHABET:
        if c != code[17]:
            assert not uscc.is_valid(code[:17] + c)


def test_org_code_check_is_enforced() -> None:
    code = REAL[0]
    wrong = code[:16] + ("0" if code[16] != "0" else "1")
    fixed = wrong[:17] + uscc.check_char(wrong[:17])  # right 18th, wrong 17th
    assert not uscc.is_valid(fixed)


@pytest.mark.parametrize("bad", ["", "9144030019220382", "91440300192203821", "9144030019220382160",
                                 "914403001922038I16", "91440300192203821O", "91AB03001922038216"])
def test_malformed_codes_are_rejected(bad: str) -> None:
    assert not uscc.is_valid(bad)


def test_find_in_text_with_prefix_and_lower_case() -> None:
    assert uscc.find_in("东莞某公司@914403001922038216") == "914403001922038216"
    assert uscc.find_in("USCC:91440300708461136t") == "91440300708461136T"
    assert uscc.find_in("no code 914403001922038217 here") is None
    assert uscc.find_in("9144030019220382161") is None  # part of a longer run


def test_complete_makes_valid_codes() -> None:
    assert uscc.complete("91441900MA4W1A2B") == uscc.complete("91441900MA4W1A2B")
    for body in ("91441900MA4W1A2B", "12440000455858111", "52441900MJL12345"):
        assert uscc.is_valid(uscc.complete(body[:16]))
