"""Lateness (R-CLOCK-2) with an injected clock: a checked-in candidate who has not opened the
paper by S + 30 min is closed as absent (barred); an outage moves that deadline."""

from __future__ import annotations

from datetime import timedelta

from examhall.config import Settings
from examhall.db import Database
from examhall.security.audit import Actor
from examhall.sittings import examday, outages
from tests.conftest import run_db, sql
from tests.integration.examday_site import build_site


def test_checked_in_but_not_started_at_s_plus_30_is_absent(clean_db: str, test_settings: Settings) -> None:
    site = build_site(clean_db, test_settings, candidates=3, starts_in=-timedelta(minutes=5))
    s = site.starts_at

    async def work(db: Database) -> list[int]:
        counts = []
        async with db.session() as session:
            first = await examday.open_attempt_of(session, site.seats[0].candidate_id, s)
            assert first is not None
            await examday.start_attempt(session, test_settings, first, s + timedelta(minutes=10))
            # The third candidate's seat is dark from S + 20 to S + 35: their deadline moves 15 min.
            third = await examday.open_attempt_of(session, site.seats[2].candidate_id, s)
            assert third is not None
            outage = await outages.declare_outage(
                session,
                site.sitting_id,
                scope="seat",
                attempt_id=third.id,
                cause="power",
                actor=Actor("chief"),
                now=s + timedelta(minutes=20),
            )
            await outages.end_outage(session, outage.id, Actor("chief"), s + timedelta(minutes=35))
            counts.append(await examday.close_barred(session, s + timedelta(minutes=29, seconds=59)))
            counts.append(await examday.close_barred(session, s + timedelta(minutes=30)))
            counts.append(await examday.close_barred(session, s + timedelta(minutes=31)))
            counts.append(await examday.close_barred(session, s + timedelta(minutes=45)))
        return counts

    assert run_db(clean_db, work) == [0, 1, 0, 1]
    rows = sql(clean_db, "SELECT candidate_id, state, outcome FROM attempts ORDER BY candidate_id")
    assert [(r["state"], r["outcome"]) for r in rows] == [("running", None), ("closed", "barred"), ("closed", "barred")]
