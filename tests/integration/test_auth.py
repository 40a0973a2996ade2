"""Staff and candidate login, logout, session expiry, lockout and CSRF over real HTTP (R-SEC-1, R-SEC-3)."""

from __future__ import annotations

import httpx

from examhall.config import Settings
from tests.conftest import csrf_token, form_post, json_post, login, make_user, sql
from tests.integration.examday_site import at_terminal, build_site

PASSWORD = "correct-horse-9"


def audit_actions(url: str) -> list[str]:
    return [r["action"] for r in sql(url, "SELECT action FROM audit_log ORDER BY id")]


def test_staff_login_opens_a_session_and_shows_the_role_home(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "wangjing", ["admin", "bank_keeper"])
    response = login(client, "WangJing ", PASSWORD)  # user names are case- and space-insensitive
    assert response.status_code == 302
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "examhall_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert 'data-role="admin"' in home.text and 'data-role="bank_keeper"' in home.text
    assert 'data-role="invigilator"' not in home.text
    assert audit_actions(clean_db)[-1] == "login"
    stored = sql(clean_db, "SELECT count(*) AS n FROM web_sessions")[0]["n"]
    assert stored == 1
    # Only a hash of the token is stored, never the token itself.
    token = client.cookies["examhall_session"]
    assert not sql(clean_db, "SELECT 1 FROM web_sessions WHERE encode(token_hash, 'escape') LIKE $1", f"%{token}%")


def test_wrong_password_and_unknown_user_are_refused_audited_and_change_nothing(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    wrong = login(client, "zhangmin", "not-the-password-1")
    assert wrong.status_code == 401
    assert "examhall_session" not in client.cookies
    unknown = login(client, "nobody", "whatever-123")
    assert unknown.status_code == 401
    # The page says so in the site language (zh-CN by default), without telling which part was wrong.
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    rows = sql(clean_db, "SELECT action, actor, detail->>'reason' AS reason FROM audit_log ORDER BY id")
    failed = [r for r in rows if r["action"] == "login_failed"]
    assert [(r["actor"], r["reason"]) for r in failed] == [
        ("zhangmin", "bad_password"),
        ("nobody", "unknown_user"),
    ]
    assert sql(clean_db, "SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0


def test_five_failures_lock_the_account_even_for_the_right_password(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "chenggang", ["invigilator"])
    for _ in range(test_settings.max_failed_logins):
        assert login(client, "chenggang", "bad-password-1").status_code == 401
    locked = login(client, "chenggang", PASSWORD)
    assert locked.status_code == 401
    assert "锁定" in locked.text
    assert audit_actions(clean_db)[-1] == "login_refused"


def test_logout_ends_the_session_on_the_server(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    make_user(clean_db, test_settings, "lina", ["supervisor"])
    login(client, "lina", PASSWORD)
    stolen = client.cookies["examhall_session"]
    out = form_post(client, "/logout", {})
    assert out.status_code == 302 and out.headers["location"] == "/login"
    assert sql(clean_db, "SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0
    # Re-using the old cookie gets nothing.
    with httpx.Client(base_url=str(client.base_url), cookies={"examhall_session": stolen}) as other:
        assert other.get("/api/v1/me").status_code == 401
    assert audit_actions(clean_db)[-1] == "logout"


def test_expired_session_sends_the_user_back_to_login(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "sunli", ["supervisor"])
    login(client, "sunli", PASSWORD)
    assert client.get("/api/v1/me").status_code == 200
    sql(clean_db, "UPDATE web_sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/")
    assert page.status_code == 302 and page.headers["location"] == "/login"
    assert sql(clean_db, "SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0


def test_missing_or_wrong_csrf_token_is_refused_with_a_clear_message(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    make_user(clean_db, test_settings, "zhaolei", ["admin"])
    csrf_token(client)
    no_token = client.post("/login", data={"username": "zhaolei", "password": PASSWORD})
    assert no_token.status_code == 403
    assert "表单已过期" in no_token.text
    wrong = client.post("/login", data={"username": "zhaolei", "password": PASSWORD, "_csrf_token": "forged"})
    assert wrong.status_code == 403
    # Nothing happened: no session, no login entry.
    assert sql(clean_db, "SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0
    assert "login" not in audit_actions(clean_db)
    # The JSON API is protected the same way.
    login(client, "zhaolei", PASSWORD)
    api = client.post("/api/v1/notices", json={"text": "考场开放"})
    assert api.status_code == 403
    assert api.json()["message"]
    assert sql(clean_db, "SELECT count(*) AS n FROM staff_notices")[0]["n"] == 0


def test_candidate_logs_in_with_ticket_and_id_number(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """Candidates have no password: admission ticket number + ID number, at their enrolled seat
    (R-SEC-2; the seat and check-in rules are tested in test_examday.py)."""
    seat = build_site(clean_db, test_settings, candidates=1).seats[0]
    at_terminal(client, seat.terminal_cookie)
    wrong_id = seat.id_number[:-2] + ("1" if seat.id_number[-2] != "1" else "2") + seat.id_number[-1]
    wrong = json_post(client, "/api/v1/candidate/login", {"ticket_number": seat.ticket, "id_number": wrong_id})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "bad_ticket" and wrong.json()["message"]
    ok = json_post(
        client,
        "/api/v1/candidate/login",
        {"ticket_number": f" {seat.ticket.lower()} ", "id_number": seat.id_number.lower()},
    )
    assert ok.status_code == 200, ok.text
    me = client.get("/api/v1/me").json()
    assert me["roles"] == ["candidate"] and me["display_name"] == seat.name and me["user_id"] is None
    actions = [a for a in audit_actions(clean_db) if a.startswith("candidate_login")]
    assert actions == ["candidate_login_failed", "candidate_login"]
    # A candidate is no staff member: staff pages refuse them.
    assert client.get("/notices").status_code == 403


def test_json_login_for_api_clients(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    make_user(clean_db, test_settings, "api-chief", ["chief"])
    bad = json_post(client, "/api/v1/login", {"username": "api-chief", "password": "nope-nope-1"})
    assert bad.status_code == 401 and bad.json()["error"] == "bad_credentials"
    good = json_post(client, "/api/v1/login", {"username": "api-chief", "password": PASSWORD})
    assert good.status_code == 200
    assert good.json()["roles"] == ["chief"]
    missing = json_post(client, "/api/v1/login", {"username": "api-chief"})
    assert missing.status_code == 400
    assert "password" in missing.text
