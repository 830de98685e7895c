"""The staff console under /console: compose, check, approve and follow every notice.

Server-rendered pages (Jinja2, autoescaped), in Greek and English; every form works without
JavaScript, and a little script (console.js) adds the live template preview and the live
progress of a broadcast. Each page: read the session cookie (services.console_auth), check
the role and, for a form, its CSRF token, call one service, render. What staff do is audited
by the services under "staff:<telegram user id>"; refused pages are audited here.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy

from debtbot.domain.debts import DebtKind
from debtbot.domain.milestones import MilestoneKind
from debtbot.http.base import DEPS_KEY
from debtbot.http.console_texts import ENGLISH, GREEK
from debtbot.i18n import LANGUAGE_NAMES, LANGUAGES
from debtbot.services import (
    api_tokens,
    audit,
    broadcasts,
    console_auth,
    delivery,
    notices,
    staff,
)
from debtbot.services.console_auth import COOKIE_NAME, ConsoleSession
from debtbot.services.deps import Deps
from debtbot.services.staff import Role, StaffError

log = logging.getLogger(__name__)

PREFIX = "/console"
HERE = Path(__file__).resolve().parent
STATIC = HERE / "console_static"
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024 * 1024

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "console_templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a sign-in link's token never leaves in a Referer
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

Form = MultiDictProxy[Any]
Handler = Callable[[web.Request, ConsoleSession, Form | None], Awaitable[web.StreamResponse]]


# --- rendering ---------------------------------------------------------------------------


def translate(language: str) -> Callable[[str], str]:
    if language == "el":
        return lambda text: GREEK.get(text, ENGLISH.get(text, text))
    return lambda text: ENGLISH.get(text, text)


def _when(deps: Deps) -> Callable[[datetime | None], str]:
    tz = deps.settings.tz

    def show(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return show


def render(
    request: web.Request, console: ConsoleSession | None, page_name: str, /, *,
    status: int = 200, language: str | None = None, **context: Any,
) -> web.Response:
    deps = request.app[DEPS_KEY]
    lang = language or (console.language if console else _browser_language(request))
    say = translate(lang)
    body = ENV.get_template(page_name).render(
        _=say, lang=lang, me=console.member if console else None,
        csrf=console.csrf if console else "", role=console.member.role if console else None,
        Role=Role, path=request.path, when=_when(deps), LANGUAGE_NAMES=LANGUAGE_NAMES,
        LANGUAGES=LANGUAGES, NO_CHAT=NO_CHAT_TEXT, **context,
    )
    return web.Response(text=body, status=status, content_type="text/html",
                        headers=SECURITY_HEADERS)


def _browser_language(request: web.Request) -> str:
    wanted = request.headers.get("Accept-Language", "").lower()
    return "el" if wanted.startswith("el") else "en"


def message(
    request: web.Request, console: ConsoleSession | None, *, status: int, title: str,
    text: str, back: str | None = None,
) -> web.Response:
    say = translate(console.language if console else _browser_language(request))
    return render(request, console, "message.html", status=status, title=say(title),
                  text=say(text), back=back)


def error_page(request: web.Request, status: int) -> web.Response:
    """An error under /console as a page, not JSON (the API's errors stay JSON)."""
    titles = {404: "Not found", 405: "Not allowed here", 413: "Too large"}
    texts = {
        404: "There is no such page in the console.",
        405: "This page cannot be used like that.",
        413: "What was sent is larger than the console accepts.",
    }
    return message(request, None, status=status, title=titles.get(status, "Something went wrong"),
                   text=texts.get(status, "Please go back and try again."), back=PREFIX)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **SECURITY_HEADERS})


def staff_error_page(request: web.Request, console: ConsoleSession, error: StaffError,
                     *, back: str) -> web.Response:
    status = 403 if isinstance(error, staff.NotAllowed) else 404 if isinstance(
        error, staff.NotFound) else 409 if isinstance(error, staff.Conflict) else 422
    say = translate(console.language)
    return render(request, console, "message.html", status=status, title=say("Not done"),
                  text=explain(error, console.language), back=back)


