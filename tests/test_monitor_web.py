"""The monitoring page is district-scoped, and an alert shows as a banner on the pages."""

from __future__ import annotations

import shutil
from urllib.parse import quote

import pandas as pd

from dropout.monitor.alerts import run_alerts
from dropout.monitor.config import load_monitor_config
from dropout.store import open_store
from dropout.store.monitoring import save_result
from dropout.web import WebSettings, create_app
from dropout.web import monitoring_data as web_monitoring
from test_web import SECRET, data, login, users_db  # noqa: F401  (fixtures)


def _estimate(lapses: float, n: int, auc: float) -> dict:
    def e(v, lo, hi):
        return {"value": v, "low": lo, "high": hi}

    return {"auc": e(auc, auc - 0.02, auc + 0.02), "lapses": e(lapses, lapses - 3, lapses + 3),
            "lapse_rate": e(lapses / n, (lapses - 3) / n, (lapses + 3) / n)}


def _monitored_store(path):
    url = f"sqlite:///{path}"
    store = open_store(url)
    run, _ = store.begin_run({"run_id": "r1", "as_of": pd.Timestamp("2025-05-31"), "window_days": 31,
                              "model_name": "m", "model_version": "3", "model_sha256": "x" * 64,
                              "data_fingerprint": "f", "n_expected": 0, "n_chunks": 0})
    store.dispose()
    cfg = load_monitor_config()
    reference = {"performance": {"auc": 0.9}, "expected_lapse_rate": 0.2}
    drift = {"features": {"net_monthly_cost_vnd": {"psi": 2.4, "distance": 0.7}}, "prediction": {"psi": 0.05}}
    overall = _estimate(100.0, 500, 0.9)
    alerts = run_alerts(drift=drift, estimated=overall, realised=None, reference=reference, cfg=cfg)
    payload = {
        "estimated": {"overall": overall, "by_district": {"A Lưới": _estimate(41.0, 200, 0.91),
                                                          "Hướng Hóa": _estimate(59.0, 300, 0.77)}},
        "realised": {"by": {"district": {"A Lưới": {"lapses": 44.0, "auc": 0.93}}}},
        "by_district_alerts": {"A Lưới": [], "Hướng Hóa": ["estimated_auc"]},
    }
    save_result(url, run, "2025-06-30", 500, 200, alerts, payload)
    return url


def test_the_monitoring_page_shows_the_own_district_only(tmp_path, data, users_db):  # noqa: F811
    shutil.copy(users_db, tmp_path / "store.db")
    url = _monitored_store(tmp_path / "store.db")
    web_monitoring._cache.clear()
    app = create_app(WebSettings(store_url=url, secret=SECRET, https_only=False), data)
    lan = login(app, "lan")  # an officer of A Lưới
    page = lan.get(f"/d/{quote('A Lưới')}/monitoring")
    assert page.status_code == 200
    assert "41 (38–44)" in page.text and "0.91" in page.text and ">44<" in page.text  # A Lưới's own numbers
    assert "59 (56–62)" not in page.text and "0.77" not in page.text  # never Hướng Hóa's
    assert "net_monthly_cost_vnd" in page.text  # drift is the model's, shown to every district
    assert lan.get(f"/d/{quote('Hướng Hóa')}/monitoring").status_code == 403
    # the alert is a banner on the district's other pages, with a link to the monitoring page
    overview = lan.get(f"/d/{quote('A Lưới')}").text
    assert 'id="monitoring-alert"' in overview and "/monitoring" in overview
    minh = login(app, "minh")  # Hướng Hóa: its own estimated-AUC alert and the drift
    text = minh.get(f"/d/{quote('Hướng Hóa')}/monitoring").text
    assert "0.77" in text and "AUC" in text and "41 (38–44)" not in text


def test_the_page_says_when_nothing_is_monitored_yet(tmp_path, data, users_db):  # noqa: F811
    shutil.copy(users_db, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path}/store.db"
    web_monitoring._cache.clear()
    app = create_app(WebSettings(store_url=url, secret=SECRET, https_only=False), data)
    page = login(app, "lan").get(f"/d/{quote('A Lưới')}/monitoring")
    assert page.status_code == 200 and 'id="no-monitoring"' in page.text


def test_model_endpoint_reports_the_latest_monitoring_status(tmp_path):
    from dropout.service.core import RiskEngine
    from dropout.service.models import ModelInfo

    info = ModelInfo(name="dropout-lapse", source="folder", features=[])
    empty = RiskEngine(model=None, info=info, reference=None, store_url=f"sqlite:///{tmp_path}/empty.db")
    assert empty.model_info().monitoring is None  # nothing monitored yet
    url = _monitored_store(tmp_path / "store.db")
    status = RiskEngine(model=None, info=info, reference=None, store_url=url).model_info().monitoring
    assert status.status == "alert" and status.as_of == "2025-05-31" and status.run_id == "r1"
    assert [a.kind for a in status.alerts] == ["feature_drift"] and status.alerts[0].message_vi
    assert status.monitored_with_export_of == "2025-06-30" and status.outcomes_known == 200
