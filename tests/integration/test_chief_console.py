"""The chief examiner's console over real HTTP (R-CLOCK-6, R-INC-4, R-INC-6)."""

from __future__ import annotations

import httpx

from examhall.config import Settings
from tests.conftest import form_post, login, make_user, sql
from tests.integration.examday_site import build_site

PASSWORD = "correct-horse-9"


def test_chief_declares_and_ends_a_room_outage_from_the_console(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=2)
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    assert login(client, "zhangmin", PASSWORD).status_code == 302
    assert client.get(f"/console/sittings/{site.sitting_id}/chief").status_code == 403
    client.cookies.clear()
    make_user(clean_db, test_settings, "liguohua", ["chief"])
    assert login(client, "liguohua", PASSWORD).status_code == 302
    assert "/console/sittings/" in client.get("/sittings").text
    page = client.get(f"/console/sittings/{site.sitting_id}/chief")
    assert page.status_code == 200 and "主考" in page.text and 'data-testid="room-summaries"' in page.text
    log = f"/console/sittings/{site.sitting_id}/rooms/{site.room_id}/incidents"
    assert f'data-testid="room-incidents-{site.room_id}"><a href="{log}">0<' in page.text
    declared = form_post(
        client,
        f"/console/sittings/{site.sitting_id}/chief/outages",
        {"scope": "room", "room_id": str(site.room_id), "cause": "network", "note": "交换机故障"},
    )
    assert declared.status_code == 200 and "交换机故障" in declared.text and "断网" in declared.text
    outage_id = sql(clean_db, "SELECT id FROM outages")[0]["id"]
    assert sql(clean_db, "SELECT count(*) AS n FROM attempts WHERE state = 'checked_in'")[0]["n"] == 2
    assert f'data-testid="end-outage-{outage_id}"' in declared.text
    early = form_post(client, f"/console/sittings/{site.sitting_id}/chief/outages/{outage_id}/stop", {})
    assert "50" in early.text and 'role="alert"' in early.text  # limit not reached: refused with the reason
    ended = form_post(client, f"/console/sittings/{site.sitting_id}/chief/outages/{outage_id}/end", {})
    assert ended.status_code == 200 and f'data-testid="end-outage-{outage_id}"' not in ended.text
    assert sql(clean_db, "SELECT outcome FROM outages")[0]["outcome"] == "resumed"
    sent = form_post(client, f"/console/sittings/{site.sitting_id}/chief/errata", {"text": "第3题题干中“泵”应为“阀”。"})
    assert sent.status_code == 200 and 'role="status"' in sent.text
    assert sql(clean_db, "SELECT count(*) AS n FROM errata")[0]["n"] == 1
    bad_item = form_post(
        client, f"/console/sittings/{site.sitting_id}/chief/void", {"revision_id": "x", "policy": "nobody"}
    )
    assert 'role="alert"' in bad_item.text and "试题编号" in bad_item.text
    void = form_post(
        client, f"/console/sittings/{site.sitting_id}/chief/void", {"revision_id": "1", "policy": "nobody"}
    )
    assert 'role="status"' in void.text  # nobody opened a paper yet: the voiding applies to later hand-ins
    assert sql(clean_db, "SELECT voided_items FROM sittings WHERE id = $1", site.sitting_id)[0]["voided_items"]
    empty = form_post(client, f"/console/sittings/{site.sitting_id}/chief/stop", {"text": " "})
    assert 'role="alert"' in empty.text
    assert sql(clean_db, "SELECT status FROM sittings WHERE id = $1", site.sitting_id)[0]["status"] == "scheduled"
