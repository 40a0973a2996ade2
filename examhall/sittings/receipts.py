"""Submission receipts (R-SCORE-7) as pure logic with Ed25519 (pynacl).

At submission the server signs a canonical message naming the attempt and the digest of its
answers. The candidate gets a short code derived from that signature; the office can later
check that the stored answers are still exactly those signed (``examhall receipt verify``).
Ed25519 signatures are deterministic, so the same facts always give the same code.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

import nacl.exceptions
import nacl.signing

FORMAT: Final = "examhall-receipt/1"
CODE_CHARS: Final = 16
_B32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Characters outside base32 that people write for ones inside it.
_CONFUSIONS = str.maketrans({"0": "O", "1": "I", "8": "B"})


def new_signing_key() -> bytes:
    return bytes(nacl.signing.SigningKey.generate())


def verify_key_of(seed: bytes) -> bytes:
    return bytes(nacl.signing.SigningKey(seed).verify_key)


@dataclass(frozen=True)
class ReceiptFacts:
    attempt_id: int
    sitting_id: int
    ticket_number: str
    submitted_at: datetime
    digest: str  # scoring.answers_digest of the stored answers

    def __post_init__(self) -> None:
        if self.submitted_at.tzinfo is None or self.submitted_at.utcoffset() is None:
            raise ValueError("submitted_at must be timezone-aware")


def receipt_message(facts: ReceiptFacts) -> bytes:
    submitted = facts.submitted_at.astimezone(UTC).isoformat(timespec="microseconds")
    lines = [FORMAT, str(facts.attempt_id), str(facts.sitting_id), facts.ticket_number, submitted, facts.digest]
    return "\n".join(lines).encode()


def receipt_code(signature: bytes) -> str:
    """16 base32 characters of SHA-256(signature), grouped XXXX-XXXX-XXXX-XXXX."""
    text = base64.b32encode(hashlib.sha256(signature).digest()[:10]).decode()
    return "-".join(text[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(raw: str) -> str | None:
    """Upper case, without spaces and dashes, 0/1/8 read as O/I/B; None unless 16 base32 characters."""
    text = "".join(ch for ch in raw.upper() if ch not in " -\t").translate(_CONFUSIONS)
    if len(text) != CODE_CHARS or not set(text) <= _B32:
        return None
    return text


def sign_receipt(seed: bytes, facts: ReceiptFacts) -> tuple[bytes, str]:
    signature = bytes(nacl.signing.SigningKey(seed).sign(receipt_message(facts)).signature)
    return signature, receipt_code(signature)


class ReceiptCheck(StrEnum):
    VALID = "valid"
    ANSWERS_CHANGED = "answers_changed"  # the signature does not cover the facts as stored now
    CODE_MISMATCH = "code_mismatch"  # the signature is fine but the code is not derived from it
    INVALID_KEY = "invalid_key"


def check_receipt(verify_key: bytes, facts: ReceiptFacts, signature: bytes, code: str) -> ReceiptCheck:
    try:
        key = nacl.signing.VerifyKey(verify_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return ReceiptCheck.INVALID_KEY
    try:
        key.verify(receipt_message(facts), signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return ReceiptCheck.ANSWERS_CHANGED
    given = normalise_code(code)
    if given is None or given != receipt_code(signature).replace("-", ""):
        return ReceiptCheck.CODE_MISMATCH
    return ReceiptCheck.VALID
