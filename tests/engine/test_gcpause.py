"""The cyclic collector is off inside (nested) pauses and back on after the last one."""

from __future__ import annotations

import gc
import threading

import pytest

from costreport.engine.gcpause import paused_gc, pausing_depth


def test_nested_pauses_restore_the_collector_once() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert pausing_depth() == 2
        assert not gc.isenabled()
    assert gc.isenabled() and pausing_depth() == 0


def test_a_failing_body_still_restores_the_collector() -> None:
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("boom")
    assert gc.isenabled()


def test_overlapping_pauses_in_threads() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with paused_gc():
        pass
    assert not gc.isenabled()  # the other thread's pause is still open
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
