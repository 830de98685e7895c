"""Sign in with CY Login, end to end: the chat's login_url button (the local Bot API server
gives the URL Telegram would open, signed for the user who pressed it), a browser following
the redirects, a real OpenID provider on 127.0.0.1 (debtbot.devtools.oidc), the bot's HTTP
server, and the outbox sender telling the chat. Nothing is faked inside the bot."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from citizen_harness import (
    HASH_KEY,
    ID_CARD,
    Clock,
    add_person,
    link_count,
    press,
    running,
    say,
    share_contact,
)
from sqlalchemy import select

from debtbot.devtools.botapi import DEFAULT_TOKEN, FakeBotApi, login_data_hash
from debtbot.devtools.oidc import FakeOidcProvider
from debtbot.http.app import build_http_app, start_http_server
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.models import AuditEntry, ChatLink, Person
from debtbot.telegram.sender import build_sender, sender_bot

CHAT = 5901
CLIENT_ID = "debtbot-test"
CLIENT_SECRET = "provider-secret-for-tests"
SIGN_IN_EN = "Sign in with CY Login"
SIGN_IN_EL = "Σύνδεση με CY Login"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def botapi(clock) -> AsyncIterator[FakeBotApi]:
    """The local Bot API server on the bot's clock: Telegram's auth_date is that time."""
    async with FakeBotApi(token=DEFAULT_TOKEN, clock=lambda: clock.now.timestamp()) as api:
        yield api


@pytest.fixture
async def provider(clock) -> AsyncIterator[FakeOidcProvider]:
    async with FakeOidcProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock
    ) as started:
        started.user = {"sub": "cy-1", "unique_identifier": ID_CARD, "name": "Andreas Georgiou"}
        yield started


@dataclass
class Bot:
    deps: Deps
    botapi: FakeBotApi
    public_url: str


@pytest.fixture
async def bot(botapi, sessions, database_url, clock, provider) -> AsyncIterator[Bot]:
    """The application, its HTTP server (with the sign-in pages) and the outbox sender."""
    port = free_port()
    settings = Settings(
        hash_key=HASH_KEY, database_url=database_url, telegram_token=botapi.token,
        telegram_api_url=botapi.url, http_port=port,
        oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    assert settings.public_url == f"http://127.0.0.1:{port}"  # the default: host and port
    deps = Deps(settings=settings, sessions=sessions, clock=clock)
    runner = await start_http_server(build_http_app(deps), host="127.0.0.1", port=port)
    outbox_bot = sender_bot(settings)
    stop = asyncio.Event()
    async with outbox_bot:
        sender = asyncio.create_task(build_sender(deps, outbox_bot).run(stop))
        try:
            async with running(deps, botapi):
                yield Bot(deps, botapi, settings.public_url)
        finally:
            stop.set()
            await asyncio.wait_for(sender, 10)
            await runner.cleanup()


@dataclass
class Visit:
    status: int
    text: str
    trail: list[str]  # every URL the browser was sent to, in order


def new_browser() -> aiohttp.CookieJar:
    """A browser's cookies (kept for 127.0.0.1 too), to carry from one `browse` to the next."""
    return aiohttp.CookieJar(unsafe=True)


async def browse(
    url: str, *, stop_at: str | None = None, jar: aiohttp.CookieJar | None = None
) -> Visit:
    """A browser: follows redirects, one by one (so a test can stop before one). Each call is
    a fresh browser unless `jar` carries one's cookies over."""
    trail = [url]
    async with aiohttp.ClientSession(cookie_jar=jar if jar is not None else new_browser()) as browser:
        for _ in range(10):
            if stop_at and trail[-1].startswith(stop_at):
                return Visit(0, "", trail)
            async with browser.get(trail[-1], allow_redirects=False,
                                   headers={"Accept-Language": "en"}) as response:
                if response.status in (301, 302, 303, 307):
                    trail.append(response.headers["Location"])
                    continue
                return Visit(response.status, await response.text(), trail)
    raise AssertionError("too many redirects")


