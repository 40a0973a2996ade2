"""The candidate's exam day in a real Chromium (issue "Exam day", done means): the PC is enrolled
with a one-time code (R-SEC-2), the candidate logs in at that seat, answers, loses the network
for a while (answers kept in localStorage and resent), reloads, and submits with a receipt
(R-SCORE-7) — and every acknowledged answer is in the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect
from sqlalchemy import select

from examhall.config import Settings
from examhall.security import terminals
from examhall.security.audit import Actor
from examhall.sittings import examday
from examhall.sittings.models import Attempt
from tests import conftest as shared
from tests.conftest import LiveServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, off_loop, sql
from tests.e2e.netcut import NetCut
from tests.integration.examday_site import ExamSite, build_site


@pytest.fixture
def netcut(live_server: LiveServer) -> Iterator[NetCut]:
    relay = NetCut(live_server.port)
    yield relay
    relay.stop()


@pytest.fixture
def terminal_browser(
    playwright_driver: Playwright, netcut: NetCut, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BrowserContext, Page, list[str]]]:
    """A Chromium whose every connection to the server goes through the pullable cable."""
    context = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=tmp_path_factory.mktemp("chromium-terminal"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=netcut.url,
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"JavaScript: {exc}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 500 else None)
    yield context, page, errors
    context.close()


def new_code(url: str, settings: Settings, room_id: int, seat_no: int | None) -> str:
    async def work(db: object) -> str:
        async with db.session() as session:  # type: ignore[attr-defined]
            return await terminals.issue_code(session, room_id, seat_no, Actor("test-admin"), datetime.now(UTC))

    return off_loop(shared.run_db, url, work)


def keys_of(url: str, settings: Settings, site: ExamSite) -> dict[int, str]:
    """The candidate's keys as the server holds them (never sent to the terminal)."""

    async def work(db: object) -> dict[int, str]:
        async with db.session() as session:  # type: ignore[attr-defined]
            paper_id = await session.scalar(
                select(Attempt.paper_id).where(Attempt.candidate_id == site.seats[0].candidate_id)
            )
            paper = await examday.candidate_paper(session, settings, paper_id)
            return {item.position: item.key for item in paper.items}

    return off_loop(shared.run_db, url, work)


def stored_answers(url: str) -> dict[int, str]:
    return {r["position"]: r["response"] for r in sql(url, "SELECT position, response FROM answers")}


def pending_in_storage(page: Page) -> dict[str, object]:
    raw = page.evaluate(
        "() => { for (const k of Object.keys(localStorage)) {"
        " if (k.endsWith('.pending')) return localStorage[k]; } return '{}'; }"
    )
    return dict(json.loads(raw))


def test_candidate_answers_through_a_network_outage_reloads_and_submits(
    terminal_browser: tuple[BrowserContext, Page, list[str]],
    netcut: NetCut,
    clean_db: str,
    test_settings: Settings,
    results_dir: Path,
) -> None:
    context, page, errors = terminal_browser
    # Hand-in is allowed at once: a 10-minute sitting that started a minute ago (R-CLOCK-3).
    site = off_loop(lambda: build_site(clean_db, test_settings, duration_minutes=10, candidates=2))
    seat = site.seats[0]

    # R-SEC-2: the PC becomes seat 1 with a one-time code typed on the enrollment page.
    code = new_code(clean_db, test_settings, site.room_id, 1)
    page.goto("/terminal")
    page.get_by_test_id("enroll-code").fill(code.lower())
    page.get_by_test_id("enroll-submit").click()
    expect(page.get_by_test_id("terminal-label")).to_contain_text("1")
    page.get_by_test_id("to-login").click()

    # Login at the seat with ticket + ID number.
    page.get_by_test_id("ticket-number").fill(seat.ticket)
    page.get_by_test_id("id-number").fill(seat.id_number)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("candidate-name")).to_contain_text(seat.name)

    # The paper opens from S (the sitting started a minute ago).
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("stem")).to_be_visible()
    expect(page.get_by_test_id("clock")).to_contain_text(":")
    # A 10-minute sitting is inside its last 15 minutes from the start (R-CLOCK-4).
    expect(page.get_by_test_id("phase")).to_have_attribute("data-phase", re.compile("running|final_minutes"))

    keys = keys_of(clean_db, test_settings, site)

    def answer(position: int) -> None:
        page.get_by_test_id(f"nav-{position}").click()
        expect(page.get_by_test_id("question-number")).to_contain_text(str(position))
        for letter in keys[position]:
            page.get_by_test_id(f"option-{letter}").click()

    # Online: three answers, each acknowledged.
    for position in (1, 2, 3):
        answer(position)
    expect(page.get_by_test_id("pending")).to_have_attribute("data-count", "0")
    assert set(stored_answers(clean_db)) == {1, 2, 3}

    # The cable is pulled: answering goes on, answers wait in localStorage.
    netcut.cut()
    for position in (4, 5, 6):
        answer(position)
    expect(page.get_by_test_id("offline")).to_be_visible()
    expect(page.get_by_test_id("pending")).to_have_attribute("data-count", "3")
    assert set(pending_in_storage(page)) == {"4", "5", "6"}
    assert set(stored_answers(clean_db)) == {1, 2, 3}
    page.screenshot(path=str(results_dir / "terminal-offline.png"))

    # Back online: the pending answers are resent and acknowledged.
    netcut.restore()
    expect(page.get_by_test_id("pending")).to_have_attribute("data-count", "0", timeout=20_000)
    expect(page.get_by_test_id("offline")).to_be_hidden()
    assert set(stored_answers(clean_db)) == {1, 2, 3, 4, 5, 6}

    # Offline again, one more answer, then the page is reloaded once the network is back:
    # the answer kept in localStorage reaches the server after the reload.
    netcut.cut()
    answer(7)
    expect(page.get_by_test_id("pending")).to_have_attribute("data-count", "1")
    netcut.restore()
    page.reload()
    expect(page.get_by_test_id("stem")).to_be_visible()
    expect(page.get_by_test_id("pending")).to_have_attribute("data-count", "0", timeout=20_000)
    assert set(stored_answers(clean_db)) == {1, 2, 3, 4, 5, 6, 7}
    # After the reload every acknowledged answer is shown as answered.
    for position in range(1, 8):
        expect(page.get_by_test_id(f"nav-{position}")).to_have_attribute("data-state", "answered")

    # Hand in: the confirmation lists unanswered questions; the receipt is shown, no score.
    page.get_by_test_id("submit").click()
    dialog = page.get_by_test_id("confirm-submit")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("8")
    page.get_by_test_id("confirm-yes").click()
    receipt = page.get_by_test_id("receipt-code")
    expect(receipt).to_be_visible()
    shown = receipt.inner_text().strip()
    row = sql(clean_db, "SELECT receipt_code, outcome, score FROM attempts WHERE candidate_id = $1", seat.candidate_id)[
        0
    ]
    assert row["receipt_code"] == shown and row["outcome"] == "submitted"
    assert row["score"] is not None
    expect(page.get_by_test_id("no-score")).to_be_visible()  # R-SCORE-4: stored, never shown
    page.screenshot(path=str(results_dir / "terminal-receipt.png"))
    assert stored_answers(clean_db) == {p: keys[p] for p in range(1, 8)}
    assert errors == []
    del context
