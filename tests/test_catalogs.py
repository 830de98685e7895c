"""The gettext catalogs are complete: every message the code can say exists, translated, in
Greek, English and Turkish, with the same placeholders and markup as its English source.

A new string added to the code without running `pybabel extract` / `update` and translating
it fails here, so CI never ships a message that falls back to English in Greek or Turkish.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from debtbot.i18n import LANGUAGES, LOCALES, translator

ROOT = Path(__file__).resolve().parents[1]
LOCALES_DIR = ROOT / "locales"
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
TAG = re.compile(r"</?[a-z]+[^>]*>")


def _catalog(language: str) -> Catalog:
    path = LOCALES_DIR / language / "LC_MESSAGES" / "debtbot.po"
    with path.open("rb") as po_file:
        return read_po(po_file, locale=language)


def _key(message: object) -> tuple[str | None, str]:
    msgid = message.id  # type: ignore[attr-defined]
    return message.context, msgid[0] if isinstance(msgid, tuple) else msgid  # type: ignore[attr-defined]


def _messages(catalog: Catalog) -> list:
    return [message for message in catalog if message.id]


def _extracted() -> dict[tuple[str | None, str], str]:
    """What `pybabel extract -F babel.cfg` finds in the code right now."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[tuple[str | None, str], str] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found[(context, msgid)] = filename
    return found


def _placeholders(text: str) -> list[str]:
    return sorted(match for match in PLACEHOLDER.findall(text) if match != "%%")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    catalog = _catalog(language)
    untranslated = []
    for message in _messages(catalog):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            untranslated.append(_key(message))
    assert untranslated == [], f"{language}: untranslated or fuzzy: {untranslated}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_header_follows_cldr(language: str) -> None:
    """The catalog's Plural-Forms header is CLDR's rule for its language, as Babel has it."""
    header = _catalog(language).plural_forms
    rule = get_plural(LOCALES[language])
    assert header == f"nplurals={rule.num_plurals}; plural={rule.plural_expr};", (
        f"{language}: the header says {header!r}; CLDR (Babel) says "
        f"nplurals={rule.num_plurals}; plural={rule.plural_expr}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_messages_have_every_plural_form(language: str) -> None:
    """Every plural message has as many forms as the catalog's own header says, all filled."""
    catalog = _catalog(language)
    plurals = [message for message in _messages(catalog) if message.pluralizable]
    assert plurals, "no plural messages found: the check below would prove nothing"
    for message in plurals:
        assert len(message.string) == catalog.num_plurals, _key(message)
        assert all(message.string), _key(message)


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_and_markup_match_the_english_source(language: str) -> None:
    problems = []
    for message in _messages(_catalog(language)):
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = _placeholders(sources[-1])
        wanted_tags = sorted(TAG.findall(sources[-1]))
        for string in strings:
            if not string:
                continue
            # Languages with one plural form (Turkish) may drop %(n)d only if the source's
            # singular has it too; placeholders otherwise must be the same set.
            if _placeholders(string) != wanted:
                problems.append((_key(message), "placeholders", _placeholders(string), wanted))
            if sorted(TAG.findall(string)) != wanted_tags:
                problems.append((_key(message), "markup", string))
    assert problems == []


def test_english_catalog_is_the_source_text() -> None:
    for message in _messages(_catalog("en")):
        assert message.string == message.id, _key(message)


def test_extraction_finds_no_message_missing_from_the_catalogs() -> None:
    """A string added to the code must be extracted, merged and translated before it ships."""
    extracted = _extracted()
    assert extracted, "babel.cfg extracted nothing"
    template_path = LOCALES_DIR / "debtbot.pot"
    with template_path.open("rb") as pot:
        template = {_key(message) for message in read_po(pot) if message.id}
    missing_from_template = sorted(set(extracted) - template, key=str)
    assert missing_from_template == [], "run pybabel extract (see README, Translations)"
    for language in LANGUAGES:
        catalog = {_key(message) for message in _messages(_catalog(language))}
        missing = sorted(set(extracted) - catalog, key=str)
        assert missing == [], f"{language}: run pybabel update and translate: {missing}"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("el", "Εξώδικο πρόστιμο"), ("en", "Out-of-court fine"), ("tr", "Mahkeme dışı para cezası")],
)
def test_translator_reads_the_catalogs(language: str, expected: str) -> None:
    t = translator(language)
    assert t.pgettext("debt kind", "Out-of-court fine") == expected


def test_plural_forms_follow_each_language() -> None:
    singular, plural = "You have <b>%(n)d</b> outstanding debt.", "You have <b>%(n)d</b> outstanding debts."
    assert translator("el").ngettext(singular, plural, 1) % {"n": 1} == "Έχετε <b>1</b> εκκρεμή οφειλή."
    assert translator("el").ngettext(singular, plural, 3) % {"n": 3} == "Έχετε <b>3</b> εκκρεμείς οφειλές."
    assert translator("en").ngettext(singular, plural, 1) % {"n": 1} == "You have <b>1</b> outstanding debt."
    assert translator("tr").ngettext(singular, plural, 3) % {"n": 3} == "Ödenmemiş <b>3</b> borcunuz var."
