"""End-to-end journeys in a real browser (Debian's Chromium) against the live server.

Each journey starts from empty tables and checks what a person sees, plus the state behind it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from examhall.config import Settings
from examhall.security.terminals import TERMINAL_COOKIE
from tests.e2e.conftest import BrowserWindow, make_user, off_loop, sql
from tests.integration.examday_site import build_site

pytestmark = [pytest.mark.e2e]

NOTICE = "第一考场09:30开考"


def test_staff_login_shows_the_role_home(
    browser: BrowserWindow, pg_url: str, test_settings: Settings, results_dir: Path
) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    page = browser.page

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()

    # A wrong password: the form comes back with the error and the user name kept.
    page.get_by_label("用户名").fill("wangjing")
    page.get_by_label("密码").fill("wrong-horse-9")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_test_id("error")).to_contain_text("用户名或密码错误")
    assert browser.url_path() == "/login"
    expect(page.get_by_label("用户名")).to_have_value("wangjing")
    expect(page.get_by_label("密码")).to_have_value("")
    expect(page.get_by_test_id("who")).to_have_count(0)

    # Keyboard only: the user name field has the focus on arrival, Tab moves to the
    # password, Enter submits.
    page.goto("/login")
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type("wangjing")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type("correct-horse-9")
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("who")).to_have_text("Wangjing")
    assert browser.url_path() == "/"
    expect(page.get_by_role("heading", name="欢迎，Wangjing")).to_be_visible()
    admin_card = page.locator(".role-card[data-role=admin]")
    expect(admin_card).to_be_visible()
    expect(admin_card.get_by_role("heading")).to_have_text("考务管理")
    expect(page.locator(".role-card")).to_have_count(1)
    expect(page.locator("#notices")).not_to_contain_text("正在连接")
    page.screenshot(path=results_dir / "home-admin.png", full_page=True)

    assert sql(pg_url, "SELECT count(*) AS n FROM web_sessions")[0]["n"] == 1


def test_language_switch(browser: BrowserWindow, pg_url: str, test_settings: Settings) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    browser.login_staff("wangjing")
    page = browser.page
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("heading", name="Welcome, Wangjing")).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-current", "true")
    assert browser.url_path() == "/"
    page.reload()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert sql(pg_url, "SELECT locale FROM users WHERE username = 'wangjing'") == [{"locale": "en"}]

    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert browser.url_path() == "/"


def test_staff_notice_reaches_another_browser_live(
    open_browser: Callable[[], BrowserWindow],
    clean_db: str,
    pg_url: str,
    test_settings: Settings,
    results_dir: Path,
) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    make_user(pg_url, test_settings, "zhangmin", ["invigilator"])
    admin, invigilator = open_browser(), open_browser()
    admin.login_staff("wangjing")
    invigilator.login_staff("zhangmin")

    # Both notice lists are connected: the websocket replaced the placeholder.
    for window in (admin, invigilator):
        expect(window.page.locator("#notices")).to_contain_text("暂无通知")
        expect(window.page.locator("#notices")).not_to_contain_text("正在连接")
    expect(invigilator.page.locator("#notice-form")).to_have_count(0)  # only chief and office post
    invigilator.page.evaluate("window.__notReloaded = true")
    box = admin.page.locator("#notice-text")

    # An empty notice: the browser refuses it (required field) and sends nothing.
    admin.page.get_by_role("button", name="发送").click()
    assert box.evaluate("el => el.validity.valueMissing") is True
    # Only blanks pass the browser's check; the server refuses them and stores nothing.
    box.fill("   ")
    with admin.page.expect_response(lambda r: r.url.endswith("/notices") and r.request.method == "POST") as sent:
        box.press("Enter")
    assert sent.value.status == 400
    assert sql(pg_url, "SELECT count(*) AS n FROM staff_notices")[0]["n"] == 0

    # The real notice, sent with Enter, shows on the other desk within seconds, without a reload
    # (5 s: once, on a loaded 2-core CI machine, 3 s were not enough).
    box.fill(NOTICE)
    box.press("Enter")
    seen = invigilator.page.locator("#notices li.notice")
    expect(seen).to_have_count(1, timeout=5_000)
    expect(seen.first).to_contain_text(NOTICE)
    expect(seen.first).to_contain_text("Wangjing")
    assert invigilator.page.evaluate("window.__notReloaded") is True
    expect(admin.page.locator("#notice-form [role=status]")).to_have_text("已发送。")
    expect(box).to_have_value("")
    expect(admin.page.locator("#notices li.notice")).to_have_count(1, timeout=3_000)
    expect(admin.page.locator("#notices li.notice").first).to_contain_text(NOTICE)

    # A second notice, sent by clicking 发送, lands on top. Had anything gone out for the
    # refused attempts, it would sit between the two (events arrive in order).
    box.fill("第二考场推迟十分钟")
    admin.page.get_by_role("button", name="发送").click()
    expect(seen).to_have_count(2, timeout=3_000)
    expect(seen.nth(0)).to_contain_text("第二考场推迟十分钟")
    expect(seen.nth(1)).to_contain_text(NOTICE)
    invigilator.page.screenshot(path=results_dir / "home-invigilator-notices.png", full_page=True)

    rows = sql(pg_url, "SELECT author_name, text FROM staff_notices ORDER BY id")
    assert rows == [
        {"author_name": "Wangjing", "text": NOTICE},
        {"author_name": "Wangjing", "text": "第二考场推迟十分钟"},
    ]


def test_first_live_notice_replaces_the_placeholder(
    browser: BrowserWindow, pg_url: str, test_settings: Settings
) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    browser.login_staff("wangjing")
    page = browser.page
    expect(page.locator("#notices")).to_contain_text("暂无通知")
    page.locator("#notice-text").fill(NOTICE)
    page.locator("#notice-text").press("Enter")
    expect(page.locator("#notices li.notice")).to_have_count(1, timeout=3_000)
    expect(page.locator("#notices li")).to_have_count(1, timeout=2_000)
    expect(page.locator("#notices")).not_to_contain_text("暂无通知", timeout=1_000)


def test_refused_notice_shows_the_reason(browser: BrowserWindow, pg_url: str, test_settings: Settings) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    browser.login_staff("wangjing")
    page = browser.page
    page.locator("#notice-text").fill("   ")
    page.locator("#notice-text").press("Enter")
    expect(page.locator("#notice-form [role=alert]")).to_contain_text("请先填写通知内容", timeout=2_000)
    assert sql(pg_url, "SELECT count(*) AS n FROM staff_notices")[0]["n"] == 0


def test_candidate_login_and_logout(browser: BrowserWindow, pg_url: str, test_settings: Settings) -> None:
    """Ticket + ID number at an enrolled seat terminal (R-SEC-2); logging out returns to the login."""
    seat = off_loop(lambda: build_site(pg_url, test_settings, candidates=1)).seats[0]
    page = browser.page
    page.goto("/candidate/login")
    expect(page.get_by_test_id("not-a-terminal")).to_be_visible()  # no terminal cookie yet
    browser.context.add_cookies([{"name": TERMINAL_COOKIE, "value": seat.terminal_cookie, "url": browser.base_url}])

    page.goto("/candidate/login")
    expect(page.get_by_role("heading", name="考生登录")).to_be_visible()
    page.get_by_label("准考证号").fill(seat.ticket)
    wrong = seat.id_number[:-2] + ("1" if seat.id_number[-2] != "1" else "2") + seat.id_number[-1]
    page.get_by_label("身份证号").fill(wrong)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_test_id("error")).to_contain_text("不匹配")
    assert browser.url_path() == "/candidate/login"
    expect(page.get_by_label("准考证号")).to_have_value(seat.ticket)

    page.get_by_label("身份证号").fill(seat.id_number)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_test_id("candidate-name")).to_contain_text(seat.name)
    assert browser.url_path() == "/candidate/exam"
    expect(page.locator("#notices")).to_have_count(0)  # staff notices are not for candidates

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/candidate/login$"))
    expect(page.get_by_test_id("who")).to_have_count(0)


def test_logout_ends_the_session_on_the_server(
    open_browser: Callable[[], BrowserWindow], clean_db: str, pg_url: str, test_settings: Settings
) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    window = open_browser()
    window.login_staff("wangjing")
    page = window.page
    token = next(c["value"] for c in window.context.cookies() if c["name"] == "examhall_session")

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("who")).to_have_count(0)
    assert "examhall_session" not in {c["name"] for c in window.context.cookies() if c["value"]}
    assert sql(pg_url, "SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("who")).to_have_count(0)

    # The old session cookie, replayed from another browser, no longer opens anything.
    other = open_browser()
    other.context.add_cookies([{"name": "examhall_session", "value": token, "url": other.base_url}])
    other.page.goto("/")
    expect(other.page).to_have_url(re.compile(r"/login$"))
    expect(other.page.get_by_test_id("who")).to_have_count(0)


def test_back_button_after_logout_shows_no_signed_in_page(
    browser: BrowserWindow, pg_url: str, test_settings: Settings
) -> None:
    make_user(pg_url, test_settings, "wangjing", ["admin"])
    browser.login_staff("wangjing")
    page = browser.page
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    page.go_back()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=2_000)
    expect(page.get_by_test_id("who")).to_have_count(0, timeout=2_000)
