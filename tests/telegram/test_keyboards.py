"""The bot's inline keyboards go out as the JSON python-telegram-bot would write."""

from __future__ import annotations

from telegram import (
    CallbackGame,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LoginUrl,
    WebAppInfo,
)

from debtbot.telegram.keyboards import Keyboard, inline


def test_a_keyboard_writes_the_same_json_as_python_telegram_bot() -> None:
    rows = [
        [InlineKeyboardButton("Πληρωμή €1.234,50 · B1", url="https://pay.example/B1"),
         InlineKeyboardButton("Details · B1", callback_data="debt:show:17")],
        [InlineKeyboardButton("Sign in", login_url=LoginUrl("https://example.org/a",
                                                            request_write_access=True))],
        [InlineKeyboardButton("App", web_app=WebAppInfo("https://example.org/app")),
         InlineKeyboardButton("Copy", copy_text=CopyTextButton("B1"))],
        [InlineKeyboardButton("Game", callback_game=CallbackGame()),
         InlineKeyboardButton("Pay", pay=True)],
        [InlineKeyboardButton("Search", switch_inline_query_current_chat="")],
    ]
    assert Keyboard(rows).to_dict() == InlineKeyboardMarkup(rows).to_dict()
    extra = InlineKeyboardButton("x", callback_data="x", api_kwargs={"style": "danger"})
    assert Keyboard([[extra]]).to_dict() == InlineKeyboardMarkup([[extra]]).to_dict()


def test_empty_rows_are_left_out_and_no_rows_is_no_keyboard() -> None:
    button = InlineKeyboardButton("Next ▶", callback_data="debts:page:2")
    keyboard = inline([[], [button]])
    assert keyboard is not None
    assert keyboard.to_dict() == {"inline_keyboard": [[{"text": "Next ▶",
                                                        "callback_data": "debts:page:2"}]]}
    assert inline([[]]) is None
