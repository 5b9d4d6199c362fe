"""A progress bar on a terminal (standard error), nothing when it is not one."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
#: seconds between two redraws
INTERVAL = 0.2


class ProgressBar:
    """``bar(done, total)`` redraws ``label [#####.....] done/total`` on ``stream`` when it is
    a terminal; :meth:`close` ends the line."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._drawn = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._drawn < INTERVAL):
            return
        self._drawn = now
        filled = WIDTH * done // total if total else WIDTH
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                          f"{done}/{total}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
