"""The officers' pages on a real scoring run (not the web module's fake scores): the
commune list shows the run's people in rank order with their reasons as scored."""

from __future__ import annotations

import html
from urllib.parse import quote

import pandas as pd

from dropout.score.run import run_scoring
from dropout.web import WebSettings, accounts, create_app
from dropout.web.sources import StoreData
from test_score_run import model_ref
from test_score_world import AS_OF, WINDOW, load_model, small_world, write_world
from test_web import PASSWORD, SECRET, login


def test_commune_page_lists_a_real_run_in_rank_order_with_its_reasons(tmp_path):
    data_dir, _ = write_world(tmp_path)
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    result = run_scoring(small_world(), AS_OF, WINDOW, model_ref(load_model()), store_url=url,
                         out_dir=tmp_path / "out", excel=False)
    scores = result.scores
    district, commune = scores.sort_values("risk", ascending=False)[["district", "commune"]].iloc[0]
    accounts.add_user(url, "lan", PASSWORD, "officer", district)
    app = create_app(WebSettings(store_url=url, data_dir=data_dir, secret=SECRET, https_only=False), StoreData(url, data_dir))
    c = login(app, "lan")

    page = c.get(f"/d/{quote(district)}/c/{quote(commune)}")
    assert page.status_code == 200, page.text[:500]
    text = page.text
    ranked = scores[(scores.district == district) & (scores.commune == commune)].sort_values("rank_in_commune")
    positions = [text.find(str(pid)) for pid in ranked["participant_id"]]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)  # shown in rank order
    top = ranked.iloc[0]
    for k in range(1, 5):
        reason = top[f"reason_{k}_vi"]
        if pd.notna(reason):
            assert html.escape(str(reason), quote=False) in text or html.escape(str(reason)) in text

    overview = c.get(f"/d/{quote(district)}").text
    high = int((scores[scores.district == district]["risk_band"] == "high").sum())
    assert f'id="total-high">{high}<' in overview
    # an officer of this district does not see another district's list
    others = sorted(set(scores["district"]) - {district})
    if others:
        assert c.get(f"/d/{quote(others[0])}").status_code in (302, 303, 403)