async def signin_button(botapi: FakeBotApi, chat_id: int = CHAT, *, language: str = "en",
                        label: str = SIGN_IN_EN, as_user: int | None = None) -> str:
    """/start, then the user presses "Sign in with CY Login": the URL Telegram opens."""
    [welcome] = await say(botapi, chat_id, "/start", language_code=language)
    assert welcome.button_texts[0] == label  # offered first
    button = welcome.button(label)
    assert "url" not in button and button["login_url"]["request_write_access"] is False
    return await botapi.user_opens_login_url(chat_id, welcome.message_id, label, as_user=as_user)


async def told(botapi: FakeBotApi, chat_id: int = CHAT, *, within: float = 5.0) -> str:
    """The message the chat got on its own (not in answer to the user), within `within` seconds."""
    # The bot's messages since the user last did something: the answer to that, then this.
    messages = await botapi.wait_for_messages(chat_id, 2, timeout=within)
    return messages[-1].text


async def links(sessions, chat_id: int = CHAT) -> list[tuple[int | None, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(ChatLink.person_id, ChatLink.verified_by).where(ChatLink.chat_id == chat_id)
        )
        return [tuple(row) for row in rows.all()]


async def audit_results(sessions) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "verify.oidc")
            .order_by(AuditEntry.id)
        )
        return [details["result"] + ":" + details.get("reason", "") for details in rows]


# --- it works ----------------------------------------------------------------------------


async def test_signing_in_links_the_chat_and_both_the_chat_and_the_browser_say_so(
    bot, sessions, provider
):
    person_id = await add_person(sessions)
    url = await signin_button(bot.botapi, language="el", label=SIGN_IN_EL)
    assert url.startswith(f"{bot.public_url}/signin/cylogin?h=")  # the bot's own page first
    assert parse_qs(urlsplit(url).query)["id"] == [str(CHAT)]  # Telegram's word on who pressed

    page = await browse(url)
    done = time.monotonic()
    text = await told(bot.botapi)

    assert time.monotonic() - done < 1.0
    assert page.status == 200
    assert "Μπορείτε να επιστρέψετε στο Telegram." in page.text  # the chat's language
    assert text.startswith("Συνδεθήκατε με το CY Login. Αυτή η συνομιλία συνδέθηκε με: Andreas")
    assert await links(sessions) == [(person_id, "oidc")]
    # The flow: to the provider with PKCE (S256), state and nonce; back to our callback.
    [authorize] = provider.recorded.authorize
    assert authorize["code_challenge_method"] == "S256" and authorize["code_challenge"]
    assert authorize["state"] and authorize["nonce"] and authorize["ui_locales"] == "el"
    assert authorize["redirect_uri"] == f"{bot.public_url}/signin/cylogin/callback"
    [token] = provider.recorded.token
    assert len(token["code_verifier"]) >= 43
    assert page.trail[2].startswith(f"{bot.public_url}/signin/cylogin/callback?code=")
    assert await audit_results(sessions) == ["signed_in:"]


async def test_someone_the_registries_do_not_know_yet_is_signed_in_and_kept_on_file(
    bot, sessions, provider
):
    provider.user = {"sub": "cy-2", "unique_identifier": "7654321", "name": "Eleni Ioannou"}
    page = await browse(await signin_button(bot.botapi))
    assert page.status == 200 and "You can go back to Telegram." in page.text
    assert "linked to Eleni Ioannou" in await told(bot.botapi)
    async with sessions() as session:
        [person] = (await session.scalars(select(Person))).all()
    assert (person.name, person.date_of_birth_hash, person.phone_hash) == ("Eleni Ioannou",
                                                                          None, None)
    assert "7654321" not in person.id_hash


