"""The officers' web pages without a browser: log-in, CSRF, throttling, district scope,
escaping, the Excel download, recorded visits, the store adapter (Starlette TestClient)."""

from __future__ import annotations

import io
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from starlette.applications import Starlette
from starlette.routing import Mount

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from dropout.web import WebSettings, accounts, create_app
from dropout.web.fake import fake_data
from dropout.web.i18n import MESSAGES
from dropout.web.refs import ParticipantRefs
from dropout.store.visits import CONTRACT_COLUMNS, WEB_VISIT_ID_OFFSET, recorded_visits

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "dropout" / "web" / "templates"


@pytest.fixture(scope="module")
def data():
    return fake_data(participants_per_district=30, seed=3)


@pytest.fixture(scope="module")
def users_db(tmp_path_factory) -> Path:
    """A store holding the three test accounts (hashing once, copied for each test)."""
    path = tmp_path_factory.mktemp("users") / "store.db"
    url = f"sqlite:///{path}"
    accounts.add_user(url, "lan", PASSWORD, "officer", "A Lưới")
    accounts.add_user(url, "minh", PASSWORD, "officer", "Hướng Hóa")
    accounts.add_user(url, "admin", PASSWORD, "admin", None)
    from dropout.store.engine import _shared_engine as _engine

    _engine(url).dispose()
    return path


@pytest.fixture()
def web(tmp_path, data, users_db):
    shutil.copy(users_db, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path}/store.db"
    settings = WebSettings(store_url=url, secret=SECRET, login_max_failures=3, https_only=False)
    app = create_app(settings, data)
    return app, url, data


def client_for(app) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def token(client: TestClient, path: str = "/login") -> str:
    return TOKEN_RE.search(client.get(path).text).group(1)


def login(app, username: str, password: str = PASSWORD) -> TestClient:
    c = client_for(app)
    r = c.post("/login", data={"csrf_token": token(c), "username": username, "password": password, "next": ""})
    assert r.status_code == 303, r.text
    return c


def a_participant(data, district: str) -> int:
    return int(data.scores(district)["participant_id"].iloc[0])


def ref(pid: int) -> str:
    return ParticipantRefs(SECRET).encode(pid)


# ---------------------------------------------------------------- log-in and sessions


def test_logged_out_visitors_are_sent_to_login(web):
    app, _, data = web
    c = client_for(app)
    pid = a_participant(data, "A Lưới")
    for path in ["/", "/d/A%20L%C6%B0%E1%BB%9Bi", "/d/A%20L%C6%B0%E1%BB%9Bi/c/H%E1%BB%93ng%20Th%C3%A1i", "/d/A%20L%C6%B0%E1%BB%9Bi/c/H%E1%BB%93ng%20Th%C3%A1i/list.xlsx",
                 "/d/A%20L%C6%B0%E1%BB%9Bi/plan", f"/p/{ref(pid)}"]:
        r = c.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login"), path
    r = c.get("/d/A%20L%C6%B0%E1%BB%9Bi/c/H%E1%BB%93ng%20Th%C3%A1i?band=high")
    assert r.headers["location"] == "/login?next=%2Fd%2FA%2520L%25C6%25B0%25E1%25BB%259Bi%2Fc%2FH%25E1%25BB%2593ng%2520Th%25C3%25A1i%3Fband%3Dhigh"


