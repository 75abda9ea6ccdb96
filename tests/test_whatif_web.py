"""The provincial office's what-if page: a province login sees its province's totals only."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from factories import TablesBuilder
from test_whatif import StubModel
from test_web import PASSWORD, SECRET, client_for, login

from dropout.web import WebSettings, accounts, create_app
from dropout.web.fake import fake_data
from dropout.whatif import run_whatif
from dropout.whatif.policy import parse_policies
from dropout.whatif.report import write_outputs



@pytest.fixture(scope="module")
def whatif_dir(tmp_path_factory):
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", province="Thua Thien Hue", district="A Lưới", commune="Hồng Thái")
    b.village("V2", province="Quang Tri", district="Hướng Hóa", commune="Tân Hợp")
    for village in ("V1", "V1", "V2"):
        b.schedule(b.participant(village_id=village, enrolled_on="2024-01-10", ethnicity="Kinh"))
    raw = pd.DataFrame({"policy": ["Huế +10"], "province": ["Thua Thien Hue"], "group": ["other"],
                        "valid_from": ["2025-10-01"], "valid_to": [""], "rate": ["0.10"]})
    result = run_whatif(b.build(), StubModel(), parse_policies(raw, "t"), "2025-10-01", "12m")
    folder = tmp_path_factory.mktemp("whatif")
    write_outputs(result, folder / "2025-10-01-20251002T000000", {"as_of": "2025-10-01", "horizon_months": 12,
                  "model": {"name": "stub", "version": "1", "sha256": "ab" * 32}, "policy_files": []})
    return folder


@pytest.fixture(scope="module")
def users_db(tmp_path_factory):
    """The accounts, hashed once for the module."""
    path = tmp_path_factory.mktemp("users") / "store.db"
    url = f"sqlite:///{path}"
    accounts.add_user(url, "hue", PASSWORD, "province", "Thua Thien Hue")
    accounts.add_user(url, "lan", PASSWORD, "officer", "A Lưới")
    accounts.add_user(url, "admin", PASSWORD, "admin", None)
    from dropout.store.engine import _shared_engine

    _shared_engine(url).dispose()
    return path


@pytest.fixture()
def app(tmp_path, whatif_dir, users_db):
    shutil.copy(users_db, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path}/store.db"
    settings = WebSettings(store_url=url, secret=SECRET, whatif_dir=whatif_dir, https_only=False)
    return create_app(settings, fake_data(participants_per_district=5, seed=3))


def test_a_province_login_lands_on_its_what_if_and_sees_nothing_else(app):
    c = login(app, "hue")
    home = c.get("/")
    assert home.status_code == 303 and home.headers["location"].endswith("/province/Thua%20Thien%20Hue/whatif")
    page = c.get("/province/Thua Thien Hue/whatif")
    assert page.status_code == 200
    assert "Huế +10" in page.text and 'id="whatif-summary"' in page.text and "A Lưới" in page.text
    assert "Hướng Hóa" not in page.text  # another province's district
    assert "data:image/png;base64," in page.text
    assert "4600000001" not in page.text  # totals only, never a person
    # 0.2 kept of 2 people: budget cost 2 x 514,800 (the hand-computed case, twice)
    assert "1,029,600" in page.text
    assert c.get("/province/Quang Tri/whatif").status_code == 403
    assert c.get("/d/A Lưới").status_code == 403


def test_officers_cannot_and_admins_can_see_a_province_page(app):
    assert login(app, "lan").get("/province/Thua Thien Hue/whatif").status_code == 403
    admin = login(app, "admin")
    assert admin.get("/province/Thua Thien Hue/whatif").status_code == 200
    empty = admin.get("/province/Quang Ninh/whatif")
    assert empty.status_code == 200 and 'id="no-whatif"' in empty.text
    assert client_for(app).get("/province/Thua Thien Hue/whatif").status_code == 303  # log in first


def test_a_province_account_needs_its_province(tmp_path):
    with pytest.raises(accounts.AccountError, match="--province"):
        accounts.add_user(f"sqlite:///{tmp_path}/s.db", "qt", PASSWORD, "province", None)
