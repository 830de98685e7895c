"""The console by keyboard alone, a label on every field, and WCAG 2.1 AA text contrast,
checked in the browser on the main pages."""

from __future__ import annotations

from console_harness import ADMIN, SUPERVISOR, Console
from playwright.async_api import expect

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML.slice(0, 120))"""

# Text whose contrast with the background behind it is under 4.5:1 (3:1 for large text).
LOW_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || style.display === 'none' || !e.getClientRects().length) continue;
    if (e.closest('svg')) continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${e.tagName} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

PAGES = ["/console", "/console/templates", "/console/templates/new", "/console/templates/pay",
         "/console/notices", "/console/notices/new", "/console/lists/new", "/console/broadcasts",
         "/console/broadcasts/new", "/console/delivery", "/console/team", "/console/keys",
         "/console/audit"]


async def test_every_field_has_a_label_and_text_has_aa_contrast(console: Console) -> None:
    page = await console.signed_in(ADMIN)
    for path in PAGES:
        for language in ("en", "el"):
            await page.goto(console.url + path)
            assert await page.evaluate(UNLABELLED) == [], path
            assert await page.evaluate(LOW_CONTRAST) == [], (path, language)
            await page.get_by_role("button", name="Ελληνικά" if language == "en" else "English").click()


async def test_the_console_works_by_keyboard_alone(console: Console) -> None:
    page = await console.new_page()
    await page.goto(await console.link_from_bot(SUPERVISOR))
    await page.keyboard.press("Tab")  # the skip link comes first
    await expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # To the templates page and into the editor, with Tab and Enter only.
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent.trim()") == "Templates":
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Templates")).to_be_visible()
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent.trim()") == "pay":
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Template pay version 1")).to_be_visible()
    await page.keyboard.press("Tab")
    focused = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"  # focus is visible
