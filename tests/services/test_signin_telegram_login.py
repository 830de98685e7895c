"""The check of the data Telegram appends when a login_url button is pressed (the Login
Widget's "Checking authorization"): signature, freshness, the fields present."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from debtbot.services.signin import TelegramLoginRefused, telegram_login_user
from debtbot.settings import Settings

# A published example of Login Widget data and its hash for a made-up token (the telegram-login
# crate's check.py): an independent check of the algorithm, not just of our own fake.
TOKEN = "777777777:" + "a" * 35
EXAMPLE = {
    "id": "666666666",
    "first_name": "Some",
    "last_name": "Guy",
    "username": "my_username",
    "photo_url": "https://t.me/i/userpic/320/my_username.jpg",
    "auth_date": "1543194375",
    "hash": "a9cf12636fb07b54b4c95673d017a72364472c41a760b6850bcd5405da769f80",
}
SIGNED_AT = datetime.fromtimestamp(1543194375, UTC)


def check(fields: dict[str, str], *, token: str = TOKEN, at: timedelta = timedelta(0)) -> int:
    return telegram_login_user(fields, bot_token=token, now=SIGNED_AT + at)


def test_data_telegram_signed_names_its_user():
    assert check(EXAMPLE, at=timedelta(minutes=1)) == (666666666, 1543194375)
    assert check({**EXAMPLE, "hash": EXAMPLE["hash"].upper()})[0] == 666666666


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "666666667"}, "telegram_hash"),
        ({"username": "someone_else"}, "telegram_hash"),
        ({"hash": "a9cf" + "0" * 60}, "telegram_hash"),
        ({"hash": "é" * 64}, "telegram_hash"),
        ({"extra": "1"}, "telegram_hash"),
        ({"hash": ""}, "telegram_missing"),
    ],
)
def test_anything_changed_is_refused(change, reason):
    with pytest.raises(TelegramLoginRefused) as refused:
        check({**EXAMPLE, **change})
    assert refused.value.reason == reason


@pytest.mark.parametrize("key", ["id", "auth_date", "hash"])
def test_a_missing_field_is_refused(key):
    fields = {name: value for name, value in EXAMPLE.items() if name != key}
    with pytest.raises(TelegramLoginRefused) as refused:
        check(fields)
    assert refused.value.reason in ("telegram_missing", "telegram_hash")


def test_another_bots_token_or_none_is_refused():
    with pytest.raises(TelegramLoginRefused, match="telegram_hash"):
        check(EXAMPLE, token="777777777:" + "b" * 35)
    with pytest.raises(TelegramLoginRefused, match="no_bot_token"):
        check(EXAMPLE, token="")


@pytest.mark.parametrize(
    ("at", "accepted"),
    [
        (timedelta(minutes=4, seconds=59), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(hours=3), False),
        (timedelta(seconds=-30), True),  # our clock a little behind Telegram's
        (timedelta(minutes=-5), False),  # an auth_date from the future
    ],
)
def test_only_fresh_data_is_accepted(at, accepted):
    if accepted:
        assert check(EXAMPLE, at=at)[0] == 666666666
    else:
        with pytest.raises(TelegramLoginRefused, match="telegram_stale"):
            check(EXAMPLE, at=at)


def test_start_reminds_to_link_the_domain_with_botfather_when_sign_in_is_on(caplog):
    caplog.set_level(logging.WARNING, logger="debtbot.settings")
    on = Settings(hash_key="k" * 40, public_url="https://bot.example.cy/",
                  oidc_issuer="https://login.example", oidc_client_id="c",
                  oidc_client_secret="s")
    on.refuse_if_unsafe()
    [line] = [r.getMessage() for r in caplog.records if "/setdomain" in r.getMessage()]
    assert "bot.example.cy" in line and "\n" not in line
    caplog.clear()
    Settings(hash_key="k" * 40).refuse_if_unsafe()
    assert not any("/setdomain" in r.getMessage() for r in caplog.records)
