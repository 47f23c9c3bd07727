"""Visible-page millimetres ↔ PDF user space, on plain, rotated and cropped pages."""

from __future__ import annotations

import pytest

from zhenglian.pdf.geometry import MM, Affine, PageBox, page_box, upright_image_matrix


def test_affine_compose_and_inverse() -> None:
    m = Affine(0, 1, -1, 0, 10, 20).then(Affine(2, 0, 0, 2, 5, 5))
    x, y = m.apply(3, 4)
    assert m.inverse().apply(x, y) == pytest.approx((3, 4))


@pytest.mark.parametrize(
    ("rotate", "visible_point", "user_point"),
    [
        # A4 portrait 595 x 842 with crop box offset (10, 20): the visible
        # top-left corner is where the page shows it after turning clockwise.
        (0, (0, 0), (10, 862)),
        (0, (100, 50), (110, 812)),
        (90, (0, 0), (10, 20)),  # visible top-left = user bottom-left
        (90, (100, 50), (60, 120)),  # x right -> user up, y down -> user right
        (180, (0, 0), (605, 20)),
        (180, (100, 50), (505, 70)),
        (270, (0, 0), (605, 862)),
        (270, (100, 50), (555, 762)),
    ],
)
def test_visible_to_user(rotate: int, visible_point: tuple[float, float], user_point: tuple[float, float]) -> None:
    box = PageBox(10, 20, 605, 862, rotate)
    assert box.to_user(*visible_point) == pytest.approx(user_point)
    assert box.to_visible(*user_point) == pytest.approx(visible_point)


def test_visible_size_swaps_on_quarter_turns() -> None:
    assert PageBox(0, 0, 595, 842, 0).visible_size_pt == (595, 842)
    assert PageBox(0, 0, 595, 842, 90).visible_size_pt == (842, 595)
    assert PageBox(0, 0, 595, 842, 270).visible_size_mm == pytest.approx((842 / MM, 595 / MM))


def test_user_unit_scales() -> None:
    box = PageBox(0, 0, 100, 100, 0, user_unit=2.0)
    assert box.visible_size_pt == (200, 200)
    assert box.to_user(200, 0) == pytest.approx((100, 100))


def test_upright_image_matrix_rotations_map_top_left_to_visible_top_left() -> None:
    # A 40 x 20 image at the widget's visible origin: its top-left corner
    # (unit point (0, 1)) must land at the visible top-left of the widget.
    for rotate in (0, 90, 180, 270):
        box_w, box_h = (20, 40) if rotate in (90, 270) else (40, 20)
        m = upright_image_matrix(box_w, box_h, rotate, 0, 0, 40, 20)
        vis_to_box = PageBox(0, 0, box_w, box_h, rotate)
        assert m.apply(0, 1) == pytest.approx(vis_to_box.to_user(0, 0))
        assert m.apply(1, 0) == pytest.approx(vis_to_box.to_user(40, 20))


class _Page(dict):  # a stand-in for a pyHanko page dictionary
    pass


def test_page_box_inherits_and_intersects() -> None:
    parent = _Page({"/MediaBox": [0, 0, 600, 800], "/Rotate": 450})
    page = _Page({"/Parent": parent, "/CropBox": [-10, 50, 500, 900]})
    box = page_box(page)
    assert (box.llx, box.lly, box.urx, box.ury) == (0, 50, 500, 800)
    assert box.rotate == 90


def test_page_box_ignores_bad_rotation_and_missing_boxes() -> None:
    box = page_box(_Page({"/Rotate": 45}))
    assert box.rotate == 0
    assert box.box_width > 500  # A4 fallback
