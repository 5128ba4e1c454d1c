"""Driving the pages in real Chromium."""

from __future__ import annotations

from playwright.sync_api import Page


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit-login")
