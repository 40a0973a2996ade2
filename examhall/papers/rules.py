"""Pure rules of paper handling: modes, the unsealing window, reuse (R-PAPER-2/4/5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

SINGLE_PAPER: Final = "single"
FORMS: Final = "forms"
PER_CANDIDATE: Final = "per_candidate"
MODES: Final = (SINGLE_PAPER, FORMS, PER_CANDIDATE)
MAX_FORMS: Final = 8
FORM_LABELS: Final = "ABCDEFGH"


def mode_problem(mode: str, forms: int, candidates: int) -> str | None:
    """Why papers cannot be assembled in this mode, or None (R-PAPER-2)."""
    if mode not in MODES:
        return f"unknown assembly mode {mode!r} (single, forms, per_candidate)"
    if mode == FORMS and not 2 <= forms <= MAX_FORMS:
        return f"parallel forms: choose between 2 and {MAX_FORMS} forms"
    if mode == PER_CANDIDATE and candidates == 0:
        return "a paper per candidate needs the sitting's seat plan first: no candidate is seated"
    return None


def unseal_problem(now: datetime, starts_at: datetime, minutes_before: int, unsealed_at: datetime | None) -> str | None:
    """Why the chief cannot unseal now, or None (R-PAPER-5: no earlier than 30 min before S)."""
    if unsealed_at is not None:
        return "already_unsealed"
    opens = starts_at - timedelta(minutes=minutes_before)
    if now < opens:
        return "too_early"
    return None


def unseal_opens_at(starts_at: datetime, minutes_before: int) -> datetime:
    return starts_at - timedelta(minutes=minutes_before)
