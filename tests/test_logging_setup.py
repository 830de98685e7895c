"""Logs are for operators: no bot token, phone number or date, whatever a library prints."""

from __future__ import annotations

import logging

from debtbot.logging_setup import RedactingFilter, configure_logging, redact


def test_redact_masks_phone_numbers_dates_and_the_bot_token():
    line = "POST /bot123456:ABCdefGhIJKlmnoPQRstuVWxyz0123/sendMessage +357 99 123456 23/11/1980"
    cleaned = redact(line)
    assert "ABCdef" not in cleaned and "99 123456" not in cleaned and "23/11/1980" not in cleaned
    assert "sendMessage" in cleaned


def test_even_debug_logging_keeps_python_telegram_bot_at_info():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG")
        assert logging.getLogger("telegram.ext.Application").getEffectiveLevel() == logging.INFO
        assert any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("telegram").setLevel(logging.NOTSET)
