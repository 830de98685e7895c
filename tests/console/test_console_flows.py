"""The staff console in a real browser: sign in from the bot's link, compose and preview a
notice, send it and watch it reach "sent", upload a list with a bad row, ask for approval
and approve as a second supervisor, download the delivery CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import timedelta

from console_harness import ADMIN, CITIZEN, OPERATOR, SECOND, SUPERVISOR, Console, shot
from playwright.async_api import expect

from debtbot.services import audit


async def _wait_for_text(page, text: str, *, url: str, tries: int = 40) -> None:
    for _ in range(tries):
        if text in await page.content():
            return
        await asyncio.sleep(0.25)
        await page.goto(url)
    raise AssertionError(f"{text!r} never appeared on {url}")


async def test_sign_in_compose_preview_send_and_follow_a_notice(console: Console) -> None:
    page = await console.signed_in(OPERATOR)
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await shot(page, "01-dashboard")
    [signed_in] = await audit.list_entries(console.deps, action="console.sign_in")
    assert signed_in.actor == f"staff:{OPERATOR}"

    await page.get_by_role("link", name="Notices", exact=True).click()
    await page.get_by_role("link", name="A notice to one person").first.click()
    await page.get_by_label("Template").select_option("pay")
    await page.get_by_label("Find them by").select_option("reference")
    await page.get_by_label("Number or reference").fill("OCF-1")
    await page.get_by_role("button", name="Preview").click()
    # The person's real data, in their chat's language, as plain text (no &#x27;).
    preview = page.locator(".preview[lang=en] .message")
    await expect(preview).to_have_text(re.compile(r"^Dear Maria O'Brien, notice OCF-1 \(€\d+\.\d\d\) is due by"))
    await expect(page.get_by_role("status")).to_contain_text("1")
    await shot(page, "02-notice-preview")

    await page.get_by_role("button", name="Send the notice").click()
    await expect(page.get_by_role("heading", name=re.compile(r"Notice #\d+"))).to_be_visible()
    notice_url = page.url
    await _wait_for_text(page, "state-sent\">sent", url=notice_url)
    [message] = await console.botapi.wait_for_messages(CITIZEN)
    assert message.text.startswith("Dear Maria O'Brien, notice OCF-1")
    await shot(page, "03-notice-delivery")

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download as CSV").click()
    download = await download_info.value
    content = (await download.path()).read_text(encoding="utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(content)))
    assert (row["chat_id"], row["kind"], row["state"]) == (str(CITIZEN), "notice", "sent")
    await page.goto(f"{console.url}/console")
    await expect(page.locator("svg.chart rect")).not_to_have_count(0)
    await shot(page, "13-dashboard-after-a-send")


async def test_a_person_without_a_chat_is_said_so_before_anything_is_queued(console: Console) -> None:
    page = await console.signed_in(OPERATOR, javascript=False)
    await page.goto(f"{console.url}/console/notices/new")
    await page.get_by_label("Template").select_option("pay")
    await page.get_by_label("Find them by").select_option("id_card")
    await page.get_by_label("Number or reference").fill("7654321")
    await page.get_by_label("Values, one per line: name=value").fill(
        "reference=X-1\namount=10\ndeadline=2026-12-31")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#no-chat")).to_contain_text("never verified themselves")
    await expect(page.get_by_role("button", name="Send the notice")).to_have_count(0)


async def test_a_list_with_a_bad_row_then_approved_by_a_second_supervisor(
    console: Console, tmp_path
) -> None:
    first = await console.signed_in(SUPERVISOR)
    await first.goto(f"{console.url}/console/lists/new")
    bad = tmp_path / "bad.csv"
    # Semicolons and Windows-1253, as older Greek Excel writes them; line 3's amount is bad.
    bad.write_bytes("reference;amount;deadline\nOCF-1;12,50;2026-12-31\nOCF-2;δώδεκα;2026-12-31\n"
                    .encode("cp1253"))
    await first.get_by_label("Template").select_option("pay")
    await first.get_by_label("CSV file").set_input_files(str(bad))
    await first.get_by_role("button", name="Check the list").click()
    problems = first.locator("table.problems tbody tr")
    await expect(problems).to_have_count(1)
    await expect(problems.first).to_contain_text("3")
    await expect(problems.first).to_contain_text("amount")
    await shot(first, "04-list-check-error")

    good = tmp_path / "good.csv"
    good.write_text("\ufeffreference,amount,deadline\nOCF-1,12.50,2026-12-31\nOCF-2,20,2026-12-31\n",
                    encoding="utf-8")
    await first.get_by_label("Template").select_option("pay")
    await first.get_by_label("CSV file").set_input_files(str(good))
    await first.get_by_role("button", name="Check and ask a second supervisor to approve").click()
    await expect(first.get_by_role("heading", name=re.compile(r"Notice list #\d+"))).to_be_visible()
    list_url = first.url
    # Approving one's own list is refused, and nothing changes.
    await first.get_by_role("button", name="Approve: send it").click()
    await expect(first.get_by_role("alert")).to_contain_text("second supervisor")
    await first.goto(list_url)
    await expect(first.locator("#status")).to_have_attribute("data-status", "awaiting_approval")

    # The second supervisor is told in Telegram, and approves in a browser of their own.
    [told] = await console.botapi.wait_for_messages(SECOND)
    assert list_url in told.text
    second = await console.signed_in(SECOND)
    await second.goto(list_url)
    await expect(second.locator("#reach")).to_contain_text("2")
    await shot(second, "05-list-approval")
    await second.get_by_role("button", name="Approve: send it").click()
    await expect(second.locator("#status")).not_to_have_attribute("data-status", "awaiting_approval")
    await _wait_for_text(second, "data-key=\"sent\">2<", url=list_url)
    await shot(second, "06-list-sent")
    [entry] = await audit.list_entries(console.deps, action="notice_csv.approve")
    assert entry.actor == f"staff:{SECOND}" and entry.details["created_by"] == f"staff:{SUPERVISOR}"


async def test_a_broadcast_shows_the_approver_its_texts_reach_and_schedule(console: Console) -> None:
    first = await console.signed_in(SUPERVISOR)
    await first.goto(f"{console.url}/console/broadcasts/new")
    await first.get_by_label("Template").select_option("pay")
    await first.get_by_label("Values for everyone, one per line: name=value").fill(
        "reference=ALL\namount=10\ndeadline=2026-12-31")
    await first.get_by_label("Send at (Nicosia time; empty: as soon as approved)").fill("2025-01-01T09:00")
    await first.get_by_role("button", name="Preview and count").click()
    await expect(first.get_by_role("alert")).to_contain_text("in the past")
    await first.get_by_label("Send at (Nicosia time; empty: as soon as approved)").fill("")
    await first.get_by_role("button", name="Preview and count").click()
    await expect(first.locator("#reach")).to_have_text("2")
    await first.get_by_role("button", name="Ask a second supervisor to approve").click()
    url = first.url
    second = await console.signed_in(SECOND, locale="el-GR")
    await second.goto(url)
    await expect(second.locator(".preview")).to_have_count(3)
    await shot(second, "07-broadcast-approval-el")
    await second.get_by_label(re.compile("Λόγος|Reason")).fill("Wrong deadline")
    await second.get_by_role("button", name=re.compile("Απόρριψη|Reject")).click()
    await expect(second.locator("#status")).to_have_attribute("data-status", "rejected")
    await expect(second.locator("#status")).to_have_text("απορρίφθηκε")


async def test_admin_pages_and_dashboard_screenshots(console: Console) -> None:
    page = await console.signed_in(ADMIN)
    for name, path in (("08-team", "/console/team"), ("09-keys", "/console/keys"),
                       ("10-audit", "/console/audit"), ("11-templates", "/console/templates/pay"),
                       ("12-delivery", "/console/delivery")):
        await page.goto(console.url + path)
        assert (await page.title()), path
        await shot(page, name)


async def test_a_scheduled_broadcast_is_approved_then_cancelled_before_it_goes(console: Console) -> None:
    first = await console.signed_in(SUPERVISOR, javascript=False)
    await first.goto(f"{console.url}/console/broadcasts/new")
    await first.get_by_label("Template").select_option("pay")
    await first.get_by_label("Values for everyone, one per line: name=value").fill(
        "reference=R\namount=1\ndeadline=2026-12-31")
    later = (console.clock.now + timedelta(days=1)).astimezone(console.deps.settings.tz)
    await first.get_by_label("Send at (Nicosia time; empty: as soon as approved)").fill(
        later.strftime("%Y-%m-%dT%H:%M"))
    await first.get_by_role("button", name="Preview and count").click()
    await first.get_by_role("button", name="Ask a second supervisor to approve").click()
    url = first.url
    second = await console.signed_in(SECOND)
    await second.goto(url)
    await expect(second.get_by_text(later.strftime("%Y-%m-%d %H:%M"))).to_be_visible()
    await second.get_by_role("button", name="Approve: send it").click()
    await expect(second.locator("#status")).to_have_attribute("data-status", "approved")
    await expect(second.locator("#progress")).to_have_attribute("data-live", "yes")
    await second.get_by_role("button", name="Cancel: send nothing more").click()
    await expect(second.locator("#status")).to_have_attribute("data-status", "cancelled")
    await shot(second, "14-broadcast-cancelled")
    rows = await delivery_rows(console)
    assert rows == []


async def delivery_rows(console: Console) -> list:
    from sqlalchemy import select

    from debtbot.store.models import OutboxMessage

    async with console.deps.sessions() as session:
        return list(await session.scalars(
            select(OutboxMessage).where(OutboxMessage.broadcast_id.is_not(None))))


async def test_a_link_from_another_site_asks_to_open_the_page_again(console: Console) -> None:
    """SameSite=Strict: a link followed from elsewhere (Telegram) comes without the cookie;
    the console's own link to the same page carries it."""
    page = await console.signed_in(SECOND)
    elsewhere = console.url.replace("127.0.0.1", "localhost")  # another site
    await page.goto(f"{elsewhere}/console/static/console.css")
    await page.set_content(f'<a href="{console.url}/console/delivery">the link</a>')
    await page.get_by_role("link", name="the link").click()
    await expect(page.get_by_role("heading", name="Sign in to the staff console")).to_be_visible()
    await page.get_by_role("link", name="open this page again").click()
    await expect(page.get_by_role("heading", name="Delivery")).to_be_visible()


