"""The model registry (MLflow): log training runs, gate and promote versions, resolve a model.

    tracking.py   where the registry lives (tracking URI, client)
    gate.py       does a new version beat the champion on the same backtest?
    log.py        log a training run and register its model
    versions.py   list, promote, load registered versions
    resolve.py    a folder, `champion` or `NAME@alias` -> a loaded model (ModelRef)

MLflow is imported only inside the functions that need it (it takes seconds).
"""
