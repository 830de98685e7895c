"""Bad input in the console: each gets a clear page, and nothing changes."""

from __future__ import annotations

import re

from console_harness import OPERATOR, SECOND, SUPERVISOR, Console, shot
from playwright.async_api import expect
from sqlalchemy import func, select

from debtbot.services import audit
from debtbot.services.console_auth import COOKIE_NAME
from debtbot.store.models import Broadcast, NoticeTemplateRow, OutboxMessage


async def _count(console: Console, model) -> int:
    async with console.deps.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_expired_link_signs_nobody_in(console: Console) -> None:
    link = await console.link_from_bot(OPERATOR)
    console.clock.advance(minutes=10, seconds=1)
    page = await console.new_page()
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("expired")
    await shot(page, "20-expired-link")
    assert await console.deps.sessions().__aenter__() is not None
    assert [e.details["reason"] for e in await audit.list_entries(
        console.deps, action="console.sign_in_refused")] == ["expired"]


async def test_a_link_works_once(console: Console) -> None:
    link = await console.link_from_bot(OPERATOR)
    first = await console.new_page()
    await first.goto(link)
    await first.get_by_role("button", name="Sign in").click()
    await expect(first.get_by_role("heading", name="Dashboard")).to_be_visible()
    again = await console.new_page()
    await again.goto(link)
    await again.get_by_role("button", name="Sign in").click()
    await expect(again.get_by_role("alert")).to_contain_text("already used")
    await again.goto(f"{console.url}/console/notices")
    await expect(again.get_by_role("heading", name="Sign in to the staff console")).to_be_visible()


async def test_a_forged_or_foreign_cookie_is_not_a_session(console: Console) -> None:
    page = await console.signed_in(OPERATOR)
    [cookie] = [c for c in await page.context.cookies() if c["name"] == COOKIE_NAME]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    secret, _, mac = cookie["value"].partition(".")
    forged = await console.new_page()
    for value in (secret[:-1] + ("A" if secret[-1] != "A" else "B") + "." + mac,
                  "x" * 43 + "." + mac, "not-a-cookie"):
        await forged.context.add_cookies([{**cookie, "value": value}])
        response = await forged.goto(f"{console.url}/console/notices")
        assert response.status == 401
        await expect(forged.get_by_role("heading", name="Sign in to the staff console")).to_be_visible()
    # Signing out ends the session itself: the same cookie no longer works.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("signed out")
    replay = await console.new_page()
    await replay.context.add_cookies([cookie])
    response = await replay.goto(f"{console.url}/console")
    assert response.status == 401


async def test_a_session_ends_after_8_hours_idle(console: Console) -> None:
    page = await console.signed_in(OPERATOR)
    console.clock.advance(hours=7, minutes=59)
    assert (await page.goto(f"{console.url}/console")).status == 200
    console.clock.advance(hours=8)
    assert (await page.goto(f"{console.url}/console")).status == 401


async def test_a_form_without_its_csrf_token_changes_nothing(console: Console) -> None:
    page = await console.signed_in(SUPERVISOR, javascript=False)
    await page.goto(f"{console.url}/console/templates/new")
    await page.locator("main form input[name=csrf]").evaluate("e => e.remove()")
    await page.get_by_label("Name").fill("sneaky")
    await page.get_by_label("Ελληνικά (required)").fill("Κείμενο")
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_role("heading", name="The form was not accepted")).to_be_visible()
    await shot(page, "21-csrf-refused")
    async with console.deps.sessions() as session:
        names = list(await session.scalars(select(NoticeTemplateRow.name)))
    assert names == ["pay"]
    [refused] = await audit.list_entries(console.deps, action="console.csrf_refused")
    assert refused.actor == f"staff:{SUPERVISOR}"