async def test_an_admin_adds_staff_and_makes_and_revokes_a_key_shown_once(console: Console) -> None:
    page = await console.signed_in(ADMIN, javascript=False)
    await page.goto(f"{console.url}/console/team")
    await page.get_by_label("Telegram id").fill("7050")
    await page.get_by_label("Name", exact=True).fill("Petros Operator")
    await page.get_by_label("Role").select_option("operator")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("cell", name="Petros Operator", exact=True)).to_be_visible()

    await page.goto(f"{console.url}/console/keys")
    await page.get_by_label("Name (who uses it)").fill("registry")
    await page.get_by_label("ingest").check()
    await page.get_by_label("read").check()
    await page.get_by_role("button", name="Create the key").click()
    secret = await page.get_by_label(re.compile("^Key")).input_value()
    assert secret.startswith("dbt_")
    await expect(page.get_by_role("cell", name="ingest, read", exact=True)).to_be_visible()
    await page.goto(f"{console.url}/console/keys")
    assert secret not in await page.content()  # shown once
    await page.get_by_role("button", name="Revoke registry").click()
    await expect(page.get_by_role("button", name="Revoke registry")).to_have_count(0)

    await page.goto(f"{console.url}/console/audit?actor=staff:{ADMIN}&action=api_token.")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("api_token.revoke")
    entries = await audit.list_entries(console.deps, action="staff.add", actor=f"staff:{ADMIN}")
    assert [e.subject for e in entries] == ["staff:7050"]
