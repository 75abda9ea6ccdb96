"""Monitoring after deployment: were last month's scores right, and are this month's safe?

    outcomes.py   outcomes of scored installments, read from a later export (point in time)
    estimate.py   performance before outcomes arrive, from calibrated risks (CBPE), with intervals
    drift.py      PSI and a normalised Wasserstein distance, per feature and for the predictions
    reference.py  the training reference saved with the model (reference.json)
    alerts.py     thresholds of models/monitor.yaml turned into alerts with a suggested action
    run.py        monitor_store: every run of a store against a newer export
    report.py     the HTML monitoring report (performance over runs, calibration, drift heat map)

Outcomes and results live in the store (`dropout.store.monitoring`).
"""
