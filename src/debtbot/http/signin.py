"""Sign in with CY Login, the browser's side: the chat's login_url button opens
`/signin/cylogin` with Telegram's login data for the pressing user, which (once that data
holds up) sends the browser to the provider; the provider sends it back to
`/signin/cylogin/callback`. Each answers with a small page in the chat's language (services.signin does the work).
"""

from __future__ import annotations

import html

from aiohttp import web

from debtbot.http.base import DEPS_KEY
from debtbot.i18n import LANGUAGES, Translator, translator
from debtbot.services import signin
from debtbot.settings import Settings

PROVIDER_KEY = web.AppKey("oidc_provider", signin.Provider)
# Binds a trip to the provider to the browser that set out (services.signin.begin).
BROWSER_COOKIE = "debtbot_signin"
_MAX_PARAM = 512
_STATUS = {
    signin.Outcome.SIGNED_IN: 200,
    signin.Outcome.ALREADY_LINKED: 200,
    signin.Outcome.TOO_MANY_IDENTITIES: 200,
    signin.Outcome.EXPIRED: 400,
    signin.Outcome.FAILED: 400,
    signin.Outcome.UNAVAILABLE: 503,
    signin.Outcome.NOT_CONFIGURED: 404,
    signin.Outcome.WRONG_ACCOUNT: 403,
}


def _browser_language(request: web.Request) -> str:
    """The first of el, en, tr in the browser's Accept-Language; English otherwise."""
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return "en"


def _texts(t: Translator, outcome: signin.Outcome) -> tuple[str, str]:
    if outcome in (signin.Outcome.SIGNED_IN, signin.Outcome.ALREADY_LINKED):
        return (
            t.gettext("You are signed in"),
            t.gettext("This chat is linked to you now. You can go back to Telegram."),
        )
    if outcome is signin.Outcome.TOO_MANY_IDENTITIES:
        return (
            t.gettext("Nothing was linked"),
            t.gettext(
                "The chat already holds as many people and companies as it may. "
                "You can go back to Telegram."
            ),
        )
    if outcome is signin.Outcome.UNAVAILABLE:
        return (
            t.gettext("CY Login cannot be reached"),
            t.gettext(
                "CY Login cannot be reached at the moment, so nothing was linked. You can go "
                "back to Telegram and confirm who you are with your identity number and date "
                "of birth."
            ),
        )
    if outcome is signin.Outcome.EXPIRED:
        return (
            t.gettext("This link has expired"),
            t.gettext(
                "This sign-in link has expired or has already been used. You can go back to "
                "Telegram and send /start for a new one."
            ),
        )
    if outcome is signin.Outcome.WRONG_ACCOUNT:
        return (
            t.gettext("This link is for another Telegram account"),
            t.gettext(
                "This sign-in link only works from the Telegram account that asked for it, "
                "so nothing was linked. To sign in yourself, send /start to the bot from "
                "your own Telegram account."
            ),
        )
    if outcome is signin.Outcome.NOT_CONFIGURED:
        return (t.gettext("Sign-in is not available"),
                t.gettext("You can go back to Telegram."))
    return (
        t.gettext("Signing in did not succeed"),
        t.gettext(
            "Signing in with CY Login did not succeed, so nothing was linked. You can go back "
            "to Telegram and try again, or confirm who you are there with your identity "
            "number and date of birth."
        ),
    )


def _page(request: web.Request, finished: signin.Finished) -> web.Response:
    language = finished.language or _browser_language(request)
    t = translator(language)
    title, body = _texts(t, finished.outcome)
    link = ""
    if finished.bot_username:
        href = html.escape(f"https://t.me/{finished.bot_username}")
        label = html.escape(t.gettext("Back to Telegram"))
        link = f'<p><a href="{href}">{label}</a></p>'
    page = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>{link}</main>"
        "</body></html>"
    )
    return web.Response(
        text=page,
        status=_STATUS[finished.outcome],
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


def _param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is None or len(value) > _MAX_PARAM:
        return None
    return value


async def start(request: web.Request) -> web.StreamResponse:
    """The chat's button: on to the provider, or a page saying why not."""
    deps = request.app[DEPS_KEY]
    provider = request.app.get(PROVIDER_KEY)
    handle = _param(request, signin.SIGNIN_HANDLE_PARAM) or ""
    if provider is None:
        return _page(request, signin.Finished(signin.Outcome.NOT_CONFIGURED))
    # What Telegram appended for the user who pressed the login_url button. A key given
    # twice, or too long, makes the data unusable (the signature check then refuses it).
    telegram = {
        key: value for key, value in request.query.items()
        if key != signin.SIGNIN_HANDLE_PARAM and len(value) <= _MAX_PARAM
        and len(request.query.getall(key)) == 1
    }
    if len(telegram) > 16:
        telegram = {}
    outcome = await signin.begin(deps, provider, handle=handle, telegram=telegram)
    if isinstance(outcome, signin.Redirect):
        found = web.HTTPFound(outcome.url, headers={"Cache-Control": "no-store",
                                                    "Referrer-Policy": "no-referrer"})
        settings = deps.settings
        # Lax: sent on the provider's top-level redirect back to the callback, not on
        # requests other sites make.
        found.set_cookie(
            BROWSER_COOKIE, outcome.browser, path=signin.SIGNIN_PATH, httponly=True,
            samesite="Lax", secure=settings.public_url.startswith("https://"),
            max_age=settings.signin_ttl_minutes * 60,
        )
        raise found
    return _page(request, outcome)


async def callback(request: web.Request) -> web.StreamResponse:
    """The provider's redirect back, with a code (or an error) and the state."""
    deps = request.app[DEPS_KEY]
    provider = request.app.get(PROVIDER_KEY)
    if provider is None:
        return _page(request, signin.Finished(signin.Outcome.NOT_CONFIGURED))
    finished = await signin.complete(
        deps, provider,
        state=_param(request, "state") or "",
        code=_param(request, "code"),
        error=_param(request, "error"),
        browser=request.cookies.get(BROWSER_COOKIE),
    )
    response = _page(request, finished)
    response.del_cookie(BROWSER_COOKIE, path=signin.SIGNIN_PATH)
    return response


def install(app: web.Application, settings: Settings) -> None:
    if settings.oidc_enabled:
        app[PROVIDER_KEY] = signin.Provider(settings)
    app.router.add_get(signin.SIGNIN_PATH, start, name="signin_start")
    app.router.add_get(signin.CALLBACK_PATH, callback, name="signin_callback")
