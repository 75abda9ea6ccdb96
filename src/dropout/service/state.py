"""What one server process holds: settings, keys, the loaded engine, and its readiness.

`ServiceState.start()` reads the API keys at once (a service without keys refuses to
start) and loads the engine in a background thread, so the health endpoints answer
while the model loads: `/livez` 200, `/readyz` 503 until the engine is there, 200 after.
If loading fails, the process reports itself dead (`/livez` 503) for a supervisor to
restart it, and logs why (never a key, never a record).

Once the engine is loaded, a server process (`tune_gc=True`) tunes the collector
(`tune_gc_for_serving`): the model,
catalog and reference data live as long as the process, and a request allocates many
short-lived containers (pandas frames and indexes), so with the default thresholds the
collector ran about twice per request and kept re-walking the loaded data.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from dropout.service.settings import ServiceSettings

log = logging.getLogger("dropout.service")

#: Young-generation threshold while serving (Python's default is 700 allocations).
GC_GEN0_THRESHOLD = 20_000


def tune_gc_for_serving(gen0: int = GC_GEN0_THRESHOLD) -> None:
    """Move everything alive now out of the collector's reach (`gc.freeze`) and collect the
    young generation less often. Cyclic garbage is still collected, just in fewer passes."""
    gc.collect()
    gc.freeze()
    now, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, now), gen1, gen2)


class ServiceState:
    def __init__(self, settings: ServiceSettings, openapi=None, tune_gc: bool = False):
        self.settings = settings
        self.tune_gc = tune_gc
        self.keys = None
        self.engine = None
        self.failed: str | None = None
        self._openapi_factory = openapi
        self._openapi: dict | None = None
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.engine is not None

    @property
    def alive(self) -> bool:
        return self.failed is None

    def start(self) -> None:
        """Load the keys now (raise if there are none), the engine in the background."""
        from dropout.service.auth import load_keys

        self.keys = load_keys()
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="dropout-model-loader", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        from dropout.service.core import RiskEngine

        try:
            if self.settings.load_delay_seconds:
                time.sleep(self.settings.load_delay_seconds)
            engine = RiskEngine.load(self.settings)
            if self.tune_gc:
                tune_gc_for_serving()
            self.engine = engine
        except Exception as err:  # reported through /livez and the log; the process stays up to say so
            self.failed = f"{type(err).__name__}"
            log.error("loading the model failed: %s: %s", type(err).__name__, err)

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.ready

    def openapi(self) -> dict:
        if self._openapi is None:
            self._openapi = self._openapi_factory() if self._openapi_factory else {}
        return self._openapi
