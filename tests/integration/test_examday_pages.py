"""Staff pages of exam day over real HTTP: the check-in page (R-CLOCK-1) with the refused-answers
list, and enrollment codes for terminals (R-SEC-2)."""

from __future__ import annotations

import httpx

from examhall.config import Settings
from tests.conftest import form_post, login, make_user, sql
from tests.integration.examday_site import api, build_site, candidate_login

PASSWORD = "correct-horse-9"


def test_invigilator_checks_in_from_the_page_and_sees_refused_answers(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=2, check_in=False)
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    assert login(client, "zhangmin", PASSWORD).status_code == 302
    listing = client.get("/sittings")
    assert listing.status_code == 200 and f"/sittings/{site.sitting_id}/checkin" in listing.text
    page = client.get(f"/sittings/{site.sitting_id}/checkin")
    assert page.status_code == 200 and site.seats[0].name in page.text and "待签到" in page.text
    done = form_post(client, f"/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[0].ticket})
    assert done.status_code == 200
    assert f"{site.seats[0].name} 已签到" in done.text
    unknown = form_post(client, f"/sittings/{site.sitting_id}/checkin", {"ticket_or_id": "NOBODY"})
    assert "没有该准考证号或身份证号的考生" in unknown.text
    assert sql(clean_db, "SELECT count(*) AS n FROM attempts")[0]["n"] == 1

    # The candidate sends a malformed answer; the invigilator sees it refused, with the reason.
    with httpx.Client(base_url=client.base_url, timeout=20) as terminal:
        assert candidate_login(terminal, site.seats[0]).status_code == 200
        assert api(terminal, "POST", "/api/v1/attempt/start").status_code == 200
        assert api(terminal, "PUT", "/api/v1/attempt/answers/999", {"response": "A", "seq": 1}).status_code == 409
    refused = client.get(f"/sittings/{site.sitting_id}/checkin").text
    assert "未被接受的答案" in refused and "不是本试卷的题目" in refused


def test_admin_issues_enrollment_codes_and_others_cannot(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=1)
    make_user(clean_db, test_settings, "wangjing", ["admin"])
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    assert login(client, "zhangmin", PASSWORD).status_code == 302
    assert client.get("/terminals").status_code == 403
    client.cookies.clear()
    assert login(client, "wangjing", PASSWORD).status_code == 302
    page = client.get("/terminals")
    assert page.status_code == 200 and "考试终端" in page.text
    issued = form_post(client, "/terminals/codes", {"room_id": str(site.room_id), "seat_no": "5"})
    assert issued.status_code == 200 and 'data-testid="enrollment-code"' in issued.text
    spare = form_post(client, "/terminals/codes", {"room_id": str(site.room_id), "seat_no": ""})
    assert spare.status_code == 200 and "备用终端" in spare.text
    for bad in ("abc", "99"):
        refused = form_post(client, "/terminals/codes", {"room_id": str(site.room_id), "seat_no": bad})
        assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert sql(clean_db, "SELECT count(*) AS n FROM enrollment_codes WHERE used_at IS NULL")[0]["n"] == 2
