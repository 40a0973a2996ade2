"""The answer hot path: saves go to the database on the raw asyncpg pool, several candidates'
saves in one statement (group commit, :class:`AnswerWriter`), and each is acknowledged only
after that statement committed (ARCHITECTURE "The hot path"; R-CLOCK-5, R-SEC-5).

The statement checks, per save, under a key-share lock on the attempt row, that the attempt is
running and was before its end time when the save arrived, and writes the answer only if the
terminal's sequence number is newer than the stored one (a replayed or out-of-order save
changes nothing). Submission takes the attempt row ``FOR UPDATE``, so a save is either in before
the scoring or refused after it. Refused saves are kept in ``rejected_answers`` for the
invigilators.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import weakref
from datetime import datetime
from typing import Final

import asyncpg

from examhall.db import Database
from examhall.sittings.examday import CandidatePaper
from examhall.sittings.scoring import AnswerRefused, normalise_response

log = logging.getLogger("examhall.sittings")

MAX_SEQ: Final = 2**53  # what a JavaScript number holds exactly

# One statement for a whole batch of saves (group commit). Per row: the attempt is running and
# before its end time at the moment the save arrived, under a key-share lock on the attempt row:
# every change of an attempt's state (hand-in, pause, move, incident) first locks the row FOR
# UPDATE, which waits for this statement and which this statement waits for, so a save is either
# in before the scoring or refused after it; the progress counters' plain updates are not waited
# for. Rows are locked in id order, as everywhere. The answer is written only if its ``seq`` is
# newer than the stored one. A row of the batch that is not written says why: ``open`` false
# (closed, paused, ended …) or stale.
_UPSERT_BATCH: Final = """
WITH i AS (
    SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::bool[], $5::bigint[], $6::timestamptz[])
        WITH ORDINALITY AS t(attempt_id, position, response, flagged, seq, at, n)
), a AS (
    SELECT id, ends_at FROM attempts
    WHERE id = ANY($1::int[]) AND state = 'running'
    ORDER BY id
    FOR KEY SHARE
), up AS (
    INSERT INTO answers AS ans (attempt_id, position, response, flagged, seq, saved_at)
    SELECT i.attempt_id, i.position, i.response, i.flagged, i.seq, i.at
    FROM i JOIN a ON a.id = i.attempt_id AND a.ends_at > i.at
    ORDER BY i.attempt_id, i.position
    ON CONFLICT (attempt_id, position) DO UPDATE
        SET response = EXCLUDED.response, flagged = EXCLUDED.flagged, seq = EXCLUDED.seq, saved_at = EXCLUDED.saved_at
        WHERE ans.seq < EXCLUDED.seq
    RETURNING ans.attempt_id, ans.position
)
SELECT i.n, (a.id IS NOT NULL AND a.ends_at > i.at) AS open, (up.attempt_id IS NOT NULL) AS written
FROM i
LEFT JOIN a ON a.id = i.attempt_id
LEFT JOIN up ON up.attempt_id = i.attempt_id AND up.position = i.position
ORDER BY i.n
"""

_WHY_CLOSED: Final = "SELECT id, state, ends_at, started_at FROM attempts WHERE id = ANY($1::int[])"

_REJECT: Final = """
INSERT INTO rejected_answers (attempt_id, position, response, seq, reason, received_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""

_REJECT_MANY: Final = """
INSERT INTO rejected_answers (attempt_id, position, response, seq, reason, received_at)
SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[])
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


@dataclasses.dataclass
class _Save:
    attempt_id: int
    position: int
    response: str
    flagged: bool
    seq: int
    at: datetime
    done: asyncio.Future[tuple[bool, str | None]]


def _why(row: asyncpg.Record | None) -> str:
    if row is None or row["state"] == "closed":
        return "closed"
    if row["state"] == "paused":
        return "paused"
    if row["started_at"] is None:
        return "not_started"
    return "ended"


class AnswerWriter:
    """Group commit for one worker process: the saves that arrive while a batch is being written
    go together into the next one — one statement, one commit, however many candidates — and
    each is acknowledged only once that statement has committed (the statement runs outside any
    explicit transaction, so its return is its commit).

    At most ``max_inflight`` batches are written at a time, each on its own pooled connection;
    a batch never holds the same (attempt, position) twice (a later save of the same question
    waits for the next batch, so the order of a terminal's saves is kept). Should a batch fail
    (a deadlock with a concurrent batch, a lost connection), its saves are written one by one.
    """

    def __init__(self, db: Database, max_batch: int = 512, max_inflight: int = 2) -> None:
        self.db, self.max_batch, self.max_inflight = db, max_batch, max_inflight
        self.queue: list[_Save] = []
        self.inflight = 0
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task[None]] = set()

    async def save(
        self, attempt_id: int, position: int, response: str, flagged: bool, seq: int, at: datetime
    ) -> tuple[bool, str | None]:
        """(written, refusal code) once committed."""
        done: asyncio.Future[tuple[bool, str | None]] = self.loop.create_future()
        self.queue.append(_Save(attempt_id, position, response, flagged, seq, at, done))
        self._pump()
        return await done

    def _pump(self) -> None:
        while self.queue and self.inflight < self.max_inflight:
            batch: list[_Save] = []
            rest: list[_Save] = []
            seen: set[tuple[int, int]] = set()
            for item in self.queue:
                key = (item.attempt_id, item.position)
                if key in seen or len(batch) >= self.max_batch:
                    rest.append(item)
                else:
                    seen.add(key)
                    batch.append(item)
            self.queue = rest
            self.inflight += 1
            task = self.loop.create_task(self._write(batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _write(self, batch: list[_Save]) -> None:
        try:
            try:
                outcomes: list[tuple[bool, str | None]] | None = await self._statement(batch)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                if len(batch) == 1:
                    raise
                log.warning("a batch of %d answer saves failed; writing them one by one", len(batch), exc_info=True)
                outcomes = None
            if outcomes is None:
                for item in batch:
                    try:
                        self._settle(item, (await self._statement([item]))[0])
                    except Exception as exc:
                        self._settle(item, exc)
            else:
                for item, outcome in zip(batch, outcomes, strict=True):
                    self._settle(item, outcome)
        except Exception as exc:
            for item in batch:
                self._settle(item, exc)
        except BaseException:  # cancelled (shutdown): nobody is told the save was written
            for item in batch:
                if not item.done.done():
                    item.done.cancel()
            raise
        finally:
            self.inflight -= 1
            self._pump()

    @staticmethod
    def _settle(item: _Save, result: tuple[bool, str | None] | Exception) -> None:
        if item.done.done():
            return  # the caller went away (its socket closed)
        if isinstance(result, Exception):
            item.done.set_exception(result)
        else:
            item.done.set_result(result)

    async def _statement(self, batch: list[_Save]) -> list[tuple[bool, str | None]]:
        pool = await self.db.raw_pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                _UPSERT_BATCH,
                [b.attempt_id for b in batch],
                [b.position for b in batch],
                [b.response for b in batch],
                [b.flagged for b in batch],
                [b.seq for b in batch],
                [b.at for b in batch],
            )
            outcomes: list[tuple[bool, str | None]] = []
            closed = [b.attempt_id for b, row in zip(batch, rows, strict=True) if not row["open"]]
            why = {r["id"]: r for r in await conn.fetch(_WHY_CLOSED, closed)} if closed else {}
            for b, row in zip(batch, rows, strict=True):
                if row["written"]:
                    outcomes.append((True, None))
                else:
                    outcomes.append((False, "stale" if row["open"] else _why(why.get(b.attempt_id))))
            refused = [(b, code) for b, (ok, code) in zip(batch, outcomes, strict=True) if not ok]
            if refused:
                await conn.execute(
                    _REJECT_MANY,
                    [b.attempt_id for b, _ in refused],
                    [b.position for b, _ in refused],
                    [b.response for b, _ in refused],
                    [b.seq for b, _ in refused],
                    [code for _, code in refused],
                    [b.at for b, _ in refused],
                )
        return outcomes


_WRITERS: weakref.WeakKeyDictionary[Database, AnswerWriter] = weakref.WeakKeyDictionary()


def writer_for(db: Database) -> AnswerWriter:
    """The worker's writer for ``db`` (made on first use, in the running event loop)."""
    writer = _WRITERS.get(db)
    if writer is None or writer.loop is not asyncio.get_running_loop():
        writer = _WRITERS[db] = AnswerWriter(db)
    return writer


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
    written, why = await writer_for(db).save(attempt_id, position, response, bool(flagged), seq, now)
    if written:
        return SaveResult(True, position, seq, response=response, flagged=bool(flagged), saved_at=now)
    assert why is not None
    return SaveResult(False, position, seq, response=response, code=why, message=MESSAGES[why])