async def test_a_number_locked_by_guessing_can_still_sign_in_with_cy_login(bot, sessions):
    await add_person(sessions)
    botapi = bot.botapi
    await say(botapi, CHAT, "/start")
    for attempt in range(5):
        await press(botapi, CHAT, "Myself")
        await press(botapi, CHAT, "Cypriot identity card")
        await say(botapi, CHAT, ID_CARD)
        await say(botapi, CHAT, f"0{attempt + 1}/01/1970")
        last = await share_contact(botapi, CHAT)
        if attempt < 4:
            await say(botapi, CHAT, "/start")
    # The lock message says CY Login still works, with its button.
    assert "You can still sign in with CY Login now" in last.text
    assert last.button_texts == [SIGN_IN_EN]
    [again] = await say(botapi, CHAT, "/start")
    assert "You can still sign in with CY Login now" in again.text

    page = await browse(await botapi.user_opens_login_url(CHAT, again.message_id, SIGN_IN_EN))

    assert page.status == 200
    assert "This chat is now linked to Andreas Georgiou" in await told(botapi)
    assert [how for _, how in await links(sessions)] == ["oidc"]


async def test_a_key_rotation_at_the_provider_is_followed(bot, sessions, provider):
    await add_person(sessions)
    await add_person(sessions, number="7777777", name="Maria Ioannou")
    assert (await browse(await signin_button(bot.botapi))).status == 200
    await told(bot.botapi)

    provider.rotate_keys()  # the old key is gone from the JWKS; a new key id signs
    provider.user = {"sub": "cy-3", "unique_identifier": "7777777", "name": "M. Ioannou"}
    page = await browse(await signin_button(bot.botapi, 5902))

    assert page.status == 200
    assert "linked to Maria Ioannou" in await told(bot.botapi, 5902)
    assert len(await links(sessions, 5902)) == 1


async def test_a_dialogue_under_way_ends_when_cy_login_links_the_chat(bot, sessions):
    await add_person(sessions)
    url = await signin_button(bot.botapi)
    await press(bot.botapi, CHAT, "Myself")
    await browse(url)
    await told(bot.botapi)
    [reply] = await say(bot.botapi, CHAT, ID_CARD)  # no dialogue any more
    assert reply.text.startswith("I did not understand that.")


# --- it refuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    ["expired", "wrong_key", "unsigned_kid", "hs256", "wrong_audience", "wrong_issuer",
     "wrong_nonce", "missing_claim"],
)
async def test_an_id_token_that_does_not_hold_up_links_nothing(bot, sessions, provider, tamper):
    await add_person(sessions)
    provider.tamper = tamper

    page = await browse(await signin_button(bot.botapi))

    assert page.status == 400
    assert "Signing in with CY Login did not succeed, so nothing was linked." in page.text
    text = await told(bot.botapi)
    assert text.startswith("Signing in with CY Login did not succeed, so nothing was linked.")
    assert "identity number and date of birth" in text
    assert await links(sessions) == []
    [result] = await audit_results(sessions)
    assert result.startswith("failed:")


