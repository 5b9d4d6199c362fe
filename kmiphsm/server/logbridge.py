"""Send the stdlib ``logging`` records of ``kmiphsm`` (engine, hsm, store) to twisted.logger.

The engine and the token layer are Twisted-free and log with :mod:`logging`; under twistd
nothing listens to that, so their INFO lines were lost and warnings went to stderr bare.
:func:`install` adds one handler on the ``kmiphsm`` logger that re-emits each record as a
twisted.logger event at the same level, with the module as namespace and any traceback.
"""

from __future__ import annotations

import logging

from twisted.logger import Logger, LogLevel

_LEVELS = (
    (logging.CRITICAL, LogLevel.critical),
    (logging.ERROR, LogLevel.error),
    (logging.WARNING, LogLevel.warn),
    (logging.INFO, LogLevel.info),
)


class TwistedLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = next((twisted for std, twisted in _LEVELS if record.levelno >= std),
                         LogLevel.debug)
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self.formatter_or_default().formatException(record.exc_info)
            Logger(namespace=record.name).emit(level, "{text}", text=message)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)

    def formatter_or_default(self) -> logging.Formatter:
        return self.formatter or logging.Formatter()


def install(level: int = logging.INFO) -> None:
    """Bridge the ``kmiphsm`` logger (idempotent)."""
    logger = logging.getLogger("kmiphsm")
    if not any(isinstance(h, TwistedLogHandler) for h in logger.handlers):
        logger.addHandler(TwistedLogHandler())
    logger.setLevel(level)
    logger.propagate = False