def test_login_cookie_is_httponly_and_samesite_strict(web):
    app, _, _ = web
    c = client_for(app)
    r = c.post("/login", data={"csrf_token": token(c), "username": "lan", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/").headers["location"] == "/d/A%20L%C6%B0%E1%BB%9Bi"


def test_wrong_password_is_refused_and_throttled_per_username_and_address(web):
    app, _, _ = web
    c = client_for(app)
    for _ in range(3):
        r = c.post("/login", data={"csrf_token": token(c), "username": "lan", "password": "wrong password"})
        assert r.status_code == 401
    # the right password no longer helps for this username from this address ...
    r = c.post("/login", data={"csrf_token": token(c), "username": "lan", "password": PASSWORD})
    assert r.status_code == 429
    assert "15 phút" in r.text
    # ... while another officer at the same address logs in as usual
    r = c.post("/login", data={"csrf_token": token(c), "username": "minh", "password": PASSWORD})
    assert r.status_code == 303


def test_next_cannot_leave_the_site(web):
    app, _, _ = web
    c = client_for(app)
    for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example"]:
        c.cookies.clear()
        r = c.post("/login", data={"csrf_token": token(c), "username": "lan", "password": PASSWORD, "next": evil})
        assert r.headers["location"] == "/", evil


def test_logout_ends_the_session(web):
    app, _, _ = web
    c = login(app, "lan")
    r = c.post("/logout", data={"csrf_token": token(c, "/d/A%20L%C6%B0%E1%BB%9Bi")})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/d/A%20L%C6%B0%E1%BB%9Bi").status_code == 303


def test_disabling_an_account_ends_its_open_sessions(web):
    app, url, _ = web
    c = login(app, "lan")
    assert c.get("/d/A%20L%C6%B0%E1%BB%9Bi").status_code == 200
    accounts.disable_user(url, "lan")
    assert c.get("/d/A%20L%C6%B0%E1%BB%9Bi").status_code == 303
    c2 = client_for(app)
    r = c2.post("/login", data={"csrf_token": token(c2), "username": "lan", "password": PASSWORD})
    assert r.status_code == 401


def test_account_rules(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(accounts.AccountError, match="district"):
        accounts.add_user(url, "lan", PASSWORD, "officer", None)
    with pytest.raises(accounts.AccountError, match="at least"):
        accounts.add_user(url, "lan", "short", "officer", "A Lưới")
    with pytest.raises(accounts.AccountError, match="role"):
        accounts.add_user(url, "lan", PASSWORD, "boss", "A Lưới")
    with pytest.raises(accounts.AccountError, match="username"):
        accounts.add_user(url, "<b>", PASSWORD, "officer", "A Lưới")
    user = accounts.add_user(url, "Lan", PASSWORD, "officer", "A Lưới")
    assert user.username == "lan" and accounts.authenticate(url, "LAN", PASSWORD) == user
    with pytest.raises(accounts.AccountError, match="exists"):
        accounts.add_user(url, "lan", PASSWORD, "officer", "A Lưới")
    stored = accounts.list_users(url)
    assert [u.username for u in stored] == ["lan"]


# ---------------------------------------------------------------- CSRF


def test_every_form_post_without_a_valid_csrf_token_is_refused(web):
    app, _, data = web
    pid = a_participant(data, "A Lưới")
    posts = {"/login": {"username": "lan", "password": PASSWORD}, "/logout": {}, "/lang": {"lang": "en"},
             f"/p/{ref(pid)}/visits": {"visited_on": "2026-01-05", "kind": "home_visit", "language": "Vietnamese",
                                       "outcome_note": "x"}}
    post_routes = {r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())}
    assert {re.sub(r"\{ref\}", "{ref}", p) for p in post_routes} == {"/login", "/logout", "/lang", "/p/{ref}/visits"}
    c = login(app, "lan")
    for path, form in posts.items():
        assert c.post(path, data=form).status_code == 403, path
        assert c.post(path, data={**form, "csrf_token": "forged"}).status_code == 403, path
    assert len(recorded_visits(web[1])) == 0


# ---------------------------------------------------------------- district scope


def test_an_officer_sees_only_their_own_district(web):
    app, url, data = web
    c = login(app, "lan")
    other = a_participant(data, "Hướng Hóa")
    commune = data.scores("Hướng Hóa")["commune"].iloc[0].replace(" ", "%20")
    for path in ["/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a", f"/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/c/{commune}", f"/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/c/{commune}/list.xlsx",
                 "/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/plan", "/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/plan/sheet?officer_day=x", f"/p/{ref(other)}"]:
        assert c.get(path).status_code == 403, path
    form = {"csrf_token": token(c, "/d/A%20L%C6%B0%E1%BB%9Bi"), "visited_on": "2026-01-05", "kind": "home_visit",
            "language": "Vietnamese", "outcome_note": ""}
    assert c.post(f"/p/{ref(other)}/visits", data=form).status_code == 403
    assert len(recorded_visits(url)) == 0
    own = a_participant(data, "A Lưới")
    assert c.get(f"/p/{ref(own)}").status_code == 200


def test_admin_sees_every_district(web):
    app, _, data = web
    c = login(app, "admin")
    page = c.get("/")
    assert page.status_code == 200 and "/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a" in page.text and "/d/A%20L%C6%B0%E1%BB%9Bi" in page.text
    for district in ("A%20L%C6%B0%E1%BB%9Bi", "H%C6%B0%E1%BB%9Bng%20H%C3%B3a"):
        assert c.get(f"/d/{district}").status_code == 200
    assert c.get(f"/p/{ref(a_participant(data, 'Hướng Hóa'))}").status_code == 200


def test_unknown_places_and_refs_are_404(web):
    app, _, _ = web
    c = login(app, "admin")
    assert c.get("/d/Nowhere").status_code == 404
    assert c.get("/d/A%20L%C6%B0%E1%BB%9Bi/c/Nowhere").status_code == 404
    assert c.get("/p/not-a-ref").status_code == 404
    assert c.get(f"/p/{ref(12345)}").status_code == 404


# ---------------------------------------------------------------- pages


def test_overview_counts_match_the_scores(web):
    app, _, data = web
    c = login(app, "lan")
    html = c.get("/d/A%20L%C6%B0%E1%BB%9Bi").text
    scores = data.scores("A Lưới")
    assert f'id="total-due">{len(scores)}<' in html
    assert f'id="total-high">{int((scores.risk_band == "high").sum())}<' in html
    assert "<svg" in html and "Hạn đóng sắp tới" in html


def test_commune_excel_is_exactly_the_filtered_list(web):
    app, _, data = web
    c = login(app, "lan")
    scores = data.scores("A Lưới")
    commune = scores["commune"].value_counts().index[0]
    path = f"/d/A%20L%C6%B0%E1%BB%9Bi/c/{commune.replace(' ', '%20')}"
    for query in ("", "?band=high", "?band=medium&mode=monthly", f"?village={scores.village_id.iloc[0]}"):
        html = c.get(path + query).text
        shown = [int(p) for p in re.findall(r'data-participant="(\d+)"', html)]
        r = c.get(path + "/list.xlsx" + query)
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        ws = load_workbook(io.BytesIO(r.content)).active
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][:4] == ("Thứ hạng trong xã / Rank in commune", "Họ tên / Name", "Điện thoại / Phone",
                               "Mã số BHXH / SI number")
        assert [int(r[3]) for r in rows[1:]] == shown, query
        assert ws.auto_filter.ref and ws.freeze_panes == "A2"
        due = rows[0].index("Hạn đóng / Due date")
        assert all(hasattr(r[due], "year") for r in rows[1:])  # real date cells, not text
        assert not any(v == "nan" or v == "None" for r in rows for v in r)
    expected = scores[(scores.commune == commune) & (scores.risk_band == "high")].sort_values("rank_in_commune")
    html = c.get(path + "?band=high").text
    assert [int(p) for p in re.findall(r'data-participant="(\d+)"', html)] == expected.participant_id.tolist()


def test_unknown_filter_values_are_ignored(web):
    app, _, data = web
    c = login(app, "lan")
    commune = data.scores("A Lưới")["commune"].iloc[0].replace(" ", "%20")
    full = c.get(f"/d/A%20L%C6%B0%E1%BB%9Bi/c/{commune}").text.count("data-participant=")
    assert c.get(f"/d/A%20L%C6%B0%E1%BB%9Bi/c/{commune}?band=<x>&mode=zzz&village=nope").text.count("data-participant=") == full


def test_language_switch(web):
    app, _, _ = web
    c = login(app, "lan")
    assert '<html lang="vi">' in c.get("/d/A%20L%C6%B0%E1%BB%9Bi").text
    r = c.post("/lang", data={"csrf_token": token(c, "/d/A%20L%C6%B0%E1%BB%9Bi"), "lang": "en", "next": "/d/A%20L%C6%B0%E1%BB%9Bi/plan"})
    assert r.headers["location"] == "/d/A%20L%C6%B0%E1%BB%9Bi/plan"
    page = c.get("/d/A%20L%C6%B0%E1%BB%9Bi").text
    assert '<html lang="en">' in page and "Deadlines coming up" in page


def test_participant_page_and_plan(web):
    app, _, data = web
    c = login(app, "lan")
    pid = a_participant(data, "A Lưới")
    html = c.get(f"/p/{ref(pid)}").text
    assert "Lịch sử đóng tiền" in html and 'class="chart chart-timeline"' in html and "Vì sao có nguy cơ" in html
    plan = c.get("/d/A%20L%C6%B0%E1%BB%9Bi/plan").text
    day = data.plan("A Lưới")["officer_day"].iloc[0]
    assert re.search(r"Thứ (Hai|Ba|Tư|Năm|Sáu) \d\d/\d\d/\d{4}", plan)  # plan days carry real dates
    assert "0.3" not in plan and re.search(r"dự kiến giữ lại khoảng \d+ người", plan)
    sheet = c.get("/d/A%20L%C6%B0%E1%BB%9Bi/plan/sheet", params={"officer_day": day})
    assert sheet.status_code == 200 and "Giờ và nơi gặp" in sheet.text
    en = c.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token(c, "/d/A%20L%C6%B0%E1%BB%9Bi/plan")})
    plan_en = c.get("/d/A%20L%C6%B0%E1%BB%9Bi/plan").text
    assert "Ngày" not in plan_en and re.search(r"(Monday|Tuesday|Wednesday|Thursday|Friday) \d{4}-\d\d-\d\d", plan_en)
    xlsx = c.get("/d/A%20L%C6%B0%E1%BB%9Bi/plan.xlsx")
    assert xlsx.status_code == 200
    ws = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert hasattr(ws["A2"].value, "year") and ws.auto_filter.ref


