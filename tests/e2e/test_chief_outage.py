"""A chief's outage pauses a candidate's terminal at once and resuming it lets them go on, with
the lost time added (issue "Consoles", done means; R-CLOCK-6) — two real Chromium browsers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from playwright.sync_api import expect

from examhall.config import Settings
from examhall.security import terminals
from tests.conftest import LiveServer
from tests.e2e.conftest import BrowserWindow, make_user, off_loop, sql
from tests.integration.examday_site import build_site


def test_a_room_outage_pauses_the_terminal_and_resuming_adds_the_time(
    open_browser: Callable[[], BrowserWindow],
    live_server: LiveServer,
    clean_db: str,
    test_settings: Settings,
    results_dir: Path,
) -> None:
    site = off_loop(lambda: build_site(clean_db, test_settings, candidates=1))
    seat = site.seats[0]
    make_user(clean_db, test_settings, "liguohua", ["chief"])

    terminal = open_browser()
    terminal.context.add_cookies(
        [{"name": terminals.TERMINAL_COOKIE, "value": seat.terminal_cookie, "url": live_server.url}]
    )
    page = terminal.page
    page.goto("/candidate/login")
    page.get_by_test_id("ticket-number").fill(seat.ticket)
    page.get_by_test_id("id-number").fill(seat.id_number)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("stem")).to_be_visible()
    expect(page.get_by_test_id("paused")).to_be_hidden()
    end_before = sql(clean_db, "SELECT ends_at FROM attempts")[0]["ends_at"]

    chief = open_browser()
    chief.login_staff("liguohua")
    console = chief.page
    console.goto(f"/console/sittings/{site.sitting_id}/chief")
    console.get_by_test_id("outage-scope").select_option("room")
    console.get_by_test_id("outage-cause").select_option("power")
    console.once("dialog", lambda dialog: dialog.accept())
    console.get_by_test_id("declare-outage").click()
    expect(console.get_by_test_id("outages")).to_be_visible()
    outage_id = sql(clean_db, "SELECT id FROM outages")[0]["id"]

    # The terminal shows the paused overlay at once (pushed over its websocket).
    expect(page.get_by_test_id("paused")).to_be_visible(timeout=5_000)
    page.screenshot(path=str(results_dir / "terminal-paused.png"))
    page.wait_for_timeout(1500)

    console.get_by_test_id(f"end-outage-{outage_id}").click()
    expect(page.get_by_test_id("paused")).to_be_hidden(timeout=5_000)
    end_after = sql(clean_db, "SELECT ends_at FROM attempts")[0]["ends_at"]
    lasted = sql(clean_db, "SELECT ended_at - started_at AS d FROM outages")[0]["d"]
    assert isinstance(end_before, datetime) and end_after - end_before == lasted
    assert lasted.total_seconds() >= 1.5
