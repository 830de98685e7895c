"""Translations and locale-aware formatting.

Catalogs live in the top-level `locales/{el,en,tr}/LC_MESSAGES/debtbot.po` (Babel: extract,
update, compile). They are compiled in memory when first used, so a checkout runs without a
build step. The language is always passed explicitly: one reminder sweep renders for many
citizens, and a context-variable locale would leak between them (STYLE.md).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

DOMAIN = "debtbot"
LANGUAGES = ("el", "en", "tr")
DEFAULT_LANGUAGE = "en"
LOCALES = {"el": "el_CY", "en": "en_CY", "tr": "tr_CY"}
LANGUAGE_NAMES = {"el": "Ελληνικά", "en": "English", "tr": "Türkçe"}
NICOSIA = ZoneInfo("Europe/Nicosia")


def locales_dir() -> Path:
    override = os.environ.get("DEBTBOT_LOCALES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "locales"


def language_from_telegram(language_code: str | None) -> str:
    """Telegram's `language_code` at first contact: el → Greek, tr → Turkish, else English."""
    code = (language_code or "").lower().split("-")[0]
    return code if code in ("el", "tr") else DEFAULT_LANGUAGE


def normalise_language(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


@cache
def _translations(language: str) -> NullTranslations:
    po_path = locales_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=LOCALES[language], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@dataclass(frozen=True, slots=True)
class Translator:
    """Everything needed to speak one language: messages, money, dates."""

    language: str
    timezone: ZoneInfo = NICOSIA

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    def gettext(self, message: str) -> str:
        return _translations(self.language).ugettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _translations(self.language).ungettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return _translations(self.language).upgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return _translations(self.language).unpgettext(context, singular, plural, n)

    def money(self, amount: Decimal) -> str:
        return _money(amount, self.locale)

    def date(self, day: date, *, format: str = "long") -> str:  # noqa: A002 - Babel's name
        return _date(day, format, self.locale)

    def datetime(self, moment: datetime, *, format: str = "d MMMM y, HH:mm") -> str:  # noqa: A002
        return _format_datetime(moment, format=format, tzinfo=self.timezone, locale=self.locale)


# Babel builds each amount and date from its locale data (tens of microseconds); a report
# shows the same ones every time its citizen opens it or turns a page.
@lru_cache(maxsize=8192)
def _money(amount: Decimal, locale: str) -> str:
    return format_currency(amount, "EUR", locale=locale)


@lru_cache(maxsize=4096)
def _date(day: date, format: str, locale: str) -> str:  # noqa: A002 - Babel's name
    return _format_date(day, format=format, locale=locale)


def translator(language: str | None, *, timezone: ZoneInfo = NICOSIA) -> Translator:
    return Translator(normalise_language(language), timezone)