ERRORS = {
    "same_supervisor": "A second supervisor must approve this: you cannot approve or reject "
    "what you asked for yourself. Nothing was changed.",
    "bad_state": "It cannot do that in its current state. Nothing was changed.",
    "no_broadcast": "There is no such broadcast or list.",
    "no_template": "There is no template with that name.",
    "no_recipient": "Nobody was found for that recipient.",
    "bad_identifier": "That is not a valid identifier of that type.",
    "ambiguous_reference": "Several registries use that reference: give the source too.",
    "past_send_at": "The send time is in the past: choose a time to come, or leave it empty "
    "to send once approved.",
    "no_reason": "Say why it is rejected.",
    "not_allowed": "Your role does not allow this.",
    "csv_problems": "Some rows did not pass the check. Nothing was sent.",
    "no_greek": "The Greek text is required.",
    "bad_name": "A template's name: letters, digits, _ . - (up to 100).",
}


def explain(error: StaffError, language: str) -> str:
    say = translate(language)
    if error.code == "no_chat":
        reason = getattr(error, "reason", None) or (
            "inactive" if "inactive" in error.detail else "never_linked")
        return say(NO_CHAT_TEXT[reason])
    if error.code in ERRORS:
        return say(ERRORS[error.code])
    return error.detail or error.code


NO_CHAT_TEXT = {
    "never_linked": "Nothing can be sent: this person has never verified themselves in the "
    "bot, so no chat is linked to them. Send a letter instead, or ask them to open the bot.",
    "inactive": "Nothing can be sent: every chat linked to this person is inactive (they "
    "blocked the bot or deleted the chat).",
}


# --- the gate ----------------------------------------------------------------------------


