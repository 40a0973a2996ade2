"""The invigilator's room console in a real Chromium (issue "Live invigilator and chief-examiner
consoles", done means): the invigilator watches the seat map while a candidate answers at their
terminal in another browser, and the seat's answer count changes live (htmx ws extension,
out-of-band swap of one tile). Check-in from the console's scanner field changes a tile too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from examhall.config import Settings
from examhall.security import terminals
from tests.conftest import LiveServer
from tests.e2e.conftest import BrowserWindow, make_user, off_loop
from tests.integration.examday_site import build_site


def test_the_console_shows_a_candidates_answer_count_change_live(
    open_browser: Callable[[], BrowserWindow],
    live_server: LiveServer,
    clean_db: str,
    test_settings: Settings,
    results_dir: Path,
) -> None:
    site = off_loop(lambda: build_site(clean_db, test_settings, candidates=3, check_in=False))
    seat = site.seats[0]
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])

    # The invigilator's laptop: the console of the room, live.
    desk = open_browser()
    desk.login_staff("zhangmin")
    console = desk.page
    console.goto(f"/console/sittings/{site.sitting_id}/rooms/{site.room_id}")
    expect(console.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    tile = console.locator("#seat-1")
    expect(tile).to_have_attribute("data-status", "expected")
    expect(console.get_by_test_id("count-not-arrived")).to_have_text("3")

    # Check-in with the scanner field (the scanner types the ticket number and Enter).
    field = console.get_by_test_id("checkin-input")
    expect(field).to_be_focused()
    field.fill(seat.ticket)
    field.press("Enter")
    expect(console.get_by_test_id("console-message")).to_contain_text(seat.name)
    expect(tile).to_have_attribute("data-status", "checked_in")
    expect(console.get_by_test_id("count-not-arrived")).to_have_text("2")
    expect(field).to_have_value("")
    expect(field).to_be_focused()

    # The candidate's terminal, in another browser: enrolled seat 1, login, start.
    terminal = open_browser()
    terminal.context.add_cookies(
        [{"name": terminals.TERMINAL_COOKIE, "value": seat.terminal_cookie, "url": live_server.url}]
    )
    page = terminal.page
    page.goto("/candidate/login")
    page.get_by_test_id("ticket-number").fill(seat.ticket)
    page.get_by_test_id("id-number").fill(seat.id_number)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("candidate-name")).to_contain_text(seat.name)
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("stem")).to_be_visible()

    expect(tile).to_have_attribute("data-status", re.compile("working|final_minutes"))
    expect(tile.get_by_test_id("answered")).to_have_text(re.compile(r"^0 / \d+$"))
    expect(tile.get_by_test_id("connection")).to_have_attribute("data-online", "true")

    for answered in (1, 2, 3):
        page.locator("[data-testid^='option-']").first.click()
        expect(page.get_by_test_id("pending")).to_have_attribute("data-count", "0")
        # The invigilator's tile follows within a fraction of a second (the default timeout is 10 s).
        expect(tile.get_by_test_id("answered")).to_have_text(re.compile(rf"^{answered} / \d+$"), timeout=2_000)
        page.get_by_test_id("next").click()
        expect(page.get_by_test_id("question-number")).to_contain_text(str(answered + 1))

    # Only seat 1 changed; the other candidates are as they were.
    expect(console.locator("#seat-2")).to_have_attribute("data-status", "expected")
    expect(console.get_by_test_id("count-working")).to_have_text("1")
    console.screenshot(path=str(results_dir / "console-room.png"), full_page=True)

    # The terminal goes away: the tile shows it offline (text and dot, not colour alone).
    terminal.context.close()
    expect(tile.get_by_test_id("connection")).to_have_attribute("data-online", "false")
    expect(tile.get_by_test_id("connection")).to_contain_text(re.compile("离线|Offline"))
