"""The README's pictures, from the demo's own run: `python docs/make_screenshots.py out/demo`.

Starts the officers' pages on the demo's data folder and score store (a throw-away
account), opens the busiest commune's list at 1280 px and a participant page at 390 px in
Debian's Chromium, and writes docs/commune-list.png and docs/participant-phone.png. Also
prints, for the demo's scores, the share of shown reasons that are fixed traits.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import uvicorn
from playwright.sync_api import sync_playwright

from dropout.features.catalog import load_catalog
from dropout.web import WebSettings, accounts, create_app
from dropout.web.refs import ParticipantRefs

DOCS = Path(__file__).resolve().parent
SECRET = "screenshots-" + "z" * 40
PASSWORD = "screenshots only 1"


def main(out: Path) -> None:
    tmp = Path(tempfile.mkdtemp())
    store = tmp / "scores.db"
    store.write_bytes((out / "scores.db").read_bytes())
    url = f"sqlite:///{store}"
    scores = pd.read_parquet(next((out / "score").iterdir()) / "scores.parquet")
    district = scores["district"].iloc[0]
    accounts.add_user(url, "lan", PASSWORD, "officer", district)
    fixed = {f.name for f in load_catalog().features if not f.shown_as_reason}
    shown = pd.concat([scores[f"reason_{k}_feature"] for k in range(1, 5)]).dropna().astype(str)
    print(f"shown reasons: {len(shown)}, fixed traits among them: {shown.isin(fixed).mean():.1%}")
    settings = WebSettings(store_url=url, secret=SECRET, data_dir=out / "data", plan_capacity="30")
    server = uvicorn.Server(uvicorn.Config(create_app(settings, preload=True), port=8765, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.1)
    base = "http://127.0.0.1:8765"
    commune = scores["commune"].value_counts().index[0]
    top = int(scores.sort_values("rank_in_district")["participant_id"].iloc[0])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        for width, path, name, full in ((1280, f"/d/{quote(district)}/c/{quote(commune)}", "commune-list.png", False),
                                        (390, f"/p/{ParticipantRefs(SECRET).encode(top)}", "participant-phone.png", False)):
            context = browser.new_context(viewport={"width": width, "height": 900 if width > 500 else 844},
                                          is_mobile=width < 500, device_scale_factor=1 if width > 500 else 2)
            page = context.new_page()
            page.goto(base + "/login")
            page.fill("#username", "lan")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit].primary")
            page.wait_for_load_state()
            page.goto(base + path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            page.screenshot(path=str(DOCS / name), full_page=full)
            context.close()
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo"))
