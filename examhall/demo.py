"""The demo site behind ``examhall serve --demo``: staff of every role and a few candidates.

Idempotent: running it again leaves what exists. Grows with every issue (batch, sitting,
room, bank …) so that anyone can try the system as candidate, invigilator or admin.
"""

from __future__ import annotations

from sqlalchemy import select

from examhall.batches.models import Candidate
from examhall.batches.rules import id_check_char
from examhall.config import Settings
from examhall.db import Database
from examhall.security import service
from examhall.security.passwords import Passwords

DEMO_PASSWORD = "examhall-demo"  # noqa: S105 - printed at start; demo sites only

DEMO_STAFF = [
    ("admin", "考务管理员 王静", ["admin"]),
    ("chief", "主考 李国华", ["chief"]),
    ("invigilator1", "监考员 张敏", ["invigilator"]),
    ("invigilator2", "监考员 陈刚", ["invigilator"]),
    ("bankkeeper", "题库专员 赵磊", ["bank_keeper"]),
    ("supervisor", "质量督导员 孙丽", ["supervisor"]),
    ("assessor", "考评员 周强", ["assessor"]),
]

# (name, first 17 digits of a fictitious ID number, ticket number)
DEMO_CANDIDATES = [
    ("刘洋", "37010219950314123", "D2026110001"),
    ("王芳", "37020319980722242", "D2026110002"),
    ("张伟", "37030419920105351", "D2026110003"),
    ("李娜", "37040520000918462", "D2026110004"),
]


def demo_id_number(first17: str) -> str:
    return first17 + id_check_char(first17)


async def seed_demo(db: Database, settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo accounts and candidates; return (role, login, password or ID) to print."""
    passwords = Passwords(settings)
    logins: list[tuple[str, str, str]] = []
    async with db.session() as session:
        for username, display, roles in DEMO_STAFF:
            if await service.find_user(session, username) is None:
                await service.create_user(
                    session,
                    passwords,
                    username=username,
                    display_name=display,
                    password=DEMO_PASSWORD,
                    roles=roles,
                    actor="demo",
                )
            logins.append((", ".join(roles), username, DEMO_PASSWORD))
        for name, first17, ticket in DEMO_CANDIDATES:
            id_number = demo_id_number(first17)
            if await session.scalar(select(Candidate).where(Candidate.ticket_number == ticket)) is None:
                session.add(Candidate(name=name, id_number=id_number, ticket_number=ticket))
            logins.append((f"candidate {name}", ticket, id_number))
    return logins
