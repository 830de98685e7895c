"""Logging for operators: internal ids only.

Code logs chat ids and row ids, never identity numbers, dates of birth or phone numbers. As a
second line of defence a filter masks anything in a log line that looks like a phone number
or a calendar date, and the HTTP client's request log (which would print the bot token in
every URL) is turned down.
"""

from __future__ import annotations

import logging
import re

from debtbot.store.health import OutageLogFilter

_PHONE = re.compile(r"\+\d[\d ]{7,16}\d")
_DATE = re.compile(r"\b(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2})\b")
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    text = _TOKEN.sub("bot<token>", text)
    text = _PHONE.sub("<phone>", text)
    return _DATE.sub("<date>", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.addFilter(OutageLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # python-telegram-bot logs whole updates (what citizens typed) at DEBUG: never below INFO.
    for library in ("telegram", "aiosqlite", "asyncpg"):
        logging.getLogger(library).setLevel(max(logging.INFO, root.level))
