"""The answer hot path: one save = one statement on the raw asyncpg pool, acknowledged only
after it committed (ARCHITECTURE "The hot path"; R-CLOCK-5, R-SEC-5).

The statement checks, under a share lock on the attempt row, that the attempt is running and
before its end time, and writes the answer only if the terminal's sequence number is newer
than the stored one (a replayed or out-of-order save changes nothing). Submission takes the
attempt row ``FOR UPDATE``, so a save is either in before the scoring or refused after it.
Refused saves are kept in ``rejected_answers`` for the invigilators.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Final

from examhall.db import Database
from examhall.sittings.examday import CandidatePaper
from examhall.sittings.scoring import AnswerRefused, normalise_response

MAX_SEQ: Final = 2**53  # what a JavaScript number holds exactly

_UPSERT: Final = """
WITH a AS (
    SELECT id FROM attempts
    WHERE id = $1 AND state = 'running' AND ends_at > $6
    FOR SHARE
), up AS (
    INSERT INTO answers AS ans (attempt_id, position, response, flagged, seq, saved_at)
    SELECT $1, $2, $3, $4, $5, $6 FROM a
    ON CONFLICT (attempt_id, position) DO UPDATE
        SET response = EXCLUDED.response, flagged = EXCLUDED.flagged, seq = EXCLUDED.seq, saved_at = EXCLUDED.saved_at
        WHERE ans.seq < EXCLUDED.seq
    RETURNING 1
)
SELECT (SELECT count(*) FROM a) AS open, (SELECT count(*) FROM up) AS written
"""

_WHY_CLOSED: Final = "SELECT state, ends_at, started_at FROM attempts WHERE id = $1"

_REJECT: Final = """
INSERT INTO rejected_answers (attempt_id, position, response, seq, reason, received_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""

# Plain-language reasons; the terminal shows its own translated text by code.
MESSAGES: Final = {
    "no_such_question": "this question is not in your paper",
    "bad_seq": "the save carries no valid sequence number",
    "stale": "a newer answer to this question was already saved",
    "closed": "your exam has ended; answers are no longer accepted",
    "ended": "your end time has passed; answers are no longer accepted",
    "paused": "the exam is paused; your answer was not saved, send it again when it continues",
    "not_started": "open the paper first",
}


async def log_refusal(
    db: Database, attempt_id: int, position: object, response: object, seq: object, reason: str, now: datetime
) -> None:
    """Keep a refused save for the invigilators, whatever shape it arrived in."""
    pos = (
        position
        if isinstance(position, int) and not isinstance(position, bool) and -32768 <= position <= 32767
        else None
    )
    number = seq if isinstance(seq, int) and not isinstance(seq, bool) and abs(seq) < MAX_SEQ else None
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        await conn.execute(_REJECT, attempt_id, pos, str(response)[:64], number, reason, now)


@dataclasses.dataclass(frozen=True)
class SaveResult:
    ok: bool
    position: int
    seq: int
    response: str = ""
    flagged: bool = False
    saved_at: datetime | None = None
    code: str | None = None
    message: str = ""


async def save_answer(
    db: Database,
    attempt_id: int,
    paper: CandidatePaper,
    position: int,
    raw_response: str,
    flagged: bool,
    seq: int,
    now: datetime,
) -> SaveResult:
    """Validate and store one answer; ``ok`` only once it is committed."""
    item = paper.item(position)
    if item is None or not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < MAX_SEQ:
        code = "no_such_question" if item is None else "bad_seq"
        await log_refusal(db, attempt_id, position, raw_response, seq, code, now)
        return SaveResult(False, position, seq if isinstance(seq, int) else 0, code=code, message=MESSAGES[code])
    try:
        response = normalise_response(item.type, len(item.options), raw_response)
    except AnswerRefused as exc:
        await log_refusal(db, attempt_id, position, raw_response, seq, exc.code, now)
        return SaveResult(False, position, seq, code=exc.code, message=str(exc))
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_UPSERT, attempt_id, position, response, bool(flagged), seq, now)
        assert row is not None  # the statement always returns one row
        if row["written"]:
            return SaveResult(True, position, seq, response=response, flagged=bool(flagged), saved_at=now)
        if row["open"]:
            code = "stale"
        else:
            why = await conn.fetchrow(_WHY_CLOSED, attempt_id)
            if why is None or why["state"] == "closed":
                code = "closed"
            elif why["state"] == "paused":
                code = "paused"
            elif why["started_at"] is None:
                code = "not_started"
            else:
                code = "ended"
        await conn.execute(_REJECT, attempt_id, position, response, seq, code, now)
    return SaveResult(False, position, seq, response=response, code=code, message=MESSAGES[code])