def page(role: Role = Role.OPERATOR, *, form: bool = True) -> Callable[[Handler], Any]:
    """Signed in, with `role`; a POST carries this session's CSRF token. `form=False`: the
    handler reads the body itself (uploads) and checks the token with `csrf_ok`."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @wraps(handler)
        async def endpoint(request: web.Request) -> web.StreamResponse:
            deps = request.app[DEPS_KEY]
            console = await console_auth.session_for(deps, request.cookies.get(COOKIE_NAME))
            if console is None:
                if request.method == "GET":
                    # A link followed from Telegram arrives without the SameSite=Strict
                    # cookie; the same link followed from this page carries it.
                    again = request.path_qs if COOKIE_NAME not in request.cookies else None
                    return render(request, None, "signin.html", status=401, again=again)
                return message(request, None, status=401, title="Signed out",
                               text="Your session has ended, so nothing was changed. Sign in "
                               "again: send /console to the bot.", back=PREFIX)
            if not console.member.role.includes(role):
                await audit.record_now(deps, actor=console.actor.label,
                                       action="console.forbidden", subject=request.path[:200],
                                       details={"needs": role.value})
                return message(request, console, status=403, title="Not allowed",
                               text="This page is for staff with a higher role. Your attempt "
                               "was recorded.", back=PREFIX)
            data: Form | None = None
            if request.method == "POST" and form:
                try:
                    data = await request.post()
                except web.HTTPRequestEntityTooLarge:
                    return message(request, console, status=413, title="Too large",
                                   text="What was sent is larger than the console accepts. "
                                   "Nothing was changed.", back=PREFIX)
                if not console_auth.csrf_ok(console, _text(data, "csrf")):
                    return await csrf_refused(request, console)
            return await handler(request, console, data)

        return endpoint

    return wrap


async def csrf_refused(request: web.Request, console: ConsoleSession) -> web.Response:
    await audit.record_now(request.app[DEPS_KEY], actor=console.actor.label,
                           action="console.csrf_refused", subject=request.path[:200])
    return message(request, console, status=403, title="The form was not accepted",
                   text="It did not come from a page of this console (its security token is "
                   "missing or wrong). Nothing was changed. Open the page again and resend.",
                   back=PREFIX)


def _text(data: Form | None, name: str, default: str = "") -> str:
    if data is None:
        return default
    value = data.get(name, default)
    return value if isinstance(value, str) else default


def _int(raw: str | None) -> int | None:
    try:
        value = int((raw or "").strip())
    except ValueError:
        return None
    return value if 0 < value <= 2**53 else None


# --- signing in and out ------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.Response:
    """The link from the bot: a button that signs in (a GET never spends the link, so a
    link preview cannot use it up)."""
    token = request.query.get("token", "")
    return render(request, None, "signin.html", token=token[:200])


SIGNIN_REFUSED = {
    "expired": "This sign-in link has expired (links last 10 minutes). Send /console to the "
    "bot for a new one.",
    "used": "This sign-in link was already used (each works once). Send /console to the bot "
    "for a new one.",
    "not_staff": "This link is not for an active member of staff.",
    "forged": "This sign-in link is not valid. Send /console to the bot for a new one.",
    "malformed": "This sign-in link is not valid. Send /console to the bot for a new one.",
}


async def signin(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    data = await request.post()
    language = _browser_language(request)
    try:
        cookie, console = await console_auth.sign_in(
            deps, token=_text(data, "token"), language=language
        )
    except console_auth.SignInRefused as refused:
        say = translate(language)
        await audit.record_now(deps, actor="console", action="console.sign_in_refused",
                               details={"reason": refused.reason})
        return render(request, None, "signin.html", status=400 if refused.reason in (
            "malformed", "forged") else 410, problem=say(SIGNIN_REFUSED[refused.reason]))
    response = see_other(PREFIX)
    response.set_cookie(COOKIE_NAME, cookie, path=PREFIX, httponly=True, secure=True,
                        samesite="Strict")
    return response


@page(Role.OPERATOR)
async def signout(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    await console_auth.sign_out(request.app[DEPS_KEY], console)
    response = render(request, None, "signin.html", language=console.language, signed_out=True)
    response.del_cookie(COOKIE_NAME, path=PREFIX)
    return response


@page(Role.OPERATOR)
async def set_language(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    await console_auth.set_language(request.app[DEPS_KEY], console, _text(data, "language"))
    back = _text(data, "back", PREFIX)
    return see_other(back if back.startswith(PREFIX) and "//" not in back else PREFIX)


# --- dashboard ---------------------------------------------------------------------------


@page(Role.OPERATOR)
async def dashboard(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    figures = await delivery.dashboard(deps)
    waiting = [view for view in await broadcasts.list_broadcasts(
        deps, status=broadcasts.BroadcastStatus.AWAITING_APPROVAL.value, limit=50)]
    return render(request, console, "dashboard.html", figures=figures, waiting=waiting,
                  chart=_chart(figures), states=delivery.STATES, kinds=delivery.KINDS)


CHART_COLOURS = {  # each at least 3:1 against white (WCAG 2.1 1.4.11)
    "sent": "#1a7f37", "pending": "#6e7781", "sending": "#0969da", "failed": "#cf222e",
    "blocked": "#8250df", "cancelled": "#9a6700", "dropped": "#57606a",
}


def _chart(figures: delivery.Dashboard) -> dict[str, Any]:
    """A stacked bar per day, drawn as SVG on the server (no script needed)."""
    width, height, left, bottom = 900, 220, 40, 30
    bar = (width - left) / len(figures.days)
    peak = max([sum(figures.by_day_state[day].values()) for day in figures.days] + [1])
    bars = []
    for n, day in enumerate(figures.days):
        y = height - bottom
        for state in delivery.STATES:
            count = figures.by_day_state[day][state]
            if not count:
                continue
            h = (height - bottom - 10) * count / peak
            y -= h
            bars.append({"x": round(left + n * bar + 2, 1), "y": round(y, 1),
                         "w": round(bar - 4, 1), "h": round(h, 1),
                         "colour": CHART_COLOURS[state], "title": f"{day}: {state} {count}"})
    labels = [{"x": round(left + n * bar + bar / 2, 1), "text": day.strftime("%d/%m")}
              for n, day in enumerate(figures.days) if n % 5 == 0]
    return {"width": width, "height": height, "bars": bars, "labels": labels, "peak": peak,
            "base": height - bottom, "colours": CHART_COLOURS}


# --- templates ---------------------------------------------------------------------------


def _bodies(data: Form | None) -> dict[str, str]:
    return {lang: _text(data, f"body_{lang}").replace("\r\n", "\n") for lang in LANGUAGES}


def _previews(deps: Deps, bodies: dict[str, str], values: dict[str, Any]) -> list[Any]:
    """Each language with sample values; placeholders without one show as themselves."""
    try:
        checked = notices.check_values(values)
    except StaffError:
        checked = {}
    return notices.previews_for(bodies, checked, LANGUAGES, deps)


SAMPLE_VALUES = {"name": "Maria Ioannou", "reference": "OOC-2026-0001", "amount": "85.00",
                 "deadline": "2026-12-31", "total_due": "127.50", "next_deadline": "2026-12-31"}


@page(Role.OPERATOR)
async def templates_list(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    found = await notices.list_templates(request.app[DEPS_KEY])
    return render(request, console, "templates_list.html", templates=found)


@page(Role.OPERATOR)
async def template_page(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    name = request.match_info.get("name")
    if name is None:
        return render(request, console, "template_edit.html", template=None, name="",
                      bodies=dict.fromkeys(LANGUAGES, ""), versions=[], previews=[], problem=None)
    try:
        versions = await notices.template_versions(deps, name=name)
    except StaffError as error:
        return staff_error_page(request, console, error, back=f"{PREFIX}/templates")
    current = versions[0]
    shown = current
    wanted = _int(request.query.get("version"))
    if wanted is not None:
        shown = next((v for v in versions if v.version == wanted), current)
    return render(request, console, "template_edit.html", template=current, name=name,
                  bodies=shown.bodies, versions=versions, shown_version=shown.version,
                  previews=_previews(deps, shown.bodies, SAMPLE_VALUES), problem=None)


@page(Role.OPERATOR)
async def template_save(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    """Preview (anyone) or save (supervisors): each saved edit is a new version."""
    deps = request.app[DEPS_KEY]
    name = _text(data, "name").strip()
    bodies = _bodies(data)
    previews = _previews(deps, bodies, SAMPLE_VALUES)
    existing = request.match_info.get("name")
    if _text(data, "action") == "save":
        try:
            saved = await notices.save_template(deps, actor=console.actor, name=existing or name,
                                                bodies=bodies)
        except StaffError as error:
            return render(request, console, "template_edit.html", status=422, template=None,
                          name=existing or name, bodies=bodies, versions=[], previews=previews,
                          problem=explain(error, console.language), editing=existing)
        return see_other(f"{PREFIX}/templates/{saved.name}?saved={saved.version}")
    return render(request, console, "template_edit.html", template=None, name=existing or name,
                  bodies=bodies, versions=[], previews=previews, problem=None, editing=existing)


@page(Role.OPERATOR)
async def template_preview(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    """The live preview's fragment (console.js posts the form as the text changes)."""
    deps = request.app[DEPS_KEY]
    bodies = _bodies(data)
    problem = None
    try:
        notices.check_template(notices.NoticeTemplate("preview", bodies))
    except StaffError as error:
        problem = explain(error, console.language)
    say = translate(console.language)
    body = ENV.get_template("_previews.html").render(
        _=say, previews=_previews(deps, bodies, SAMPLE_VALUES), problem=problem,
        LANGUAGE_NAMES=LANGUAGE_NAMES)
    return web.Response(text=body, content_type="text/html", headers=SECURITY_HEADERS)