def with_query(url: str, **changes: str | None) -> str:
    """The URL with query parameters replaced (None: removed)."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return parts._replace(query=urlencode(query)).geturl()


async def refused_and_nothing_started(bot, sessions, provider, page: Visit) -> None:
    assert page.status == 403
    assert "only works from the Telegram account that asked for it" in page.text
    assert len(page.trail) == 1  # not sent on to CY Login
    assert provider.recorded.authorize == []
    assert await links(sessions) == []
    with pytest.raises(TimeoutError):  # and the chat is told nothing
        await told(bot.botapi, within=0.6)


async def test_a_forwarded_button_pressed_by_someone_else_starts_nothing(
    bot, sessions, provider
):
    """Login CSRF: the attacker's chat asks, forwards the button (or its link) to a victim; the
    victim presses it. Telegram signs the victim's id in, and that is not the attacker's."""
    await add_person(sessions)
    victim = 7300
    await say(bot.botapi, victim, "/start", language_code="el")  # a user of the bot too
    [welcome] = await say(bot.botapi, CHAT, "/start", language_code="el")

    url = await bot.botapi.user_opens_login_url(
        CHAT, welcome.message_id, SIGN_IN_EL, as_user=victim
    )
    async with aiohttp.ClientSession() as browser, browser.get(url) as response:
        page = Visit(response.status, await response.text(), [url])

    assert page.status == 403
    assert "λειτουργεί μόνο από τον λογαριασμό Telegram" in page.text  # the chat's language
    assert parse_qs(urlsplit(url).query)["id"] == [str(victim)]
    assert provider.recorded.authorize == []
    assert await links(sessions) == [] and await links(sessions, victim) == []
    assert await audit_results(sessions) == ["wrong_account:telegram_user"]
    # Someone the bot never heard of, likewise.
    stranger = await bot.botapi.user_opens_login_url(
        CHAT, welcome.message_id, SIGN_IN_EL, as_user={"id": 9911, "first_name": "Eve"}
    )
    assert (await browse(stranger)).status == 403
    # The chat's own user can still use the same button.
    own = await bot.botapi.user_opens_login_url(CHAT, welcome.message_id, SIGN_IN_EL)
    assert (await browse(own)).status == 200
    assert await links(sessions) != []


async def test_the_providers_link_passed_on_to_someone_else_links_nothing(
    bot, sessions, provider
):
    """Login CSRF the classic way: the chat's user presses the button, copies CY Login's page
    address (with our state) from the browser, and sends it to a victim, who signs in there.
    The victim's browser comes back without the cookie of the browser that set out."""
    await add_person(sessions)
    attacker = new_browser()
    url = await signin_button(bot.botapi)
    at_provider = await browse(url, stop_at=f"{provider.issuer}/authorize", jar=attacker)
    assert at_provider.trail[-1].startswith(f"{provider.issuer}/authorize")

    page = await browse(at_provider.trail[-1], jar=new_browser())  # the victim's browser

    assert page.status == 403
    assert "only works from the Telegram account that asked for it" in page.text
    assert provider.recorded.token == []  # the victim's code is never used
    assert await links(sessions) == []
    assert await audit_results(sessions) == ["wrong_account:browser"]
    with pytest.raises(TimeoutError):
        await told(bot.botapi, within=0.6)
    # The state is spent: the attacker's own browser cannot finish with it either.
    callback = page.trail[-1]
    assert (await browse(callback, jar=attacker)).status == 400
    assert await links(sessions) == []


async def test_a_pressed_buttons_url_opens_once(bot, sessions, provider, clock):
    """The URL of a press, taken from the browser's history and sent to someone else within
    Telegram's five minutes, is spent: it opened once already, in the presser's browser."""
    await add_person(sessions)
    [welcome] = await say(bot.botapi, CHAT, "/start")
    url = await bot.botapi.user_opens_login_url(CHAT, welcome.message_id, SIGN_IN_EN)
    first = await browse(url, stop_at=f"{provider.issuer}/authorize")  # the presser's browser
    assert first.trail[-1].startswith(f"{provider.issuer}/authorize?")
    clock.advance(minutes=1)

    page = await browse(url)  # someone else's browser, with the same URL

    assert page.status == 400 and "already been used" in page.text
    assert len(page.trail) == 1  # not sent on to CY Login
    assert await audit_results(sessions) == ["expired:telegram_replayed"]
    assert await links(sessions) == []
    # A new press works.
    fresh = await bot.botapi.user_opens_login_url(CHAT, welcome.message_id, SIGN_IN_EN)
    assert (await browse(fresh)).status == 200
    assert len(await links(sessions)) == 1


async def test_the_browser_cookie_is_bound_to_the_sign_in_pages_only(bot, provider):
    jar = new_browser()
    await browse(await signin_button(bot.botapi), stop_at=f"{provider.issuer}/authorize", jar=jar)
    [cookie] = jar
    assert cookie.key == "debtbot_signin"
    assert cookie["path"] == "/signin/cylogin" and cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] == ""  # http in the tests; https in production (public_url)


