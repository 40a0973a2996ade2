"""Pages, language switch, health check, OpenAPI, error pages and the role guard on every route."""

from __future__ import annotations

import httpx
import pytest

from examhall.app import create_app
from examhall.config import Settings
from tests.conftest import LiveServer, form_post, json_post, login, make_user, sql

PASSWORD = "correct-horse-9"


def test_every_route_is_guarded_or_declared_public(test_settings: Settings, pg_url: str) -> None:
    app = create_app(test_settings, pg_url)
    unguarded = []
    checked = 0
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue  # the OpenAPI document: public on purpose
        handlers = getattr(route, "route_handlers", None) or [route.route_handler]  # type: ignore[attr-defined]
        for handler in handlers:
            if getattr(handler, "http_methods", None) == {"OPTIONS"}:
                continue  # Litestar's automatic CORS pre-flight answer: it runs no handler code
            checked += 1
            if handler.opt.get("public"):
                continue
            if not handler.resolve_guards():
                unguarded.append(f"{route.path} {handler}")
    assert checked >= 10
    assert unguarded == []


def test_health_check_reports_the_database(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert response.headers["x-examhall-worker"] == str(body["worker"])


def test_openapi_schema_lists_the_api(client: httpx.Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert schema["info"]["title"] == "examhall"
    assert {"/api/v1/login", "/api/v1/me", "/api/v1/notices", "/healthz"} <= set(schema["paths"])
    # Everything an exam-room terminal does is in the API (issue "Exam day", item 8).
    terminal = {
        "/api/v1/terminal/enroll",
        "/api/v1/terminal",
        "/api/v1/candidate/login",
        "/api/v1/attempt",
        "/api/v1/attempt/start",
        "/api/v1/attempt/paper",
        "/api/v1/attempt/answers/{position}",
        "/api/v1/attempt/submit",
        "/api/v1/attempt/errata/{erratum_id}/ack",
        "/api/v1/sittings/{sitting_id}/checkin",
        "/api/v1/sittings/{sitting_id}/outages",
        "/api/v1/outages/{outage_id}/end",
    }
    assert terminal <= set(schema["paths"]), terminal - set(schema["paths"])


def test_language_switch_turns_the_page_english_and_back(client: httpx.Client) -> None:
    page = client.get("/login")
    assert '<html lang="zh-CN">' in page.text
    assert "工作人员登录" in page.text
    switched = form_post(client, "/lang", {"locale": "en", "next": "/login"})
    assert switched.status_code == 302
    assert switched.headers["location"] == "/login"
    english = client.get("/login")
    assert '<html lang="en">' in english.text
    assert "Staff login" in english.text
    form_post(client, "/lang", {"locale": "zh_CN", "next": "/login"})
    assert "工作人员登录" in client.get("/login").text


def test_language_switch_refuses_foreign_redirects_and_unknown_locales(client: httpx.Client) -> None:
    response = form_post(client, "/lang", {"locale": "fr", "next": "https://evil.example/"})
    assert response.headers["location"] == "/"
    assert '<html lang="zh-CN">' in client.get("/login").text


def test_saved_language_follows_the_user_to_a_new_browser(
    client: httpx.Client, clean_db: str, test_settings: Settings, live_server: LiveServer
) -> None:
    make_user(clean_db, test_settings, "wangjing", ["admin"])
    login(client, "wangjing", PASSWORD)
    form_post(client, "/lang", {"locale": "en", "next": "/"})
    assert sql(clean_db, "SELECT locale FROM users WHERE username = 'wangjing'")[0]["locale"] == "en"
    with httpx.Client(base_url=live_server.url) as other:
        login(other, "wangjing", PASSWORD)
        assert "Log out" in other.get("/").text


def test_login_redirect_only_to_local_paths(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    make_user(clean_db, test_settings, "wangjing", ["admin"])
    response = form_post(client, "/login", {"username": "wangjing", "password": PASSWORD, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


def test_anonymous_page_request_goes_to_login_and_api_gets_401_json(client: httpx.Client) -> None:
    page = client.get("/notices")
    assert page.status_code == 302
    assert page.headers["location"] == "/login?next=/notices"
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.json() == {"error": 401, "message": "请先登录。"}


def test_unknown_page_is_a_friendly_404(client: httpx.Client) -> None:
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "页面不存在" in page.text
    assert "Traceback" not in page.text
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404
    assert api.json()["error"] == 404


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (["chief"], True),
        (["admin"], True),
        (["invigilator"], False),
        (["supervisor"], False),
        (["bank_keeper"], False),
    ],
)
def test_only_chief_and_office_may_send_staff_notices(
    client: httpx.Client, clean_db: str, test_settings: Settings, roles: list[str], allowed: bool
) -> None:
    make_user(clean_db, test_settings, "someone", roles)
    login(client, "someone", PASSWORD)
    response = json_post(client, "/api/v1/notices", {"text": "第二考场暂停入场"})
    count = sql(clean_db, "SELECT count(*) AS n FROM staff_notices")[0]["n"]
    if allowed:
        assert response.status_code == 201
        assert count == 1
    else:
        assert response.status_code == 403
        assert response.json()["message"] == "您无权执行此操作。"
        assert count == 0


def test_bad_notices_get_a_clear_message_and_change_nothing(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "lichief", ["chief"])
    login(client, "lichief", PASSWORD)
    empty = json_post(client, "/api/v1/notices", {"text": "   "})
    assert empty.status_code == 400
    assert empty.json()["message"] == "请先填写通知内容。"
    long = json_post(client, "/api/v1/notices", {"text": "长" * 501})
    assert long.status_code == 400
    assert "500" in long.json()["message"]
    wrong_type = json_post(client, "/api/v1/notices", {"text": 5})
    assert wrong_type.status_code == 400
    assert "text" in wrong_type.text
    form = form_post(client, "/notices", {"text": ""})
    assert form.status_code == 400
    assert "请先填写通知内容" in form.text
    assert sql(clean_db, "SELECT count(*) AS n FROM staff_notices")[0]["n"] == 0


def test_home_shows_only_the_cards_of_the_roles_held(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "lichief", ["chief"])
    login(client, "lichief", PASSWORD)
    home = client.get("/").text
    assert 'data-role="chief"' in home
    assert 'data-role="admin"' not in home
    assert 'id="notice-form"' in home  # the chief may send notices
    assert 'ws-connect="/ws/staff"' in home