# --- a notice to one person --------------------------------------------------------------


def _recipient(data: Form | None) -> notices.RecipientQuery:
    how = _text(data, "how")
    value = _text(data, "recipient").strip()
    if how == "reference":
        return notices.RecipientQuery(reference=value, source=_text(data, "source").strip() or None)
    if how == "chat":
        chat = _int(value)
        if chat is None:
            raise staff.Invalid("bad chat id", code="bad_recipient")
        return notices.RecipientQuery(chat_id=chat)
    return notices.RecipientQuery(id_type=how or "id_card", id_number=value)


def _values(data: Form | None) -> dict[str, str]:
    """`name=value` lines from the values box."""
    values: dict[str, str] = {}
    for line in _text(data, "values").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip().lower()] = value.strip()
    return values


@page(Role.OPERATOR)
async def notice_new(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    templates = await notices.list_templates(deps)
    context: dict[str, Any] = {"templates": templates, "form": data or {}, "result": None,
                               "problem": None}
    if request.method == "GET":
        context["form"] = {"template": request.query.get("template", "")}
        return render(request, console, "notice_new.html", **context)
    template = _text(data, "template")
    try:
        recipient = _recipient(data)
        if _text(data, "action") == "send":
            result = await notices.send_notice(
                deps, actor=console.actor, recipient=recipient, template=template,
                values=_values(data), idempotency_key=f"console:{_text(data, 'once')}"[:64]
                if _text(data, "once") else None,
            )
            return see_other(f"{PREFIX}/notices/{result.notice_id}")
        context["result"] = await notices.preview_notice(
            deps, actor=console.actor, recipient=recipient, template=template,
            values=_values(data))
    except StaffError as error:
        context["problem"] = explain(error, console.language)
        return render(request, console, "notice_new.html", status=422, **context)
    context["once"] = secrets.token_hex(8)
    return render(request, console, "notice_new.html", **context)


@page(Role.OPERATOR)
async def notices_list(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    found = await notices.list_notices(request.app[DEPS_KEY], limit=200)
    return render(request, console, "notices_list.html", notices=found)


@page(Role.OPERATOR)
async def notice_page(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    number = _int(request.match_info["notice_id"])
    try:
        notice = await notices.get_notice(deps, notice_id=number or 0)
    except StaffError as error:
        return staff_error_page(request, console, error, back=f"{PREFIX}/notices")
    chosen = delivery.Filter(notice_id=notice.id)
    return render(request, console, "notice_view.html", notice=notice,
                  rows=await delivery.messages(deps, chosen),
                  counts=await delivery.counts(deps, chosen), states=delivery.STATES)


# --- notice lists ------------------------------------------------------------------------


async def _read_upload(request: web.Request) -> tuple[dict[str, str], bytes | None, bool]:
    """The form's fields and the file, reading at most MAX_UPLOAD_BYTES of it; the rest of a
    larger upload is read and thrown away, so the browser gets the answer page."""
    fields: dict[str, str] = {}
    content: bytes | None = None
    too_large = False
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):  # nested multipart: not ours
            continue
        if part.filename is not None:
            chunks, size = [], 0
            while chunk := await part.read_chunk(65536):
                size += len(chunk)
                if size <= MAX_UPLOAD_BYTES:
                    chunks.append(chunk)
                elif size > _DRAIN_LIMIT:
                    raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD_BYTES,
                                                        actual_size=size)
            too_large = too_large or size > MAX_UPLOAD_BYTES
            content = None if too_large else b"".join(chunks)
        else:
            fields[part.name or ""] = (await part.read(decode=True))[:100_000].decode(
                "utf-8", "replace")
    return fields, content, too_large


@page(Role.OPERATOR)
async def list_new(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    templates = await notices.list_templates(deps)
    return render(request, console, "list_new.html", templates=templates, check=None,
                  problem=None, chosen="")


@page(Role.OPERATOR, form=False)
async def list_upload(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    """Check an uploaded list row by row; with "ask for approval", it waits for a second
    supervisor (all rows or none)."""
    deps = request.app[DEPS_KEY]
    templates = await notices.list_templates(deps)
    try:
        fields, content, too_large = await _read_upload(request)
    except (ValueError, AssertionError, web.HTTPRequestEntityTooLarge):
        return message(request, console, status=413, title="Too large",
                       text="What was sent is larger than the console accepts. Nothing was "
                       "changed.", back=f"{PREFIX}/lists/new")
    if not console_auth.csrf_ok(console, fields.get("csrf")):
        return await csrf_refused(request, console)
    say = translate(console.language)
    template = fields.get("template", "")
    context: dict[str, Any] = {"templates": templates, "check": None, "problem": None,
                               "chosen": template}
    if too_large:
        context["problem"] = say("The file is larger than 4 MB. Split the list and upload each "
                               "part. Nothing was changed.")
        return render(request, console, "list_new.html", status=413, **context)
    if not content:
        context["problem"] = say("Choose a CSV file to upload.")
        return render(request, console, "list_new.html", status=422, **context)
    try:
        text = broadcasts.decode_csv(content)
        if fields.get("action") == "submit":
            view, _check = await broadcasts.send_notice_csv(
                deps, actor=console.actor, template=template, csv_text=text)
            return see_other(f"{PREFIX}/broadcasts/{view.id}")
        context["check"] = await broadcasts.check_notice_csv(
            deps, actor=console.actor, template=template, csv_text=text)
    except broadcasts.CsvProblems as problems:
        context["check"] = problems.check
        return render(request, console, "list_new.html", status=422, **context)
    except StaffError as error:
        context["problem"] = explain(error, console.language)
        return render(request, console, "list_new.html", status=422, **context)
    return render(request, console, "list_new.html", **context)


# --- broadcasts and approvals ------------------------------------------------------------


@page(Role.SUPERVISOR)
async def broadcasts_list(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    found = await broadcasts.list_broadcasts(request.app[DEPS_KEY], limit=200)
    return render(request, console, "broadcasts_list.html", broadcasts=found)


def _segment(data: Form | None) -> broadcasts.Segment:
    kind = _text(data, "segment") or "all"
    return broadcasts.Segment.from_dict({
        "kind": kind,
        "debt_kind": _text(data, "debt_kind") if kind == "debt_kind" else None,
        "milestone": _text(data, "milestone") if kind == "past_threshold" else None,
    })


def _send_at(deps: Deps, raw: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise staff.Invalid("bad time", code="bad_send_at") from exc
    return moment.replace(tzinfo=deps.settings.tz) if moment.tzinfo is None else moment


@page(Role.SUPERVISOR)
async def broadcast_new(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    context: dict[str, Any] = {
        "templates": await notices.list_templates(deps), "form": data or {}, "preview": None,
        "problem": None, "debt_kinds": [k.value for k in DebtKind],
        "milestones": [m.value for m in MilestoneKind],
        "recipient_values": broadcasts.RECIPIENT_VALUES,
    }
    if request.method == "GET":
        return render(request, console, "broadcast_new.html", **context)
    try:
        segment = _segment(data)
        send_at = _send_at(deps, _text(data, "send_at"))
        if send_at is not None and send_at <= deps.clock():
            raise staff.Invalid("in the past", code="past_send_at")
        if _text(data, "action") == "submit":
            created = await broadcasts.create_broadcast(
                deps, actor=console.actor, segment=segment, template=_text(data, "template"),
                values=_values(data), send_at=send_at, test_mode=bool(_text(data, "test")))
            return see_other(f"{PREFIX}/broadcasts/{created.id}")
        context["preview"] = await broadcasts.preview_segment(
            deps, segment=segment, template=_text(data, "template"), values=_values(data))
    except StaffError as error:
        context["problem"] = explain(error, console.language)
        return render(request, console, "broadcast_new.html", status=422, **context)
    return render(request, console, "broadcast_new.html", **context)


async def _broadcast_context(deps: Deps, broadcast_id: int) -> dict[str, Any]:
    view = await broadcasts.get_broadcast(deps, broadcast_id=broadcast_id)
    progress = await broadcasts.broadcast_progress(deps, broadcast_id=broadcast_id)
    context: dict[str, Any] = {"b": view, "progress": progress, "check": None, "preview": None}
    if view.kind == "csv":
        if view.status == broadcasts.BroadcastStatus.AWAITING_APPROVAL.value:
            context["check"] = await broadcasts.list_check(deps, broadcast_id=broadcast_id)
    else:
        context["preview"] = await broadcasts.preview_broadcast(deps, broadcast_id=broadcast_id)
    return context


@page(Role.SUPERVISOR)
async def broadcast_page(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    try:
        context = await _broadcast_context(deps, _int(request.match_info["broadcast_id"]) or 0)
    except StaffError as error:
        return staff_error_page(request, console, error, back=f"{PREFIX}/broadcasts")
    return render(request, console, "broadcast_view.html", **context)


@page(Role.SUPERVISOR)
async def broadcast_decide(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    """Approve, reject (with a reason) or cancel."""
    deps = request.app[DEPS_KEY]
    broadcast_id = _int(request.match_info["broadcast_id"]) or 0
    back = f"{PREFIX}/broadcasts/{broadcast_id}"
    what = request.match_info["decision"]
    try:
        if what == "approve":
            await broadcasts.approve_broadcast(deps, actor=console.actor, broadcast_id=broadcast_id)
            await broadcasts.run_broadcasts(deps)
        elif what == "reject":
            await broadcasts.reject_broadcast(deps, actor=console.actor,
                                              broadcast_id=broadcast_id,
                                              reason=_text(data, "reason"))
        else:
            await broadcasts.cancel_broadcast(deps, actor=console.actor, broadcast_id=broadcast_id)
    except broadcasts.CsvProblems as problems:
        context = await _broadcast_context(deps, broadcast_id)
        context["check"] = problems.check
        context["problem"] = explain(problems, console.language)
        return render(request, console, "broadcast_view.html", status=409, **context)
    except StaffError as error:
        return staff_error_page(request, console, error, back=back)
    return see_other(back)


@page(Role.SUPERVISOR)
async def broadcast_progress(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    """The live progress as JSON (console.js polls it)."""
    deps = request.app[DEPS_KEY]
    try:
        progress = await broadcasts.broadcast_progress(
            deps, broadcast_id=_int(request.match_info["broadcast_id"]) or 0)
    except StaffError:
        return web.json_response({"error": "not_found"}, status=404)
    return web.json_response(
        {"status": progress.status, "total": progress.total, "sent": progress.sent,
         "failed": progress.failed, "blocked": progress.blocked,
         "cancelled": progress.cancelled, "remaining": progress.remaining},
        headers={"Cache-Control": "no-store"})


# --- delivery ----------------------------------------------------------------------------


def _filter(request: web.Request) -> delivery.Filter:
    query = request.query
    return delivery.Filter(
        notice_id=_int(query.get("notice")), broadcast_id=_int(query.get("broadcast")),
        status=query.get("state") or None, kind=query.get("kind") or None,
        chat_id=_int(query.get("chat")),
    )


@page(Role.OPERATOR)
async def delivery_page(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    chosen = _filter(request)
    try:
        rows = await delivery.messages(deps, chosen, limit=500)
        counts = await delivery.counts(deps, chosen)
    except StaffError as error:
        return staff_error_page(request, console, error, back=f"{PREFIX}/delivery")
    return render(request, console, "delivery.html", rows=rows, counts=counts, chosen=chosen,
                  states=delivery.STATES, kinds=delivery.KINDS,
                  query=request.query_string)


@page(Role.OPERATOR)
async def delivery_csv(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    chosen = _filter(request)
    try:
        rows = await delivery.messages(deps, chosen, limit=delivery.MAX_ROWS)
    except StaffError as error:
        return staff_error_page(request, console, error, back=f"{PREFIX}/delivery")
    await audit.record_now(deps, actor=console.actor.label, action="console.delivery_csv",
                           count=len(rows), details={"filter": request.query_string[:200]})
    return web.Response(
        body=delivery.messages_csv(rows).encode(), content_type="text/csv", charset="utf-8",
        headers={**SECURITY_HEADERS,
                 "Content-Disposition": 'attachment; filename="delivery.csv"'})


# --- team, keys and the audit log (admins) -----------------------------------------------


@page(Role.ADMIN)
async def team(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    problem = None
    if request.method == "POST":
        try:
            if _text(data, "action") == "remove":
                await staff.remove_staff(deps, actor=console.actor,
                                         telegram_user_id=_int(_text(data, "user")) or 0)
            else:
                await staff.add_staff(
                    deps, actor=console.actor, telegram_user_id=_int(_text(data, "user")) or 0,
                    name=_text(data, "name"), role=_text(data, "role"),
                    receives_tests=bool(_text(data, "tests")))
            return see_other(f"{PREFIX}/team")
        except StaffError as error:
            problem = explain(error, console.language)
    members = await staff.list_staff(deps, include_inactive=True)
    return render(request, console, "team.html", status=422 if problem else 200,
                  members=members, problem=problem, roles=[r.value for r in Role])


@page(Role.ADMIN)
async def keys(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    problem, created = None, None
    if request.method == "POST":
        if _text(data, "action") == "revoke":
            await api_tokens.revoke_token(deps, token_id=_int(_text(data, "token")) or 0,
                                          actor=console.actor.label)
            return see_other(f"{PREFIX}/keys")
        scopes = [scope for scope in api_tokens.SCOPES if data is not None and data.get(scope)]
        try:
            created = await api_tokens.create_token(deps, name=_text(data, "name"),
                                                    scopes=scopes, actor=console.actor.label)
        except ValueError as error:
            problem = str(error)
    tokens = await api_tokens.list_tokens(deps)
    return render(request, console, "keys.html", status=422 if problem else 200,
                  tokens=tokens, created=created, problem=problem, scopes=api_tokens.SCOPES)


@page(Role.ADMIN)
async def audit_page(request: web.Request, console: ConsoleSession, data: Form | None) -> web.Response:
    deps = request.app[DEPS_KEY]
    query = request.query
    since = None
    if query.get("since"):
        try:
            since = datetime.fromisoformat(query["since"]).replace(tzinfo=deps.settings.tz)
        except ValueError:
            since = None
    entries = await audit.list_entries(
        deps, since=since, action=(query.get("action") or "").strip() or None,
        actor=(query.get("actor") or "").strip() or None, limit=500)
    return render(request, console, "audit.html", entries=entries, query=query,
                  dumps=lambda d: json.dumps(d, ensure_ascii=False, sort_keys=True))


# --- static files ------------------------------------------------------------------------


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ("console.css", "console.js"):
        raise web.HTTPNotFound()
    types = {"css": "text/css", "js": "text/javascript"}
    return web.Response(body=(STATIC / name).read_bytes(),
                        content_type=types[name.rsplit(".", 1)[1]],
                        headers={"Cache-Control": "max-age=300",
                                 "X-Content-Type-Options": "nosniff"})


def install(app: web.Application) -> None:
    """Mount the console's routes under /console."""
    get, post = app.router.add_get, app.router.add_post
    get(PREFIX, dashboard, name="console.dashboard")
    get(f"{PREFIX}/", dashboard, name="console.dashboard_slash")
    get(f"{PREFIX}/login", signin_page, name="console.login_page")
    post(f"{PREFIX}/login", signin, name="console.login")
    post(f"{PREFIX}/logout", signout, name="console.logout")
    post(f"{PREFIX}/language", set_language, name="console.language")
    get(f"{PREFIX}/static/{{name}}", static, name="console.static")
    get(f"{PREFIX}/templates", templates_list, name="console.templates")
    get(f"{PREFIX}/templates/new", template_page, name="console.template_new")
    post(f"{PREFIX}/templates/new", template_save, name="console.template_create")
    post(f"{PREFIX}/templates/preview", template_preview, name="console.template_preview")
    get(f"{PREFIX}/templates/{{name}}", template_page, name="console.template")
    post(f"{PREFIX}/templates/{{name}}", template_save, name="console.template_save")
    get(f"{PREFIX}/notices", notices_list, name="console.notices")
    get(f"{PREFIX}/notices/new", notice_new, name="console.notice_new")
    post(f"{PREFIX}/notices/new", notice_new, name="console.notice_send")
    get(f"{PREFIX}/notices/{{notice_id:[0-9]{{1,10}}}}", notice_page, name="console.notice")
    get(f"{PREFIX}/lists/new", list_new, name="console.list_new")
    post(f"{PREFIX}/lists/new", list_upload, name="console.list_upload")
    get(f"{PREFIX}/broadcasts", broadcasts_list, name="console.broadcasts")
    get(f"{PREFIX}/broadcasts/new", broadcast_new, name="console.broadcast_new")
    post(f"{PREFIX}/broadcasts/new", broadcast_new, name="console.broadcast_create")
    get(f"{PREFIX}/broadcasts/{{broadcast_id:[0-9]{{1,10}}}}", broadcast_page,
        name="console.broadcast")
    get(f"{PREFIX}/broadcasts/{{broadcast_id:[0-9]{{1,10}}}}/progress", broadcast_progress,
        name="console.broadcast_progress")
    post(f"{PREFIX}/broadcasts/{{broadcast_id:[0-9]{{1,10}}}}/{{decision:approve|reject|cancel}}",
         broadcast_decide, name="console.broadcast_decide")
    get(f"{PREFIX}/delivery", delivery_page, name="console.delivery")
    get(f"{PREFIX}/delivery.csv", delivery_csv, name="console.delivery_csv")
    get(f"{PREFIX}/team", team, name="console.team")
    post(f"{PREFIX}/team", team, name="console.team_change")
    get(f"{PREFIX}/keys", keys, name="console.keys")
    post(f"{PREFIX}/keys", keys, name="console.keys_change")
    get(f"{PREFIX}/audit", audit_page, name="console.audit")
