"""Print jobs: a batch's documents rendered in the background with visible progress (R-REG-4).

The page asks for a document; ``start`` records a job and renders it in this worker (the PDF
renderer runs in a thread so the worker keeps serving answers); progress goes to the job's row
every few hundred milliseconds, so the page polling it may be served by any worker. A job whose
worker died stops beating and is shown as failed after ``STALE_AFTER``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import PrintJob
from examhall.db import Database
from examhall.security import audit
from examhall.security.audit import Actor

log = logging.getLogger(__name__)

BEAT_SECONDS: Final = 0.3
STALE_AFTER: Final = timedelta(seconds=60)

Progress = Callable[[int, int], None]
# Gathers what to print (in its own session) and returns the renderer to run in a thread:
# render(progress) -> (pdf bytes, problems worth telling the user).
Prepare = Callable[[AsyncSession], Awaitable[Callable[[Progress], tuple[bytes, list[str]]]]]

_RUNNING: set[asyncio.Task[None]] = set()


async def create_job(session: AsyncSession, batch_id: int, kind: str, sitting_id: int | None, actor: Actor) -> PrintJob:
    job = PrintJob(batch_id=batch_id, kind=kind, sitting_id=sitting_id, requested_by=actor.name)
    session.add(job)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="document_printed",
        object_type="batch",
        object_id=batch_id,
        detail={"kind": kind, "sitting_id": sitting_id, "job": job.id},
        ip=actor.ip,
    )
    return job


def start(db: Database, job_id: int, prepare: Prepare) -> asyncio.Task[None]:
    """Render the job in the background of this worker (call after the job's row is committed)."""
    task = asyncio.get_running_loop().create_task(run(db, job_id, prepare))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


async def run(db: Database, job_id: int, prepare: Prepare) -> None:
    counts = [0, 0]
    lock = threading.Lock()

    def progress(done: int, total: int) -> None:
        with lock:
            counts[0], counts[1] = done, total

    async def write(**values: object) -> None:
        async with db.session() as session:
            await session.execute(update(PrintJob).where(PrintJob.id == job_id).values(**values))

    try:
        async with db.session() as session:
            render = await prepare(session)
        work = asyncio.ensure_future(asyncio.to_thread(render, progress))
        while not work.done():
            await asyncio.wait({work}, timeout=BEAT_SECONDS)
            with lock:
                done, total = counts
            await write(done=done, total=total, heartbeat_at=datetime.now(UTC))
        pdf, problems = work.result()
        with lock:
            done, total = counts
        await write(done=max(done, total), total=total, pdf=pdf, problems=problems, finished_at=datetime.now(UTC))
    except Exception as exc:  # the page shows the failure; the log keeps the detail
        log.exception("print job %s failed", job_id)
        await write(error=str(exc) or type(exc).__name__, finished_at=datetime.now(UTC))


def job_state(job: PrintJob, now: datetime) -> str:
    """running, done, failed — or stale: nobody has worked on it for a minute (its worker died)."""
    if job.error:
        return "failed"
    if job.finished_at is not None:
        return "done"
    beat = job.heartbeat_at or job.created_at
    if now - beat > STALE_AFTER:
        return "stale"
    return "running"
