"""Buttons, and the callback data they carry.

Callback data carry what the step needs (`debts:page:2`, `lang:el`, `debt:show:17`) so most
presses need no stored state; every press is parsed and validated here before a handler
acts on it. A press that does not parse, or that the chat no longer allows (an old button
after /forget), gets a short "that button is no longer valid" and changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LoginUrl,
    ReplyKeyboardMarkup,
    TelegramObject,
)

from debtbot.i18n import LANGUAGE_NAMES, LANGUAGES, Translator

# Telegram allows 1-64 bytes of callback data; every pattern below stays well inside.
DEBTS_PAGE = re.compile(r"^debts:page:(?P<page>[1-9]\d{0,3})$")
DEBT_SHOW = re.compile(r"^debt:show:(?P<debt_id>[1-9]\d{0,11})$")
DEBT_CALENDAR = re.compile(r"^debt:ics:(?P<debt_id>[1-9]\d{0,11})$")
LANGUAGE = re.compile(r"^lang:(?P<language>el|en|tr)$")
PRIVACY = re.compile(r"^privacy:(?P<state>on|off)$")
FORGET = re.compile(r"^forget:(?P<answer>yes|no):(?P<asked_at>\d{1,12})$")
VERIFY_START = re.compile(r"^verify:start$")
STALE = re.compile(r"^stale$")
VERIFY_CANCEL = re.compile(r"^verify:cancel$")
VERIFY_HOLDER = re.compile(r"^verify:holder:(?P<holder>person|company)$")
VERIFY_ID_TYPE = re.compile(r"^verify:id:(?P<id_type>id_card|arc|passport)$")


def debts_page_data(page: int) -> str:
    return f"debts:page:{page}"


def debt_show_data(debt_id: int) -> str:
    return f"debt:show:{debt_id}"


def debt_calendar_data(debt_id: int) -> str:
    return f"debt:ics:{debt_id}"


class Keyboard(InlineKeyboardMarkup):
    """An inline keyboard that writes its JSON in one pass.

    python-telegram-bot's generic to_dict walks every attribute of every button through its
    TelegramObject machinery: for a /debts page (eleven buttons) that cost as much CPU as
    rendering the page's text. The JSON is the same (tests/telegram/test_keyboards.py)."""

    __slots__ = ()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        if self.api_kwargs:
            return super().to_dict(recursive)
        return {"inline_keyboard": [[_button_json(b) for b in row] for row in self.inline_keyboard]}


_BUTTON_FIELDS = tuple(sorted(InlineKeyboardButton.__slots__))


def _button_json(button: InlineKeyboardButton) -> dict[str, Any]:
    if button.api_kwargs:
        return button.to_dict()
    json: dict[str, Any] = {}
    for name in _BUTTON_FIELDS:
        value = getattr(button, name)
        if value is not None:
            json[name] = value.to_dict() if isinstance(value, TelegramObject) else value
    return json


def inline(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [row for row in rows if row]
    return Keyboard(rows) if rows else None


def show_debts_button(t: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        t.pgettext("button", "Show what I owe"), callback_data=debts_page_data(1)
    )


def holder_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t.pgettext("button", "Myself"), callback_data="verify:holder:person")],
            [
                InlineKeyboardButton(
                    t.pgettext("button", "A company I represent"),
                    callback_data="verify:holder:company",
                )
            ],
            [cancel_button(t)],
        ]
    )


def id_type_keyboard(t: Translator, *, only: tuple[str, ...] = ()) -> InlineKeyboardMarkup:
    labels = {
        "id_card": t.pgettext("button", "Cypriot identity card"),
        "arc": t.pgettext("button", "Alien Registration Certificate (ARC)"),
        "passport": t.pgettext("button", "Passport"),
    }
    rows = [
        [InlineKeyboardButton(label, callback_data=f"verify:id:{code}")]
        for code, label in labels.items()
        if not only or code in only
    ]
    return InlineKeyboardMarkup([*rows, [cancel_button(t)]])


def signin_button(t: Translator, url: str) -> InlineKeyboardButton:
    """Opens the bot's own sign-in page, which sends the browser on to CY Login.

    A login_url button: Telegram appends the pressing user's id, signed with the bot's token,
    so the page can tell that the one who pressed it is the one who asked (a forwarded button
    must not sign someone else into this chat). Its domain must be linked to the bot
    (BotFather's /setdomain)."""
    return InlineKeyboardButton(
        t.pgettext("button", "Sign in with CY Login"),
        login_url=LoginUrl(url=url, request_write_access=False),
    )


def cancel_button(t: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(t.pgettext("button", "Cancel"), callback_data="verify:cancel")


def contact_keyboard(t: Translator) -> ReplyKeyboardMarkup:
    """Telegram's own button that sends this account's phone number, and nothing else."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(t.pgettext("button", "Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=t.pgettext("placeholder", "Press the button below"),
    )


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    # Each language is named in itself, so anyone can find their own.
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if code == current else "") + LANGUAGE_NAMES[code],
                    callback_data=f"lang:{code}",
                )
                for code in LANGUAGES
            ]
        ]
    )


def privacy_keyboard(t: Translator, *, discreet: bool) -> InlineKeyboardMarkup:
    if discreet:
        button = InlineKeyboardButton(
            t.pgettext("button", "Turn discreet mode off"), callback_data="privacy:off"
        )
    else:
        button = InlineKeyboardButton(
            t.pgettext("button", "Turn discreet mode on"), callback_data="privacy:on"
        )
    return InlineKeyboardMarkup([[button]])


def forget_keyboard(t: Translator, *, asked_at: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.pgettext("button", "Yes, forget me"), callback_data=f"forget:yes:{asked_at}"
                ),
                InlineKeyboardButton(
                    t.pgettext("button", "No, keep everything"),
                    callback_data=f"forget:no:{asked_at}",
                ),
            ]
        ]
    )


def reveal_keyboard(t: Translator, callback_data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.pgettext("button", "Show details"), callback_data=callback_data)]]
    )


def stale_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """What the buttons of a message about debts become after /forget."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.pgettext("button", "No longer valid"), callback_data="stale")]]
    )