def test_security_headers(web):
    app, _, _ = web
    r = client_for(app).get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"


def test_oversized_bodies_are_refused(web):
    app, _, _ = web
    c = client_for(app)
    r = c.post("/login", content=b"a=" + b"x" * 100_000, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


# ---------------------------------------------------------------- recorded visits


def test_a_recorded_visit_is_listed_escaped_and_in_the_contract(web):
    app, url, data = web
    c = login(app, "lan")
    pid = a_participant(data, "A Lưới")
    page = f"/p/{ref(pid)}"
    note = '<script>alert("x")</script> hẹn đóng sau thu hoạch & "ok"'
    form = {"csrf_token": token(c, page), "visited_on": "2026-01-05", "kind": "home_visit",
            "language": "Vietnamese", "outcome_note": note}
    r = c.post(page + "/visits", data=form)
    assert r.status_code == 303 and r.headers["location"] == page + "?saved=1#visits"
    html = c.get(page + "?saved=1").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; hẹn đóng sau thu hoạch &amp; &#34;ok&#34;" in html
    visits = recorded_visits(url)
    assert list(visits.columns) == CONTRACT_COLUMNS
    assert visits.iloc[0]["participant_id"] == pid and visits.iloc[0]["outcome_note"] == note
    assert visits.iloc[0]["visit_id"] == WEB_VISIT_ID_OFFSET + 1
    # the next feature build can append them to the raw visits table: it still validates
    from dropout.schema import validate_raw

    tables = data.tables
    merged = pd.concat([tables.visits, visits], ignore_index=True)
    raw = tables.replace(visits=merged).as_dict()
    assert len(validate_raw(raw, pd.Timestamp("2026-06-30")).visits) == len(tables.visits) + 1


def test_bad_visits_are_refused_with_a_message(web):
    app, url, data = web
    c = login(app, "lan")
    page = f"/p/{ref(a_participant(data, 'A Lưới'))}"
    base = {"csrf_token": token(c, page), "visited_on": "2026-01-05", "kind": "home_visit", "language": "Vietnamese",
            "outcome_note": ""}
    for change, message in [({"visited_on": "2999-01-01"}, "Ngày thăm không hợp lệ"),
                            ({"visited_on": "yesterday"}, "Ngày thăm không hợp lệ"),
                            ({"kind": "phone_call"}, "Hãy chọn hình thức"),
                            ({"language": "Klingon"}, "Hãy chọn ngôn ngữ"),
                            ({"outcome_note": "x" * 2001}, "Ghi chú quá dài")]:
        r = c.post(page + "/visits", data={**base, **change})
        assert r.status_code == 400 and message in r.text, change
    assert len(recorded_visits(url)) == 0


# ---------------------------------------------------------------- pieces


def test_participant_refs_round_trip_and_hide_the_number():
    refs = ParticipantRefs(SECRET)
    for pid in (1, 4600000042, 9_999_999_999):
        r = refs.encode(pid)
        assert refs.decode(r) == pid and str(pid) not in r and len(r) == 13
    assert ParticipantRefs("another secret " * 3).decode(refs.encode(42)) != 42
    for bad in ("", "x" * 13, "!" * 13, refs.encode(42) + "a", refs.encode(42).upper()):
        assert refs.decode(bad) is None, bad


def test_every_message_has_both_languages_and_every_used_key_exists():
    for key, entry in MESSAGES.items():
        assert entry.get("vi") and entry.get("en"), key
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'", path.read_text(encoding="utf-8")))
    assert used and used <= set(MESSAGES), used - set(MESSAGES)


def test_works_mounted_under_a_prefix(web):
    app, _, _ = web
    outer = Starlette(routes=[Mount("/web", app=app)])
    c = TestClient(outer, follow_redirects=False)
    r = c.get("/web/d/A%20L%C6%B0%E1%BB%9Bi")
    assert r.headers["location"].startswith("/web/login?next=%2Fweb%2Fd%2FA%2520L%25C6%25B0%25E1%25BB%259Bi")
    login_page = c.get("/web/login").text
    assert 'action="/web/login"' in login_page and 'href="/web/static/style.css"' in login_page
    r = c.post("/web/login", data={"csrf_token": TOKEN_RE.search(login_page).group(1), "username": "lan",
                                   "password": PASSWORD})
    assert r.headers["location"] == "/web/"
    assert c.get("/web/").headers["location"] == "/web/d/A%20L%C6%B0%E1%BB%9Bi"
    assert 'href="/web/d/A%20L%C6%B0%E1%BB%9Bi/c/' in c.get("/web/d/A%20L%C6%B0%E1%BB%9Bi").text
    assert c.get("/web/static/style.css").status_code == 200


def test_store_data_reads_the_latest_run_per_district(tmp_path, data):
    from dropout.io import write_tables
    from dropout.store import open_store
    from dropout.web.fake import fake_scores
    from dropout.web.sources import StoreData

    tables = data.tables
    write_tables(tables, tmp_path / "data")
    url = f"sqlite:///{tmp_path}/scores.db"
    store = open_store(url)
    scores = fake_scores(tables).drop(columns=["run_id"])
    for run_id, rows, finished in (("old", scores, True), ("new", scores[scores.district == "A Lưới"], True),
                                   ("unfinished", scores[scores.district == "Hướng Hóa"], False)):
        store.begin_run({"run_id": run_id, "as_of": tables.extracted_on, "window_days": 30, "model_name": "m",
                         "model_version": run_id, "model_sha256": "0" * 64, "data_fingerprint": "f",
                         "engine": "pandas", "chunk_size": 10, "n_chunks": 1, "n_expected": len(rows)})
        store.write_chunk(run_id, 0, rows)
        if finished:
            store.finish_run(run_id)
    store.dispose()
    web_data = StoreData(url, tmp_path / "data", plan_capacity="16")
    assert web_data.districts() == ["A Lưới", "Hướng Hóa"]
    assert web_data.latest_run("A Lưới").run_id == "new"
    assert web_data.latest_run("Hướng Hóa").run_id == "old"  # the unfinished run is not shown
    a_luoi = web_data.scores("A Lưới")
    assert len(a_luoi) == (scores.district == "A Lưới").sum()
    assert (a_luoi["net_amount"] < a_luoi["amount_due"]).all()  # state support, as the scorer stored it
    assert set(a_luoi["payment_mode"]) <= {"monthly", "quarterly", "semiannual", "annual"}
    assert len(web_data.plan("A Lưới")) and web_data.plan("A Lưới")["district"].eq("A Lưới").all()


def test_users_command(tmp_path):
    from typer.testing import CliRunner

    from dropout.cli import app

    from dropout.io import write_tables
    from dropout.web.fake import fake_tables

    url = f"sqlite:///{tmp_path}/s.db"
    write_tables(fake_tables(participants_per_district=4, seed=1), tmp_path / "data")
    runner = CliRunner()
    data = ["--data", str(tmp_path / "data")]
    r = runner.invoke(app, ["users", "add", "nam", "--district", "Nowhere", "--store", url, "--password-stdin", *data],
                      input=PASSWORD + "\n")
    assert r.exit_code == 2 and "not a district of the data" in r.output
    r = runner.invoke(app, ["users", "add", "nam", "--district", "A Loi", "--store", url, "--password-stdin", *data],
                      input=PASSWORD + "\n")
    assert r.exit_code == 2 and "did you mean 'A Lưới'" in r.output, r.output
    r = runner.invoke(app, ["users", "add", "nam", "--district", "a luoi", "--store", url, "--password-stdin", *data],
                      input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert [u.district for u in accounts.list_users(url) if u.username == "nam"] == ["A Lưới"]
    r = runner.invoke(app, ["users", "add", "hoa", "--district", "A Lưới", "--store", url, "--password-stdin", *data],
                      input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert accounts.authenticate(url, "hoa", PASSWORD) is not None
    r = runner.invoke(app, ["users", "add", "hoa", "--district", "A Lưới", "--store", url, "--password-stdin", *data],
                      input=PASSWORD + "\n")
    assert r.exit_code == 2 and "already exists" in r.output  # the one CLI boundary: 2 for anything but refused data
    assert runner.invoke(app, ["users", "disable", "hoa", "--store", url]).exit_code == 0
    assert accounts.authenticate(url, "hoa", PASSWORD) is None
    assert PASSWORD not in runner.invoke(app, ["users", "list", "--store", url]).output


def test_an_unexpected_error_is_a_bare_500_and_its_message_is_not_logged(web, caplog, monkeypatch):
    app, _, data = web
    c = login(app, "lan")
    pid = a_participant(data, "A Lưới")

    words = "-".join(["secret", "words"])  # so the traceback's source line does not show them

    def broken(*args, **kwargs):
        raise KeyError(f"participant {pid} note: {words}")

    monkeypatch.setattr(type(data), "participant", broken)
    with caplog.at_level("ERROR", logger="dropout.web"):
        r = c.get(f"/p/{ref(pid)}")
    assert r.status_code == 500 and r.text == "internal error"
    assert "KeyError" in caplog.text
    assert str(pid) not in caplog.text and words not in caplog.text


def test_pages_work_from_the_store_alone_without_a_data_folder(web):
    from dropout.web.data import InMemoryData

    _, url, data = web
    scores = data.scores("A Lưới").assign(run_id="fake-run-1")
    bare = InMemoryData(scores=scores, runs=data._runs, tables=None)
    app = create_app(WebSettings(store_url=url, secret=SECRET, https_only=False), bare)
    c = login(app, "lan")
    pid = int(scores["participant_id"].iloc[0])
    commune = scores["commune"].iloc[0].replace(" ", "%20")
    for path in ["/d/A%20L%C6%B0%E1%BB%9Bi", f"/d/A%20L%C6%B0%E1%BB%9Bi/c/{commune}", f"/d/A%20L%C6%B0%E1%BB%9Bi/c/{commune}/list.xlsx",
                 "/d/A%20L%C6%B0%E1%BB%9Bi/plan", f"/p/{ref(pid)}"]:
        assert c.get(path).status_code == 200, path
    form = {"csrf_token": token(c, f"/p/{ref(pid)}"), "visited_on": "2026-01-05", "kind": "evening_session",
            "language": "Vietnamese", "outcome_note": ""}
    assert c.post(f"/p/{ref(pid)}/visits", data=form).status_code == 303
    assert recorded_visits(url)["village_id"].tolist() == [scores["village_id"].iloc[0]]


def test_creating_the_app_reads_no_data(tmp_path):
    """The service mounts the pages at import time (also during `bentoml build`)."""
    settings = WebSettings(store_url=f"sqlite:///{tmp_path}/nothing-yet.db", data_dir=tmp_path / "absent",
                           secret=SECRET)
    app = create_app(settings)
    assert client_for(app).get("/login").status_code == 200
    with pytest.raises(FileNotFoundError):
        create_app(settings, preload=True)
