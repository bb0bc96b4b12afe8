"""A page opened in headless Chromium (Debian's ``chromium``, driven by Playwright), with
every console message, page error and request it made recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

CHROMIUM = Path(os.environ.get("CHATSTORM_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = os.environ.get("CHATSTORM_SCREENSHOTS")
"""A folder: the report tests keep a screenshot of each chart there (make screenshots)."""


@dataclass
class Opened:
    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def chromium() -> Path:
    """The browser, or a failure that says how to get it (never a skip)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium; "
            "make test does it when it can) or set CHATSTORM_CHROMIUM to a Chromium binary"
        )
    return CHROMIUM


@contextmanager
def opened(path: Path) -> Iterator[Opened]:
    """``path`` (a local file) in a fresh headless browser, loaded."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium()), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            seen = Opened(page)
            page.on(
                "console",
                lambda m: seen.errors.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda error: seen.errors.append(str(error)))
            page.on("request", lambda request: seen.requests.append(request.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            yield seen
        finally:
            browser.close()


def screenshot(page: Page, selector: str, name: str) -> None:
    """With CHATSTORM_SCREENSHOTS set: the element as ``name``.png there."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.locator(selector).screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))
