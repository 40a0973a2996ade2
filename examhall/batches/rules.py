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
