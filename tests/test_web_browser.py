"""The officers' pages in a real browser (Playwright driving Debian's Chromium) against the
real server (`dropout web` in a subprocess on a free loopback port) reading a real score
store and data folder. Screenshots of each page go to tests/screenshots/ (ignored by git).

Needs `apt-get install -y chromium` (Playwright's own browser download is not used).
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dropout.web import accounts
from dropout.web.refs import ParticipantRefs

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SECRET = "browser-test-secret-" + "y" * 40
PASSWORD = "correct horse battery"
XSS_NOTE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> hẹn đóng sau thu hoạch'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_store(tables, url: str) -> None:
    """One finished scoring run of the fake tables in a real score store."""
    from dropout.store import open_store
    from dropout.web.fake import fake_scores

    scores = fake_scores(tables).drop(columns=["run_id"])
    store = open_store(url)
    store.begin_run({"run_id": "browser-run", "as_of": tables.extracted_on, "window_days": 30, "model_name": "fake",
                     "model_version": "1", "model_sha256": "0" * 64, "data_fingerprint": "f", "engine": "pandas",
                     "chunk_size": 1000, "n_chunks": 1, "n_expected": len(scores)})
    store.write_chunk("browser-run", 0, scores)
    store.finish_run("browser-run")
    store.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`dropout web` on a free port with a data folder, a store with one run, three accounts."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    from dropout.io import write_tables
    from dropout.web.fake import fake_tables

    tmp = tmp_path_factory.mktemp("web")
    tables = fake_tables(participants_per_district=30, seed=5)
    write_tables(tables, tmp / "data")
    url = f"sqlite:///{tmp}/scores.db"
    write_store(tables, url)
    accounts.add_user(url, "lan", PASSWORD, "officer", "A Lưới")
    accounts.add_user(url, "admin", PASSWORD, "admin", None)
    port = free_port()
    log_path = tmp / "server.log"
    env = {**os.environ, "DROPOUT_WEB_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dropout.cli", "web", "--data", str(tmp / "data"), "--store", url,
             "--capacity", "16", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/login", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the web server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)
    yield {"base": base, "tables": tables, "log": log_path, "refs": ParticipantRefs(SECRET)}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def log_in(page, base: str, username: str = "lan") -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/d/.*|.*/$"))


def shot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def test_officer_journey(server, page, browser):
    base = server["base"]
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # logged out: sent to the log-in page, which brings us back afterwards
    page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi")
    assert "/login?next=" in page.url
    shot(page, "01-login")
    page.fill("#username", "lan")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(base + "/d/A%20L%C6%B0%E1%BB%9Bi")

    # district overview
    assert page.locator("h1").inner_text() == "Huyện A Lưới"
    assert page.locator("svg.chart-communes").count() == 1
    assert int(page.locator("#total-due").inner_text()) > 0
    shot(page, "02-district-overview")

    # a commune, filtered to the high band
    page.locator("a.commune-link", has_text="Hồng Thái").click()
    page.wait_for_url(re.compile(r".*/c/H%E1%BB%93ng%20Th%C3%A1i$"))
    shot(page, "03-commune-list")
    shot(page, "03-commune-list-first-screen", full_page=False)  # the README's picture (docs/)
    page.select_option("#filter-band", "high")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*band=high.*"))
    rows = page.locator("#ranked tbody tr")
    assert rows.count() > 0
    assert page.locator("#ranked tbody span.band").count() == rows.count()
    assert page.locator("#ranked tbody span.band-high").count() == rows.count()

    # the Excel file holds exactly the rows shown
    with page.expect_download() as download:
        page.click("#download-excel")
    assert download.value.suggested_filename == "a-luoi-hong-thai.xlsx"
    ws = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    sheet = [r for r in ws.iter_rows(values_only=True)][1:]
    shown = rows.evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()))")
    assert [r[1] or str(r[3]) for r in sheet] == [r[1].split("\n")[0].rsplit(" ", 1)[0] for r in shown]  # name
    assert [str(r[3]) for r in sheet] == [re.search(r"\d{10}", r[1]).group(0) for r in shown]
    assert [r[4] for r in sheet] == [r[2].split("\n")[0] for r in shown]  # village name

    # switch to English: same page, English words
    page.click("#switch-language")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Hồng Thái commune"
    assert "band=high" in page.url
    shot(page, "04-commune-list-en")

    # a participant: payment timeline, reasons, visits
    page.locator("a.participant-link").first.click()
    page.wait_for_url(re.compile(r".*/p/[a-z0-9]{13}$"))
    assert page.locator("svg.chart-timeline").count() == 1
    assert page.locator("#reasons li").count() >= 1
    shot(page, "05-participant")

    # record a visit whose note tries to run a script
    page.select_option("#kind", "home_visit")
    page.fill("#outcome_note", XSS_NOTE)
    page.click("#save-visit")
    page.wait_for_url(re.compile(r".*saved=1.*"))
    assert page.locator("#visit-saved").is_visible()
    assert page.locator("#visit-list td.note").first.inner_text() == XSS_NOTE
    assert page.evaluate("window.__xss") is None and not dialogs
    shot(page, "06-visit-recorded")

    # the visit plan and its printable A4 sheet
    page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi/plan")
    assert page.locator("section.officer-day").count() >= 1
    shot(page, "07-visit-plan")
    page.locator("a.print-link").first.click()
    page.wait_for_url(re.compile(r".*/plan/sheet\?officer_day=.*"))
    assert page.locator(".sheet-table tbody tr").count() >= 1
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("#print-button").is_visible()
    shot(page, "08-visit-sheet-print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")

    # the commune list on a phone: one card per person
    phone = browser.new_context(viewport={"width": 360, "height": 780}, storage_state=page.context.storage_state())
    small = phone.new_page()
    small.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi/c/H%E1%BB%93ng%20Th%C3%A1i")
    assert small.locator("#ranked thead").is_hidden()
    assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(small, "09-commune-list-phone")
    phone.close()

    # log out: back to the log-in page, and pages are closed again
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login\?bye=1$"))
    page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi")
    assert "/login?next=" in page.url


def test_other_districts_and_forged_posts_are_refused(server, page):
    base, refs = server["base"], server["refs"]
    log_in(page, base)
    r = page.goto(base + "/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a")
    assert r.status == 403
    shot(page, "10-forbidden")
    tables = server["tables"]
    village = tables.villages.set_index("village_id")["district"]
    people = tables.participants.assign(district=tables.participants["village_id"].map(village))
    other = int(people.loc[people["district"] == "Hướng Hóa", "participant_id"].iloc[0])
    own = int(people.loc[people["district"] == "A Lưới", "participant_id"].iloc[0])
    for path in ["/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/c/A%20D%C6%A1i", "/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/c/A%20D%C6%A1i/list.xlsx", "/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a/plan",
                 f"/p/{refs.encode(other)}"]:
        assert page.request.get(base + path, max_redirects=0).status == 403, path
    form = {"visited_on": time.strftime("%Y-%m-%d"), "kind": "home_visit", "language": "Vietnamese",
            "outcome_note": "forged"}
    target = base + f"/p/{refs.encode(own)}/visits"
    assert page.request.post(target, form=form, max_redirects=0).status == 403
    assert page.request.post(target, form={**form, "csrf_token": "guess"}, max_redirects=0).status == 403
    page.goto(base + f"/p/{refs.encode(own)}")
    assert "forged" not in page.content()
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert page.request.post(target, form={**form, "csrf_token": token, "outcome_note": "with token"},
                             max_redirects=0).status == 303


def test_admin_sees_both_districts(server, page):
    base = server["base"]
    log_in(page, base, "admin")
    assert page.locator("ul.big-links a").all_inner_texts() == ["A Lưới", "Hướng Hóa"]
    shot(page, "11-admin-districts")
    page.click("text=Hướng Hóa")
    page.wait_for_url(re.compile(r".*/d/H%C6%B0%E1%BB%9Bng%20H%C3%B3a$"))
    assert page.locator("h1").inner_text() == "Huyện Hướng Hóa"


def test_server_log_holds_no_personal_data(server, page):
    """A session of its own (log in, open people, record a note) plus whatever the other
    tests of this module did against the same server: none of it may reach the log."""
    base, refs = server["base"], server["refs"]
    log_in(page, base)
    tables = server["tables"]
    own = tables.participants.loc[tables.participants["village_id"].str.startswith("ALU"), "participant_id"]
    page.goto(base + f"/p/{refs.encode(int(own.iloc[1]))}")
    page.fill("#outcome_note", "ghi chú riêng tư 8841")
    page.click("#save-visit")
    page.wait_for_url(re.compile(r".*saved=1.*"))
    page.request.get(base + "/d/A%20L%C6%B0%E1%BB%9Bi/c/H%E1%BB%93ng%20Th%C3%A1i/list.xlsx?band=high")
    time.sleep(0.5)  # let the server flush its log lines
    log = server["log"].read_text(encoding="utf-8", errors="replace")
    assert "GET /d/A%20L%C6%B0%E1%BB%9Bi" in log or "GET /p/" in log  # the access log is on: the check is not vacuous
    assert "POST /p/" in log
    ids = tables.participants["participant_id"].astype(str)
    leaked = [pid for pid in ids if pid in log]
    assert not leaked, f"participant ids in the server log: {leaked[:5]}"
    names = [n for n in tables.participants["full_name"].dropna() if n in log]
    phones = [p for p in tables.participants["phone"].dropna() if p in log]
    assert not names and not phones, "names or phones in the server log"
    for text in ("ghi chú riêng tư 8841", "8841", XSS_NOTE, "hẹn đóng", "forged", "with token", PASSWORD,
                 "window.__xss"):
        assert text not in log, text


# ---------------------------------------------------------------- every page at phone and desktop width


WIDTHS = (390, 1280)


def _fits(page, width: int | None = None) -> bool:
    """No sideways scroll; with `width`, also no layout viewport widened past the screen
    (a phone browser widens it to the content instead of scrolling)."""
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return sizes[0] <= sizes[1] and (width is None or sizes[1] <= width)


def test_every_page_fits_phone_and_desktop_widths(server, browser):
    """No page scrolls sideways at 390 px or 1280 px; phone tap targets are >= 44 px."""
    base, refs, tables = server["base"], server["refs"], server["tables"]
    own = tables.participants.loc[tables.participants["village_id"].str.startswith("ALU"), "participant_id"]
    commune = "/d/A%20L%C6%B0%E1%BB%9Bi/c/H%E1%BB%93ng%20Th%C3%A1i"
    pages = ["/login", "/d/A%20L%C6%B0%E1%BB%9Bi", commune, commune + "/calls", commune + "/arrears",
             f"/p/{refs.encode(int(own.iloc[0]))}", "/d/A%20L%C6%B0%E1%BB%9Bi/plan",
             "/d/A%20L%C6%B0%E1%BB%9Bi/monitoring"]
    widths = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 860}, is_mobile=width < 500,
                                      has_touch=width < 500)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(base + "/login")
        assert _fits(page, width), ("/login", width)
        log_in(page, base)
        page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi/plan")
        sheet = page.locator("a.print-link").first.get_attribute("href")
        for path in [*pages[1:], sheet]:
            page.goto(base + path if path.startswith("/") and not path.startswith(base) else path)
            widths[(path, width)] = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert _fits(page, width), (path, width, widths[(path, width)])
            for lang in ("vi", "en"):
                assert "nan" not in page.locator("main").inner_text().lower().split(), (path, lang)
        if width < 500:
            shot(page, "12-sheet-phone")
            page.goto(base + pages[5])
            shot(page, "13-participant-phone", full_page=False)
            box = page.locator("#save-visit").bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44
            for selector in ("#kind", "#language", "#outcome", "#switch-language", "#logout"):
                assert page.locator(selector).bounding_box()["height"] >= 44, selector
            page.select_option("#outcome", "not_home")
            page.locator("#save-visit").tap()
            page.wait_for_url(re.compile(r".*saved=1.*"))
            assert "Không có nhà" in page.locator("#visit-list").inner_text()
            page.goto(base + commune)
            shot(page, "09-commune-list-phone", full_page=False)
        context.close()
    (SCREENSHOTS / "widths.txt").write_text("\n".join(f"{w}px {p}: {v}" for (p, w), v in sorted(widths.items(),
                                                                                         key=lambda kv: kv[0][1])))


# ---------------------------------------------------------------- live app in this process


def serve_in_thread(app):
    """Serve an ASGI app with uvicorn in a thread; returns (base URL, stop)."""
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)

    def stop():
        srv.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_a_day_of_20_people_prints_on_at_most_two_a4_pages(tmp_path, browser):
    import pandas as pd

    from dropout.web import WebSettings, create_app
    from dropout.web.data import InMemoryData
    from dropout.web.fake import fake_runs, fake_scores, fake_tables

    tables = fake_tables(participants_per_district=60, seed=7)
    scores = fake_scores(tables, window_days=200)
    mine = scores[scores["district"] == "A Lưới"].head(20)
    assert len(mine) == 20
    plan = pd.DataFrame({
        "pool": "A Lưới", "officer_day": "A Lưới - Ngày 1", "day": 1,
        "trip": pd.factorize(mine["village_id"])[0] + 1, "visit_order": mine.groupby("village_id").cumcount() + 1,
        "village_id": mine["village_id"].to_numpy(), "action": "home_visit",
        "participant_id": mine["participant_id"].to_numpy(), "expected_averted": 0.05, "district": "A Lưới",
    })
    data = InMemoryData(scores=scores, runs=fake_runs(scores), tables=tables, plan=plan)
    url = f"sqlite:///{tmp_path}/s.db"
    accounts.add_user(url, "lan", PASSWORD, "officer", "A Lưới")
    base, stop = serve_in_thread(create_app(WebSettings(store_url=url, secret=SECRET), data))
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        log_in(page, base)
        page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi/plan")
        page.locator("a.print-link").first.click()
        page.wait_for_url(re.compile(r".*/plan/sheet\?officer_day=.*"))
        assert page.locator(".sheet-table tbody tr").count() == 20
        header = page.locator(".sheet-head h1").inner_text()
        assert re.search(r"\d\d/\d\d/\d{4}", header)  # the date
        assert "Giờ và nơi gặp" in page.locator(".sheet").inner_text()  # meeting time and place
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4", prefer_css_page_size=True)
        (SCREENSHOTS).mkdir(exist_ok=True)
        (SCREENSHOTS / "sheet-20.pdf").write_bytes(pdf)
        pages = _pdf_pages(pdf)
        (SCREENSHOTS / "sheet-20-pages.txt").write_text(str(pages))
        assert 1 <= pages <= 2, pages
        # rows never split: every row's box lies on one page (A4 at 96 dpi minus margins)
        context.close()
    finally:
        stop()


def test_a_recorded_visit_and_a_refreshed_payment_change_the_plan(tmp_path, browser):
    import pandas as pd

    from dropout.io import write_tables
    from dropout.store.payments import merge_payments
    from dropout.web import WebSettings, create_app
    from dropout.web.fake import fake_tables

    tables = fake_tables(participants_per_district=30, seed=5)
    write_tables(tables, tmp_path / "data")
    url = f"sqlite:///{tmp_path}/scores.db"
    write_store(tables, url)
    accounts.add_user(url, "lan", PASSWORD, "officer", "A Lưới")
    settings = WebSettings(store_url=url, secret=SECRET, data_dir=tmp_path / "data", plan_capacity="16",
                           data_refresh_seconds=0)
    base, stop = serve_in_thread(create_app(settings))
    refs = ParticipantRefs(SECRET)
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        log_in(page, base)

        def planned() -> list[int]:
            page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi/plan")
            hrefs = page.locator("table.plan-people a[href*='/p/']").evaluate_all("as => as.map(a => a.href)")
            return [refs.decode(h.rsplit("/", 1)[1]) for h in hrefs]

        before = planned()
        assert len(before) >= 2
        visited, payer = before[0], before[1]
        page.goto(base + f"/p/{refs.encode(visited)}")
        page.select_option("#outcome", "promised")
        page.fill("#promised_on", (pd.Timestamp.today() + pd.Timedelta(days=10)).strftime("%Y-%m-%d"))
        page.click("#save-visit")
        page.wait_for_url(re.compile(r".*saved=1.*"))
        after_visit = planned()
        assert visited not in after_visit and payer in after_visit

        # a newer export: the payer paid the installment they were scored for
        inst = tables.installments.copy()
        due = pd.read_sql("select participant_id, due_on from scores", url.replace("sqlite:///", "sqlite:///"))
        due_on = pd.Timestamp(due.loc[due["participant_id"] == payer, "due_on"].iloc[0])
        hit = (inst["participant_id"] == payer) & (inst["due_on"] == due_on)
        later = tables.extracted_on + pd.Timedelta(days=3)
        inst.loc[hit, "paid_on"] = later
        inst.loc[hit, "amount_paid"] = 100_000
        merged = merge_payments(url, tables.replace(installments=inst, extracted_on=later))
        assert merged.people_paid == 1
        after_payment = planned()
        assert payer not in after_payment and visited not in after_payment
        page.goto(base + "/d/A%20L%C6%B0%E1%BB%9Bi/c/" + page.evaluate("encodeURIComponent('"
                  + tables.villages.set_index("village_id").loc[
                      tables.participants.set_index("participant_id").loc[payer, "village_id"], "commune"] + "')"))
        assert "Đã đóng ngày" in page.locator("#ranked").inner_text()
        assert "Đã thăm ngày" in page.content() or visited not in before  # the visit shows as visited
        assert "cập nhật đến" in page.locator("#freshness").inner_text()
    finally:
        stop()
