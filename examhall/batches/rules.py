"""Pure rules of candidate registration (R-REG)."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import date

# GB 11643-1999: weights of the first 17 digits and the check character for (sum mod 11).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


@dataclasses.dataclass(frozen=True)
class IdNumberProblem:
    """Why an ID number was refused, in words for the exam office."""

    code: str
    message: str


def normalise_id_number(raw: str) -> str:
    """Upper-case, spaces removed, full-width characters (as typed with a Chinese IME) made ASCII."""
    return unicodedata.normalize("NFKC", raw).strip().replace(" ", "").upper()


def _ascii_digits(text: str) -> bool:
    return all("0" <= c <= "9" for c in text)


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def check_id_number(raw: str, today: date | None = None) -> IdNumberProblem | None:
    """Validate an 18-character resident ID number: format, birth date and checksum (R-REG-1)."""
    number = normalise_id_number(raw)
    if len(number) != 18:
        return IdNumberProblem("length", f"ID number must have 18 characters, it has {len(number)}")
    if not _ascii_digits(number[:17]) or not (_ascii_digits(number[17]) or number[17] == "X"):
        return IdNumberProblem("format", "ID number must be 17 digits followed by a digit or X")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return IdNumberProblem("birth_date", f"ID number holds an impossible birth date {number[6:14]}")
    if born.year < 1900 or (today is not None and born > today):
        return IdNumberProblem("birth_date", f"ID number holds an impossible birth date {number[6:14]}")
    if id_check_char(number[:17]) != number[17]:
        return IdNumberProblem("checksum", "ID number check character is wrong (typing error?)")
    return None


def birth_date(number: str) -> date:
    n = normalise_id_number(number)
    return date(int(n[6:10]), int(n[10:12]), int(n[12:14]))


# --- Batch workflow -----------------------------------------------------------------------

PLANNING = "planning"
REGISTRATION = "registration"
SCHEDULED = "scheduled"
IN_PROGRESS = "in_progress"
SCORING = "scoring"
PUBLISHED = "published"
ARCHIVED = "archived"

# A batch moves forward one step at a time; registration may be reopened from scheduled
# (late withdrawals and additions before the tickets go out) and nothing else moves back.
BATCH_STATUSES = (PLANNING, REGISTRATION, SCHEDULED, IN_PROGRESS, SCORING, PUBLISHED, ARCHIVED)
_STEPS = {
    PLANNING: (REGISTRATION,),
    REGISTRATION: (SCHEDULED,),
    SCHEDULED: (IN_PROGRESS, REGISTRATION),
    IN_PROGRESS: (SCORING,),
    SCORING: (PUBLISHED,),
    PUBLISHED: (ARCHIVED,),
    ARCHIVED: (),
}


def next_statuses(status: str) -> tuple[str, ...]:
    return _STEPS.get(status, ())


def status_problem(current: str, wanted: str) -> str | None:
    """Why a batch cannot go from ``current`` to ``wanted`` (None when it can)."""
    if wanted not in BATCH_STATUSES:
        return f"unknown status {wanted!r}"
    if wanted not in _STEPS.get(current, ()):
        return f"a batch cannot go from {current} to {wanted}"
    return None


def registration_open(status: str) -> bool:
    """Candidates may be registered, reviewed and paid for only while registration is open."""
    return status in (PLANNING, REGISTRATION)


# Application review (资格审核, R-REG-1).
SUBMITTED = "submitted"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"

PAYMENT_METHODS = ("cash", "wechat", "alipay", "card", "transfer")


def decision_problem(current: str, decision: str, reason: str) -> str | None:
    """R-REG-1: a reviewer approves or rejects a submitted application; a rejection needs a reason.
    A decision may be revised (approved → rejected and back) until the candidate is scheduled."""
    if decision not in (APPROVED, REJECTED):
        return "decision: approve or reject"
    if current == WITHDRAWN:
        return "the application was withdrawn"
    if current == decision:
        return None  # idempotent: two reviewers clicking at once
    if decision == REJECTED and not reason.strip():
        return "reason: say why the application is rejected"
    return None