@pytest.mark.parametrize(
    "tamper",
    [
        {"hash": "0" * 64},
        {"hash": "not-hex"},
        {"id": "7300"},  # another user's id under this user's signature
        {"first_name": "Mallory"},
        {"auth_date": "9999999999"},
        {"extra": "1"},  # a field Telegram did not sign
    ],
    ids=["zero_hash", "garbage_hash", "other_id", "other_name", "future_date", "added_field"],
)
async def test_login_data_that_telegram_did_not_sign_starts_nothing(
    bot, sessions, provider, tamper
):
    await add_person(sessions)
    url = with_query(await signin_button(bot.botapi), **tamper)

    page = await browse(url)

    await refused_and_nothing_started(bot, sessions, provider, page)
    [result] = await audit_results(sessions)
    assert result.startswith("wrong_account:telegram_")


async def test_login_data_signed_with_another_bots_token_starts_nothing(
    bot, sessions, provider
):
    url = await signin_button(bot.botapi)
    fields = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()
              if key not in ("h", "hash")}
    forged = with_query(url, hash=login_data_hash(fields, "999:another-bots-token"))
    await refused_and_nothing_started(bot, sessions, provider, await browse(forged))


async def test_stale_login_data_starts_nothing(bot, sessions, provider, clock):
    url = await signin_button(bot.botapi)
    clock.advance(minutes=6)  # the handle still has 9 minutes; Telegram's auth_date is stale

    page = await browse(url)

    await refused_and_nothing_started(bot, sessions, provider, page)
    assert await audit_results(sessions) == ["wrong_account:telegram_stale"]


@pytest.mark.parametrize("missing", [("hash",), ("id",), ("auth_date",),
                                     ("id", "first_name", "auth_date", "hash")])
async def test_missing_login_data_starts_nothing(bot, sessions, provider, missing):
    url = await signin_button(bot.botapi)

    page = await browse(with_query(url, **dict.fromkeys(missing)))

    await refused_and_nothing_started(bot, sessions, provider, page)


async def test_login_data_given_twice_starts_nothing(bot, sessions, provider):
    url = await signin_button(bot.botapi)
    await refused_and_nothing_started(
        bot, sessions, provider, await browse(f"{url}&id={CHAT + 1}")
    )


async def test_a_wrong_state_is_refused_and_tells_no_chat(bot, sessions):
    await add_person(sessions)
    url = await signin_button(bot.botapi)
    stopped = await browse(url, stop_at=f"{bot.public_url}/signin/cylogin/callback")
    callback = urlsplit(stopped.trail[-1])
    code = parse_qs(callback.query)["code"][0]

    page = await browse(f"{bot.public_url}/signin/cylogin/callback?code={code}&state=forged")

    assert page.status == 400 and "This sign-in link has expired" in page.text
    assert await links(sessions) == []
    with pytest.raises(TimeoutError):
        await told(bot.botapi, within=0.6)


async def test_a_reused_state_is_refused_and_links_nothing_more(bot, sessions):
    await add_person(sessions)
    first = await browse(await signin_button(bot.botapi))
    assert first.status == 200
    await told(bot.botapi)
    callback_url = first.trail[2]

    again = await browse(callback_url)  # the same callback, state and code, once more

    assert again.status == 400 and "already been used" in again.text
    assert len(await links(sessions)) == 1


async def test_a_state_from_an_earlier_press_of_the_button_is_void(
    bot, sessions, provider, clock
):
    await add_person(sessions)
    [welcome] = await say(bot.botapi, CHAT, "/start")
    url = await bot.botapi.user_opens_login_url(CHAT, welcome.message_id, SIGN_IN_EN)
    jar = new_browser()
    earlier = await browse(url, stop_at=f"{bot.public_url}/signin/cylogin/callback", jar=jar)
    clock.advance(seconds=2)
    again = await bot.botapi.user_opens_login_url(CHAT, welcome.message_id, SIGN_IN_EN)
    later = await browse(again, jar=jar)  # pressed again: a new state replaces the first
    assert later.status == 200
    await told(bot.botapi)

    replay = await browse(earlier.trail[-1], jar=jar)

    assert replay.status == 400
    assert len(await links(sessions)) == 1


