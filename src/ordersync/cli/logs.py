"""Logging for every process the CLI starts: one handler on stderr, text or JSON lines, scrubbed.

`--log-format text|json` and `--log-level debug|info|warning|error` (settings `[log] format` and
`level`; `--debug` means `--log-level debug` unless a level is given). Text is one line per record
(`time LEVEL logger: message`, control characters shown escaped); JSON is one object per line with
`time` (ISO-8601 UTC), `level`, `logger`, `message`, `process`, and `tenant` and `run_id` when the
record carries them (`extra={"tenant": ..., "run_id": ...}`), `exception` with a traceback. Every
record is scrubbed of known secrets before any formatter sees it, and every line once more as written.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO, get_args

from ordersync.secrets import scrub
from ordersync.text import printable

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
#: what a record may carry (`extra=`) that a JSON line shows under the same key
CONTEXT_KEYS = ("tenant", "run_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ScrubbingFilter(logging.Filter):
    """Rewrites each record without any known secret, in its message, traceback and stack, so every
    handler and formatter downstream sees the scrubbed text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, each line of it (a traceback's too) with control, zero-width and
    bidi characters shown escaped, as everything else the CLI prints."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in scrub(super().format(record)).split("\n"))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (JSON escapes line breaks and control characters)."""

    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                item[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            item["exception"] = record.exc_text
        if record.stack_info:
            item["stack"] = record.stack_info
        return scrub(json.dumps(item, default=str))  # ASCII: every other character is escaped


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record comes (a test's capture, a redirected stream)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(debug: bool = False, *, fmt: str = "text", level: str | None = None) -> None:
    """Log to stderr in `fmt` at `level` (default: debug with `debug`, else warning). Called once per
    command line: a second call replaces the handler of the first, and leaves other handlers (a test
    runner's) with a scrubbing filter of their own."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(getattr(logging, (level or ("debug" if debug else "warning")).upper()))
    for h in root.handlers:
        if not any(isinstance(f, ScrubbingFilter) for f in h.filters):
            h.addFilter(ScrubbingFilter())
