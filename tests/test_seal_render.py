"""The round seal maker: size, transparency, ring, star, purpose line, font search, speed."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from helpers.requires import require
from PIL import Image

from zhenglian import errors
from zhenglian.seals import render

ORG = "东莞市莞城示范制造有限公司"


@pytest.fixture(scope="module", autouse=True)
def _font_available() -> None:
    try:
        render.find_font()
    except errors.SealFontMissing:
        require(False, "no CJK font installed (fonts-noto-cjk)")


@pytest.fixture(scope="module")
def contract() -> Image.Image:
    return Image.open(io.BytesIO(render.render_seal_png(ORG, "合同专用章"))).convert("RGBA")


@pytest.fixture(scope="module")
def official() -> Image.Image:
    return Image.open(io.BytesIO(render.render_seal_png(ORG, "公章"))).convert("RGBA")


def _px_per_mm(img: Image.Image, diameter_mm: float = 42.0) -> float:
    return img.width / diameter_mm


@pytest.mark.parametrize(("diameter", "dpi"), [(42.0, 600), (40.0, 600), (42.0, 300)])
def test_size_in_pixels_is_millimetres_times_dpi(diameter: float, dpi: int) -> None:
    img = render.render_seal(ORG, "公章", diameter_mm=diameter, dpi=dpi)
    expected = round(diameter / 25.4 * dpi)
    assert img.size == (expected, expected)
    assert img.mode == "RGBA"


def test_default_is_992_px_for_42_mm(contract: Image.Image) -> None:
    assert contract.size == (992, 992)


def test_png_records_its_resolution() -> None:
    png = render.render_seal_png(ORG, "公章", dpi=600)
    with Image.open(io.BytesIO(png)) as img:
        assert round(img.info["dpi"][0]) == 600
        assert img.mode == "RGBA"


def test_corners_are_transparent(contract: Image.Image) -> None:
    w, h = contract.size
    for xy in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (40, 40), (w - 41, h - 41)]:
        assert contract.getpixel(xy)[3] == 0, xy


def test_ring_is_solid_seal_red(contract: Image.Image) -> None:
    k = _px_per_mm(contract)
    c = contract.width / 2
    ring_mid = 21.0 - 0.15 - 0.6  # outer radius minus half the 1.2 mm ring
    for deg in range(0, 360, 15):
        a = math.radians(deg)
        x, y = c + ring_mid * k * math.cos(a), c + ring_mid * k * math.sin(a)
        r, g, b, alpha = contract.getpixel((round(x), round(y)))
        assert alpha == 255, deg
        assert (r, g, b) == render.SEAL_RED


def test_inside_the_ring_just_off_it_is_clear(official: Image.Image) -> None:
    k = _px_per_mm(official)
    c = official.width / 2
    # Between the ring and the characters, at the bottom (no name there).
    assert official.getpixel((round(c), round(c + 19.0 * k)))[3] == 0


def test_star_in_the_centre(contract: Image.Image) -> None:
    k = _px_per_mm(contract)
    c = contract.width / 2
    assert contract.getpixel((round(c), round(c)))[3] == 255
    # Tip of the upper arm (just inside the 7 mm outer radius) is ink ...
    assert contract.getpixel((round(c), round(c - 6.5 * k)))[3] == 255
    # ... but the notch between two arms, outside the inner radius, is not.
    a = math.radians(-90 + 36)
    x, y = c + 5.0 * k * math.cos(a), c + 5.0 * k * math.sin(a)
    assert contract.getpixel((round(x), round(y)))[3] == 0


def _ink(img: Image.Image, box_mm: tuple[float, float, float, float]) -> int:
    """Opaque-ish pixels in a box given in mm relative to the centre."""
    k = _px_per_mm(img)
    c = img.width / 2
    x0, y0, x1, y1 = box_mm
    region = img.getchannel("A").crop((round(c + x0 * k), round(c + y0 * k), round(c + x1 * k), round(c + y1 * k)))
    return sum(region.histogram()[129:])


def test_contract_seal_has_a_purpose_line_and_official_seal_none(contract: Image.Image,
                                                                  official: Image.Image) -> None:
    under_star = (-9.0, 8.6, 9.0, 13.0)
    assert _ink(contract, under_star) > 2000
    assert _ink(official, under_star) == 0
    assert contract.tobytes() != official.tobytes()


def test_name_runs_along_the_upper_arc(official: Image.Image) -> None:
    # Ink above the star (the top of the arc) and on both sides, none at the bottom.
    assert _ink(official, (-3, -19.5, 3, -13)) > 500
    assert _ink(official, (-19.5, -3, -13, 3)) > 500
    assert _ink(official, (13, -3, 19.5, 3)) > 500
    assert _ink(official, (-3, 14, 3, 19.0)) == 0


def test_name_is_symmetric_about_the_vertical_axis(official: Image.Image) -> None:
    left = _ink(official, (-20, -20, -1, 12))
    right = _ink(official, (1, -20, 20, 12))
    assert 0.7 < left / right < 1.4


@pytest.mark.parametrize("n", range(2, 30))
def test_arc_span_adapts_to_length(n: int) -> None:
    span = render.arc_span_degrees(n)
    assert span <= 250
    if n >= 8:
        assert 210 <= span <= 250
        assert render.arc_span_degrees(n, purpose=True) <= 225
    assert render.arc_span_degrees(n + 1) >= span


def test_star_points_are_regular() -> None:
    pts = render.star_points(0, 0, 10)
    outer = [math.hypot(x, y) for x, y in pts[0::2]]
    inner = [math.hypot(x, y) for x, y in pts[1::2]]
    assert all(abs(r - 10) < 1e-9 for r in outer)
    assert all(abs(r - 3.8197) < 1e-3 for r in inner)
    assert pts[0] == pytest.approx((0, -10))  # one point straight up


def test_missing_font_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(render, "font_candidates", lambda: [(str(tmp_path / "none.ttc"), 0.0)])
    with pytest.raises(errors.SealFontMissing) as info:
        render.render_seal(ORG)
    assert "none.ttc" in info.value.message_en()
    assert info.value.hint()[0]


def test_font_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = render.find_font().path
    monkeypatch.setenv(render.FONT_ENV, wanted)
    assert render.font_candidates()[0] == (wanted, 0.0)
    assert render.find_font().path == wanted


def test_a_non_font_file_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    real = render.find_font()
    monkeypatch.setattr(render, "font_candidates", lambda: [(str(junk), 0.0), (real.path, 0.0)])
    assert render.find_font().path == real.path


def test_collection_picks_the_simplified_chinese_face() -> None:
    choice = render.find_font()
    if not choice.path.endswith(".ttc") or "Noto" not in choice.path:
        pytest.skip("not a Noto CJK collection")
    from PIL import ImageFont

    assert ImageFont.truetype(choice.path, 12, index=choice.index).getname()[0].endswith(" SC")


@pytest.mark.parametrize("name, org, seal_type", [
    ("seal-contract.png", "东莞市松山湖演示科技有限公司", "合同专用章"),
    ("seal-official.png", ORG, "公章"),
    ("seal-mortgage.png", "东莞市虎门样例贸易有限公司", "抵押业务专用章"),
])
def test_the_demo_seals_shown_in_the_docs(name: str, org: str, seal_type: str, shoot) -> None:  # type: ignore[no-untyped-def]
    """docs/seals.md's pictures: the seal maker's demo seals, 42 mm at 300 dpi (496 px)."""
    img = render.render_seal(org, seal_type, dpi=300)
    assert img.size == (496, 496)
    assert img.getpixel((0, 0))[3] == 0 and img.getpixel((248, 3))[:3] == render.SEAL_RED
    shoot(img, name)