async def test_a_replayed_code_is_refused_by_the_provider_and_links_nothing(
    bot, sessions, provider
):
    await add_person(sessions)
    # Someone else's finished sign-in: its code has been spent.
    first = await browse(await signin_button(bot.botapi, 5902))
    assert first.status == 200
    await told(bot.botapi, 5902)
    spent_code = parse_qs(urlsplit(first.trail[2]).query)["code"][0]
    # This chat's own trip, with the spent code put in place of its own.
    jar = new_browser()
    stopped = await browse(
        await signin_button(bot.botapi), stop_at=f"{bot.public_url}/signin/cylogin/callback",
        jar=jar,
    )
    state = parse_qs(urlsplit(stopped.trail[-1]).query)["state"][0]

    page = await browse(
        f"{bot.public_url}/signin/cylogin/callback?code={spent_code}&state={state}", jar=jar
    )

    assert page.status == 400
    assert provider.recorded.token_errors == ["invalid_grant"]
    assert await links(sessions) == []
    assert (await told(bot.botapi)).startswith("Signing in with CY Login did not succeed")


async def test_the_user_cancelling_at_the_provider_links_nothing(bot, sessions, provider):
    provider.deny = True
    page = await browse(await signin_button(bot.botapi))
    assert page.status == 400
    assert (await told(bot.botapi)).startswith("Signing in with CY Login did not succeed")
    assert await links(sessions) == []


async def test_provider_down_before_the_trip_tells_the_citizen_to_use_the_other_way(
    bot, sessions, provider
):
    await add_person(sessions)
    url = await signin_button(bot.botapi)
    provider.down = True

    page = await browse(url)

    assert page.status == 503 and "CY Login cannot be reached" in page.text
    text = await told(bot.botapi)
    assert text.startswith("CY Login cannot be reached at the moment, so nothing was linked.")
    assert "identity number and date of birth" in text
    assert await links(sessions) == []


async def test_provider_gone_at_the_token_endpoint_links_nothing(bot, sessions, provider):
    await add_person(sessions)
    jar = new_browser()
    stopped = await browse(
        await signin_button(bot.botapi), stop_at=f"{bot.public_url}/signin/cylogin/callback",
        jar=jar,
    )
    await provider.stop()  # not even a connection

    page = await browse(stopped.trail[-1], jar=jar)

    assert page.status == 503
    assert (await told(bot.botapi)).startswith("CY Login cannot be reached at the moment")
    assert await links(sessions) == []
    # ...and the other way still works.
    await say(bot.botapi, CHAT, "/start")
    await press(bot.botapi, CHAT, "Myself")
    await press(bot.botapi, CHAT, "Cypriot identity card")
    await say(bot.botapi, CHAT, ID_CARD)
    await say(bot.botapi, CHAT, "23/11/1980")
    done = await share_contact(bot.botapi, CHAT)
    assert done.text.startswith("Thank you. This chat is now linked to Andreas Georgiou.")


async def test_an_unknown_or_expired_button_link_says_so(bot, sessions, clock):
    page = await browse(f"{bot.public_url}/signin/cylogin?h=nothing-like-this")
    assert page.status == 400 and "expired" in page.text
    url = await signin_button(bot.botapi)
    clock.advance(minutes=16)
    page = await browse(url)
    assert page.status == 400 and "expired" in page.text
    assert await link_count(sessions, CHAT) == 0


async def test_without_cy_login_settings_start_offers_only_the_number_and_date(
    botapi, sessions, database_url, clock
):
    settings = Settings(hash_key=HASH_KEY, database_url=database_url,
                        telegram_token=botapi.token, telegram_api_url=botapi.url)
    deps = Deps(settings=settings, sessions=sessions, clock=clock)
    async with running(deps, botapi):
        [welcome] = await say(botapi, CHAT, "/start")
    assert welcome.button_texts == ["Myself", "A company I represent", "Cancel"]
