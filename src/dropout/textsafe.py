"""Control characters: refused in what people type, escaped in what we log.

NUL and the other C0/C1 control characters (tab excepted) have no place in a name, a
code or a password: PostgreSQL refuses NUL in text outright, and a line break in a path
would let a client write a fake line into a log. `has_control_characters` is the one
test (the contract, the API and the log-in form use it); `EscapeControls` is a logging
filter that escapes them in every record it sees.
"""

from __future__ import annotations

import logging
import re

#: C0 controls but tab, DEL and C1 controls.
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
#: The same as a JSON Schema / pydantic pattern: text without them.
NO_CONTROL_PATTERN = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$"


def has_control_characters(text: str) -> bool:
    return bool(CONTROL_RE.search(text))


def escape_controls(text: str) -> str:
    """`text` with each control character written as an escape (\\n, \\x00, ...)."""
    return CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class EscapeControls(logging.Filter):
    """Formats a record's message now and escapes its control characters, so no value
    logged (a path, a header) can start a line of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        if CONTROL_RE.search(message):
            record.msg, record.args = escape_controls(message), None
        return True


def install_log_escaping(logger_names) -> None:
    """Put EscapeControls on each named logger and on every handler of the root logger (idempotent)."""
    targets = [logging.getLogger(n) for n in logger_names] + list(logging.getLogger().handlers)
    for target in targets:
        if not any(isinstance(f, EscapeControls) for f in target.filters):
            target.addFilter(EscapeControls())
