"""Pure rules of the consoles."""

from __future__ import annotations

NOTICE_MAX_CHARS = 500


def notice_problem(text: str) -> str | None:
    """Why a staff notice cannot be sent, or None."""
    if not text.strip():
        return "empty"
    if len(text.strip()) > NOTICE_MAX_CHARS:
        return "too_long"
    return None