async def test_a_20_mb_csv_gets_a_clear_page(console: Console, tmp_path) -> None:
    page = await console.signed_in(SUPERVISOR, javascript=False)
    await page.goto(f"{console.url}/console/lists/new")
    big = tmp_path / "big.csv"
    big.write_bytes(b"reference,amount\n" + b"OCF-1,1.00\n" * (20 * 1024 * 1024 // 11))
    await page.get_by_label("Template").select_option("pay")
    await page.get_by_label("CSV file").set_input_files(str(big))
    await page.get_by_role("button", name="Check and ask a second supervisor to approve").click()
    await expect(page.get_by_role("alert")).to_contain_text("larger than 4 MB")
    assert await _count(console, Broadcast) == 0


async def test_html_and_braces_in_a_template_are_shown_as_text(console: Console) -> None:
    page = await console.signed_in(SUPERVISOR)
    await page.goto(f"{console.url}/console/templates/new")
    await page.get_by_label("Name").fill("tricky")
    await page.get_by_label("Ελληνικά (required)").fill(
        "<script>alert(1)</script> {{ 7*7 }} <b>{name}</b>")
    await page.get_by_role("textbox", name="English").fill("<img src=x onerror=alert(1)> {{ 7*7 }} {name}")
    # The live preview (script) and the saved page both show the text as written.
    preview = page.locator("#live-preview .preview[lang=el] .message")
    await expect(preview).to_have_text("<script>alert(1)</script> { 7*7 } <b>Maria Ioannou</b>")
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.locator(".preview[lang=en] .message")).to_have_text(
        "<img src=x onerror=alert(1)> { 7*7 } Maria Ioannou")
    assert await page.locator("main script, main img").count() == 0
    await shot(page, "22-template-escaped")


async def test_placeholders_must_agree_across_languages(console: Console) -> None:
    page = await console.signed_in(SUPERVISOR, javascript=False)
    await page.goto(f"{console.url}/console/templates/pay")
    await page.get_by_role("textbox", name="English").fill("Dear {name}, pay {amount}.")
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_role("alert")).to_contain_text("every language needs the same")
    async with console.deps.sessions() as session:
        assert await session.scalar(select(NoticeTemplateRow.version)) == 1


async def test_an_operator_opening_a_supervisor_page_gets_a_403_and_it_is_audited(
    console: Console,
) -> None:
    page = await console.signed_in(OPERATOR)
    for path in ("/console/broadcasts/new", "/console/team"):
        response = await page.goto(console.url + path)
        assert response.status == 403
        await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    await shot(page, "23-forbidden")
    response = await page.goto(f"{console.url}/console/no-such-page")
    assert response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    entries = await audit.list_entries(console.deps, action="console.forbidden")
    assert {(e.actor, e.subject) for e in entries} == {
        (f"staff:{OPERATOR}", "/console/broadcasts/new"), (f"staff:{OPERATOR}", "/console/team")}


async def test_approving_or_rejecting_ones_own_broadcast_is_refused(console: Console) -> None:
    page = await console.signed_in(SUPERVISOR, javascript=False)
    await page.goto(f"{console.url}/console/broadcasts/new")
    await page.get_by_label("Template").select_option("pay")
    await page.get_by_label("Values for everyone, one per line: name=value").fill(
        "reference=R\namount=1\ndeadline=2026-12-31")
    await page.get_by_role("button", name="Preview and count").click()
    await page.get_by_role("button", name="Ask a second supervisor to approve").click()
    url = page.url
    await page.get_by_role("button", name="Approve: send it").click()
    await expect(page.get_by_role("alert")).to_contain_text("second supervisor")
    await page.goto(url)
    await page.get_by_label("Reason for rejecting").fill("changed my mind")
    await page.get_by_role("button", name="Reject").click()
    await expect(page.get_by_role("alert")).to_contain_text("second supervisor")
    await page.goto(url)
    await expect(page.locator("#status")).to_have_attribute("data-status", "awaiting_approval")
    async with console.deps.sessions() as session:
        sent = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.broadcast_id.is_not(None)))
    assert sent == 0
    # The other supervisor was told, once.
    [told] = await console.botapi.wait_for_messages(SECOND)
    assert re.search(r"Broadcast #\d+ waits", told.text)
