"""The server's own per-request cost: collector tuning and the tracing switch (issue 6)."""

from __future__ import annotations

import gc

import pytest

from dropout.errors import ConfigError
from dropout.service.settings import ServiceSettings
from dropout.service.state import GC_GEN0_THRESHOLD, ServiceState, tune_gc_for_serving


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_gc_freezes_what_is_alive_and_raises_the_young_threshold(restore_gc):
    gc.set_threshold(700, 10, 10)
    kept = [[i] for i in range(1000)]  # stands for the loaded model and reference data
    tune_gc_for_serving()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (GC_GEN0_THRESHOLD, 10, 10)


def test_tune_gc_never_lowers_a_higher_threshold(restore_gc):
    gc.set_threshold(GC_GEN0_THRESHOLD * 2, 10, 10)
    tune_gc_for_serving()
    assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD * 2


def test_cyclic_garbage_is_still_collected_after_tuning(restore_gc):
    import weakref

    tune_gc_for_serving()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is None


def test_only_a_serving_state_tunes_the_collector():
    assert ServiceState(ServiceSettings()).tune_gc is False
    assert ServiceState(ServiceSettings(), tune_gc=True).tune_gc is True


@pytest.mark.parametrize(("raw", "on"), [(None, False), ("0", False), ("off", False), ("1", True), ("yes", True)])
def test_tracing_is_off_unless_asked_for(raw, on):
    env = {} if raw is None else {"DROPOUT_TRACING": raw}
    assert ServiceSettings.from_env(env).tracing is on


def test_a_bad_tracing_value_is_refused_by_name():
    with pytest.raises(ConfigError, match="DROPOUT_TRACING"):
        ServiceSettings.from_env({"DROPOUT_TRACING": "maybe"})
