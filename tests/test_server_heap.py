"""The serving process's heap: what start-up made is frozen out of the garbage collector's
full collections once the process serves (``server/service.py`` ``StartupHeapFreeze``)."""

from __future__ import annotations

import gc
import weakref
from typing import Any, Callable

from twisted.trial import unittest

from kmiphsm.server.service import StartupHeapFreeze


class _Running:
    """A reactor that is already running: ``callWhenRunning`` calls at once."""

    def callWhenRunning(self, f: Callable[..., Any], *args: Any) -> None:
        f(*args)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


class StartupHeapFreezeTests(unittest.TestCase):
    def tearDown(self) -> None:
        gc.unfreeze()

    def test_start_up_objects_are_frozen_garbage_first_collected_and_stop_unfreezes(self) -> None:
        kept = [_Cycle() for _ in range(1000)]
        dropped = _Cycle()
        gone = weakref.ref(dropped)
        del dropped  # a cycle: only the collector frees it
        gc.disable()  # no collection of its own before the service's
        try:
            freeze = StartupHeapFreeze(_Running())
            freeze.startService()
        finally:
            gc.enable()
        self.assertIsNone(gone(), "start-up garbage must be collected, not frozen for good")
        self.assertGreaterEqual(gc.get_freeze_count(), len(kept))
        self.assertTrue(gc.is_tracked(kept[0]))
        freeze.stopService()
        self.assertEqual(gc.get_freeze_count(), 0)

    def test_a_service_stopped_before_the_reactor_runs_freezes_nothing(self) -> None:
        calls: list[Callable[[], None]] = []

        class Later:
            def callWhenRunning(self, f: Callable[[], None]) -> None:
                calls.append(f)

        freeze = StartupHeapFreeze(Later())
        freeze.startService()
        freeze.stopService()
        calls[0]()
        self.assertEqual(gc.get_freeze_count(), 0)
