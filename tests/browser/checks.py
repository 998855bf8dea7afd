"""Checks every page of a journey passes: a title, labelled fields, no serious axe violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

_axe = Axe()

UNLABELLED_FIELDS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""


def check_page(page: Any) -> None:
    # A click that navigates returns before the next page is parsed: check that page, loaded.
    page.wait_for_load_state("load")
    assert page.title().strip(), f"{page.url} has no <title>"
    unlabelled = page.evaluate(UNLABELLED_FIELDS)
    assert not unlabelled, f"{page.url}: fields without a label: {unlabelled}"
    results = _axe.run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{page.url}: accessibility violations: {serious}"


def screenshot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
