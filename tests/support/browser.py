"""Driving the pages in real Chromium."""

from __future__ import annotations

from playwright.sync_api import Page


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit-login")


def sign(page: Page, pad: str) -> None:
    """A signature drawn on the canvas ``pad`` (a CSS selector), as a finger would."""
    page.locator(pad).scroll_into_view_if_needed()
    box = page.locator(pad).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 20, box["y"] + 80)
    page.mouse.down()
    for x in range(30, 300, 15):
        page.mouse.move(box["x"] + x, box["y"] + 60 + (x % 40))
    page.mouse.up()


def printed_chrome(page: Page) -> list[str]:
    """What of the page's UI would print (visible in print media): buttons, links styled as buttons,
    forms, the header and nav, the step bars, a node's sync banner. Empty for a clean printout."""
    page.emulate_media(media="print")
    try:
        found = []
        for selector in ("button", ".button", "form", "header", "nav", ".banner", ".steps", "details", "textarea"):
            found += [selector for el in page.locator(selector).all() if el.is_visible()]
        return found
    finally:
        page.emulate_media(media="screen")
