"""The [renewal] table of the driver manifests, validated like the other fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhenglian import errors, manifest
from zhenglian.lifecycle.service import paper_route

BASE = 'id = "x"\nkind = "ca"\n[names]\nzh = "某CA"\nen = "X"\n'


def load(tmp_path: Path, renewal: str) -> manifest.Manifest:
    f = tmp_path / "x.toml"
    f.write_text(BASE + "[renewal]\n" + renewal, encoding="utf-8")
    return manifest.load_file(f)


def test_shipped_cas_publish_no_renewal_url_and_netca_has_the_guide_fees() -> None:
    ms = manifest.load_all()
    assert not ms.errors
    for ca in ms.cas():
        assert ca.renewal.est_url == ""
    netca = ms.by_id("netca").renewal
    assert (netca.fee_cert_per_year, netca.fee_seal_per_year, netca.reissue_fee, netca.years) == (200, 200, 50, (1, 5))
    route = paper_route(ms.by_id("netca"), seals=1)
    assert route.fee_for(3) == 1200
    assert any("400-830-1330" in s for s in route.lines_zh())


@pytest.mark.parametrize("text, field", [
    ('est_url = "ftp://ca/est"', "renewal.est_url"),
    ('est_url = "http://ca.example/.well-known/est"', "renewal.est_url"),
    ("new_key = 1", "renewal.new_key"),
    ("fee_cert_per_year = -5", "renewal.fee_cert_per_year"),
    ("years = [3, 1]", "renewal.years"),
    ('years = ["1", "5"]', "renewal.years"),
])
def test_bad_renewal_fields_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(errors.ManifestError) as exc:
        load(tmp_path, text)
    assert exc.value.facts["field"] == field


def test_good_renewal_table(tmp_path: Path) -> None:
    m = load(tmp_path, 'est_url = "https://ca.example/.well-known/est/"\nnew_key = false\nyears = [1, 3]\n')
    assert m.renewal.est_url == "https://ca.example/.well-known/est" and m.renewal.new_key is False
    assert m.renewal.years == (1, 3)
