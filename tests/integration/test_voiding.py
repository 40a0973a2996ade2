"""Voiding a faulty item for a sitting (R-INC-4): scored for nobody or for everybody, and
attempts already scored are scored again."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx

from examhall.config import Settings
from examhall.db import Database
from examhall.sittings import examday
from tests.conftest import LiveServer, login, make_user, run_db, sql
from tests.integration.examday_site import api, build_site, candidate_login

PASSWORD = "correct-horse-9"


def paper_items(url: str, settings: Settings, candidate_id: int) -> list[examday.PaperItem]:
    async def work(db: Database) -> list[examday.PaperItem]:
        async with db.session() as session:
            attempt = await examday.open_attempt_of(session, candidate_id, datetime.now(UTC))
            assert attempt is not None
            return list((await examday.candidate_paper(session, settings, attempt.paper_id)).items)

    return run_db(url, work)


def test_voiding_rescores_and_applies_to_later_hand_ins(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=2, duration_minutes=10)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as first,
        httpx.Client(base_url=live_server.url, timeout=20) as second,
        httpx.Client(base_url=live_server.url, timeout=20) as chief,
    ):
        items = {}
        for client, seat in ((first, site.seats[0]), (second, site.seats[1])):
            assert candidate_login(client, seat).status_code == 200
            assert api(client, "POST", "/api/v1/attempt/start").status_code == 200
            items[seat.candidate_id] = paper_items(clean_db, test_settings, seat.candidate_id)
            for seq, item in enumerate(items[seat.candidate_id], start=1):
                assert (
                    api(
                        client, "PUT", f"/api/v1/attempt/answers/{item.position}", {"response": item.key, "seq": seq}
                    ).status_code
                    == 200
                )
        assert api(first, "POST", "/api/v1/attempt/submit", {"confirm": True}).status_code == 200
        make_user(clean_db, test_settings, "liguohua", ["chief"])
        assert login(chief, "liguohua", PASSWORD).status_code == 302
        faulty = items[site.seats[0].candidate_id][0]  # a judge item worth 1 point
        bad = api(
            chief,
            "POST",
            f"/api/v1/sittings/{site.sitting_id}/voided-items",
            {"revision_id": faulty.revision_id, "policy": "maybe"},
        )
        assert bad.status_code == 400 and bad.json()["code"] == "bad_policy"
        unknown = api(
            chief,
            "POST",
            f"/api/v1/sittings/{site.sitting_id}/voided-items",
            {"revision_id": 999999, "policy": "nobody"},
        )
        assert unknown.status_code == 404
        voided = api(
            chief,
            "POST",
            f"/api/v1/sittings/{site.sitting_id}/voided-items",
            {"revision_id": faulty.revision_id, "policy": "nobody"},
        )
        assert voided.status_code == 200 and voided.json()["rescored"] == 1
        first_row = sql(
            clean_db, "SELECT score, max_score FROM attempts WHERE candidate_id = $1", site.seats[0].candidate_id
        )[0]
        assert (first_row["score"], first_row["max_score"]) == (
            Decimal(100) - faulty.points,
            Decimal(100) - faulty.points,
        )
        # The second candidate hands in later: the voiding applies if their paper has the item.
        assert api(second, "POST", "/api/v1/attempt/submit", {"confirm": True}).status_code == 200
        has_it = any(i.revision_id == faulty.revision_id for i in items[site.seats[1].candidate_id])
        expected_max = Decimal(100) - (faulty.points if has_it else 0)
        second_row = sql(
            clean_db, "SELECT score, max_score FROM attempts WHERE candidate_id = $1", site.seats[1].candidate_id
        )[0]
        assert second_row["max_score"] == expected_max == second_row["score"]
        # For everybody instead: the maximum is 100 again and everyone gets the point.
        again = api(
            chief,
            "POST",
            f"/api/v1/sittings/{site.sitting_id}/voided-items",
            {"revision_id": faulty.revision_id, "policy": "everybody"},
        )
        assert again.json()["rescored"] == 2
        assert [r["max_score"] for r in sql(clean_db, "SELECT max_score FROM attempts ORDER BY id")] == [100, 100]
        assert (
            api(
                first,
                "POST",
                f"/api/v1/sittings/{site.sitting_id}/voided-items",
                {"revision_id": 1, "policy": "nobody"},
            ).status_code
            == 403
        )
    assert [r["action"] for r in sql(clean_db, "SELECT action FROM audit_log WHERE action = 'item_voided'")] == [
        "item_voided"
    ] * 2
