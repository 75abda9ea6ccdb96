"""Alerts: when a run's drift or (estimated or realised) performance crosses a threshold
of `models/monitor.yaml`. Each alert says what, how far, and what to do, in both languages.
"""

from __future__ import annotations

import math

from dropout.monitor.config import MonitorConfig

RETRAIN_EN = "Retrain the model on recent data (dropout train) and check the lists by hand until then."
RETRAIN_VI = "Huấn luyện lại mô hình với dữ liệu mới (dropout train); trong lúc chờ, kiểm tra danh sách bằng tay."


def _alert(kind: str, en: str, vi: str, **numbers) -> dict:
    return {"kind": kind, "message_en": en, "message_vi": vi, "action_en": RETRAIN_EN, "action_vi": RETRAIN_VI,
            **numbers}


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def thresholds(natural_psi: float | None, natural_distance: float | None, cfg: MonitorConfig) -> tuple[float, float]:
    """PSI and distance thresholds of one column: the config's, or `natural_factor` times
    the drift a single month of the reference showed by itself, whichever is larger."""
    k = cfg.drift.natural_factor
    return (max(cfg.drift.psi, k * (natural_psi or 0.0)), max(cfg.drift.distance, k * (natural_distance or 0.0)))


def is_drifted(d: dict, cfg: MonitorConfig) -> bool:
    """Whether one column's drift (`drift.column_drift` + its natural drift) crosses a threshold."""
    psi_max, dist_max = thresholds(d.get("natural_psi"), d.get("natural_distance"), cfg)
    return bool((_ok(d.get("psi")) and d["psi"] > psi_max) or (_ok(d.get("distance")) and d["distance"] > dist_max))


def drifted_features(drift: dict, cfg: MonitorConfig, families: dict[str, str] | None = None) -> list[str]:
    """Features beyond their PSI or distance threshold that may alert (not watch-only), worst first."""
    families = families or {}
    watch = set(cfg.drift.watch_only_features)
    out = [name for name, d in drift.get("features", {}).items()
           if name not in watch and families.get(name) not in cfg.drift.watch_only_families
           and (d.get("importance") is None or d["importance"] >= cfg.drift.min_importance) and is_drifted(d, cfg)]
    return sorted(out, key=lambda n: -drift["features"][n]["psi"])


def run_alerts(*, drift: dict | None, estimated: dict, realised: dict | None, reference: dict | None,
               cfg: MonitorConfig, families: dict[str, str] | None = None) -> list[dict]:
    """The alerts of one run (empty: all is well)."""
    alerts: list[dict] = []
    if drift:
        names = drifted_features(drift, cfg, families)
        if len(names) >= cfg.drift.min_features:
            shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
            alerts.append(_alert(
                "feature_drift",
                f"{len(names)} feature(s) moved away from the training data: {shown}.",
                f"{len(names)} đặc trưng đã khác xa dữ liệu huấn luyện: {shown}.",
                features=names, worst_psi=drift["features"][names[0]]["psi"]))
        pred = drift.get("prediction") or {}
        pred_max = max(cfg.prediction.psi, cfg.drift.natural_factor * (pred.get("natural_psi") or 0.0))
        if _ok(pred.get("psi")) and pred["psi"] > pred_max:
            alerts.append(_alert(
                "prediction_drift",
                f"The predicted risks moved away from the training reference (PSI {pred['psi']:.2f} > {pred_max:.2f}).",
                f"Phân bố rủi ro dự báo đã thay đổi so với lúc huấn luyện (PSI {pred['psi']:.2f} > {pred_max:.2f}).",
                psi=pred["psi"]))
    perf = (reference or {}).get("performance") or {}
    ref_auc, ref_rate = perf.get("auc"), (reference or {}).get("expected_lapse_rate") or perf.get("expected_lapse_rate")
    est_auc = estimated.get("auc", {}).get("value")
    if _ok(ref_auc) and _ok(est_auc) and est_auc < ref_auc - cfg.estimate.auc_drop:
        alerts.append(_alert(
            "estimated_auc",
            f"Estimated AUC {est_auc:.3f} is below the reference {ref_auc:.3f} by more than {cfg.estimate.auc_drop}.",
            f"AUC ước tính {est_auc:.3f} thấp hơn mức tham chiếu {ref_auc:.3f} quá {cfg.estimate.auc_drop}.",
            estimated=est_auc, reference=ref_auc))
    est_rate = estimated.get("lapse_rate", {}).get("value")
    if _ok(ref_rate) and ref_rate > 0 and _ok(est_rate) and abs(est_rate / ref_rate - 1) > cfg.estimate.lapse_rate_change:
        alerts.append(_alert(
            "estimated_lapse_rate",
            f"Expected lapse rate {est_rate:.1%} differs from the reference {ref_rate:.1%} by more than "
            f"{cfg.estimate.lapse_rate_change:.0%}.",
            f"Tỷ lệ dự kiến ngừng đóng {est_rate:.1%} khác mức tham chiếu {ref_rate:.1%} quá {cfg.estimate.lapse_rate_change:.0%}.",
            estimated=est_rate, reference=ref_rate))
    if realised and _ok(realised.get("auc")) and _ok(ref_auc) and realised["auc"] < ref_auc - cfg.realised.auc_drop:
        alerts.append(_alert(
            "realised_auc",
            f"Realised AUC {realised['auc']:.3f} is below the reference {ref_auc:.3f} by more than {cfg.realised.auc_drop}.",
            f"AUC thực tế {realised['auc']:.3f} thấp hơn mức tham chiếu {ref_auc:.3f} quá {cfg.realised.auc_drop}.",
            realised=realised["auc"], reference=ref_auc))
    lapses = estimated.get("lapses", {})
    if realised and realised.get("complete") and _ok(lapses.get("low")):
        half = (lapses["high"] - lapses["low"]) / 2 * cfg.realised.interval_widen
        if abs(realised["lapses"] - lapses["value"]) > half:
            alerts.append(_alert(
                "realised_lapses",
                f"{realised['lapses']:.0f} lapses happened where {lapses['value']:.0f} were expected "
                f"(interval {lapses['low']:.0f}-{lapses['high']:.0f}).",
                f"Có {realised['lapses']:.0f} người ngừng đóng trong khi dự kiến {lapses['value']:.0f} "
                f"(khoảng {lapses['low']:.0f}-{lapses['high']:.0f}).",
                realised=realised["lapses"], estimated=lapses["value"]))
    return alerts
