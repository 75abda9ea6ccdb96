"""Keep personal data out of the service's logs.

BentoML logs every exception an API raises with its traceback (`log_exception`). For a
pydantic ValidationError the message holds the offending input values (a birth year, a
village, an id); other messages may too. `install()` puts a filter on BentoML's loggers
that keeps such records but replaces the exception by its type and the places in the code
it passed through: enough to find a bug, nothing about the person.

The access log (`bentoml.access`) holds client address, method, path (without the query
string), status, and latency: no body and no header, so no key and no personal data.
"""

from __future__ import annotations

import logging
import traceback

#: Loggers through which BentoML reports exceptions raised while serving a request.
BENTOML_LOGGERS = ("bentoml._internal.server.http_app", "bentoml.serve", "bentoml.io", "bentoml.service",
                   "uvicorn.error", "dropout.service")


#: Exceptions that mean "the client sent something wrong": logged as warnings, not errors.
CLIENT_ERRORS = ("ValidationError", "RequestError", "NotFoundError")


class ScrubExceptions(logging.Filter):
    """Replace a record's exception by `Type at file:line in func <- ...` (no message, no values)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            etype, _, tb = record.exc_info
            if etype.__name__ in CLIENT_ERRORS and record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            frames = traceback.extract_tb(tb)[-6:]
            where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in reversed(frames))
            record.msg = f"{record.getMessage()} | {etype.__module__}.{etype.__qualname__} at {where or '?'}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


def install(loggers=BENTOML_LOGGERS) -> None:
    """Put the scrubbing filter on each logger, and control-character escaping on them and
    on the access log, so a path with %0A cannot write a line of its own (idempotent)."""
    from dropout.textsafe import install_log_escaping

    install_log_escaping((*loggers, "bentoml.access", "uvicorn.access"))
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubExceptions) for f in logger.filters):
            logger.addFilter(ScrubExceptions())
