"""Issue 15.11: a count that is the client's own is "at most" (the expiry prompts: test_lifecycle_ui)."""

from __future__ import annotations

from pkcs11.constants import TokenFlag

from zhenglian.tokens import pin
from zhenglian.tokens.flags import TokenFlags


def st(flags: int = 0, failures: int = 0, reports: str | None = None) -> pin.PinStatus:
    return pin.PinStatus("S", False, TokenFlags(flags), failures, 10, reports)


def test_our_own_count_is_stated_as_an_upper_bound() -> None:
    # Two wrong tries made here; the key (like most) reports no count: wrong tries made
    # in the vendor's client are not in ours, so 8 is the most there can be.
    s = st(failures=2)
    assert not s.counted_by_key
    assert "最多还可尝试 8 次" in s.describe_zh()
    assert "at most 8 of 10 tries left" in s.describe_en()
    assert "最多" in st().describe_zh(), "even with no wrong try counted here"


def test_the_keys_own_word_is_stated_plainly() -> None:
    final = st(int(TokenFlag.USER_PIN_FINAL_TRY))
    assert final.counted_by_key
    assert "最多" not in final.describe_zh() and "还可尝试 1 次" in final.describe_zh()
    assert "at most" not in final.describe_en()
    assert st(int(TokenFlag.USER_PIN_LOCKED)).describe_zh() == "PIN 已锁定"


def test_the_pin_dialog_line_says_at_most(qapp) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.ui import i18n
    from zhenglian.ui.pin_dialogs import PinTexts

    texts = PinTexts()
    try:
        i18n.install_translator(qapp, "en_US")
        assert texts.tries(st(failures=2)) == "At most 8 of 10 tries left"
        assert texts.tries(st(int(TokenFlag.USER_PIN_COUNT_LOW))).startswith("About")
        i18n.install_translator(qapp, "zh_CN")
        assert texts.tries(st(failures=2)) == "最多还可尝试 8 次（共 10 次）"
        assert texts.tries(st(int(TokenFlag.USER_PIN_FINAL_TRY))).startswith("最后一次")
    finally:
        i18n.install_translator(qapp, "zh_CN")
