"""The console in a real browser: Debian's headless Chromium driven by Playwright.

Every test saves screenshots of the pages it visits under test-artifacts/console/ (named by the
test and the step), so a person can look at them after a run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM = os.environ.get("ZHIBU_CHROMIUM", "/usr/bin/chromium")
ADVICE = "run scripts/browser-deps.sh (make test does) or: sudo apt-get install chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: {ADVICE}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


class Shots:
    """Screenshots of one test's pages: test-artifacts/console/<test>-<n>-<step>.png."""

    def __init__(self, name: str) -> None:
        self.prefix = re.sub(r"[^\w.-]+", "_", name)
        self.count = 0
        SHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, step: str) -> Path:
        self.count += 1
        path = SHOTS / f"{self.prefix}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


def open_page(browser: Any, width: int = 1280) -> Any:
    """A fresh browser context (its own cookies) at a desktop or phone width."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    """A page at 1280 px."""
    page = open_page(browser, 1280)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page at 390 px (a phone)."""
    page = open_page(browser, 390)
    yield page
    page.context.close()
