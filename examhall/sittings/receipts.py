"""Submission receipts (R-SCORE-7) as pure logic with Ed25519 (pynacl): no database, no web.

At submission the server signs a canonical message naming the attempt and the digest of its
answers (``scoring.answers_digest``). The candidate gets a short code derived from that
signature; the office can later check that the stored answers are still exactly those signed
(``examhall receipt verify``). Ed25519 signatures are deterministic, so the same facts and key
always give the same signature and code.

The message (UTF-8, lines joined by "\\n", no trailing newline)::

    examhall-receipt/1
    <attempt id>
    <sitting id>
    <ticket number>
    <submitted at: UTC, ISO 8601 with microseconds, e.g. 2026-11-28T02:55:01.250000+00:00>
    <answers digest: 64 lower-case hex digits>

Only the ticket number is free text, and it may not contain a line break, so the message is
unambiguous. The code is the first 10 bytes of SHA-256(signature) in RFC 4648 base32 (16
characters, no padding), shown as XXXX-XXXX-XXXX-XXXX. Base32 has no 0, 1, 8 or 9; when a code
is typed back, 0/1/8 are read as O/I/B.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

import nacl.exceptions
import nacl.signing

__all__ = [
    "CODE_CHARS",
    "FORMAT",
    "ReceiptCheck",
    "ReceiptFacts",
    "check_receipt",
    "new_signing_key",
    "normalise_code",
    "receipt_code",
    "receipt_message",
    "sign_receipt",
    "verify_key_of",
]

FORMAT: Final = "examhall-receipt/1"
CODE_CHARS: Final = 16
_CODE_BYTES: Final = 10  # 80 bits = 16 base32 characters exactly, so no padding
_B32: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Characters outside base32 that people write for ones inside it.
_CONFUSIONS: Final = str.maketrans({"0": "O", "1": "I", "8": "B"})
_DASHES: Final = frozenset("-‐‑‒–—―−_")
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


def new_signing_key() -> bytes:
    """A fresh Ed25519 signing key as its 32-byte seed."""
    return bytes(nacl.signing.SigningKey.generate())


def verify_key_of(seed: bytes) -> bytes:
    """The 32-byte public (verify) key of a signing seed."""
    return bytes(nacl.signing.SigningKey(seed).verify_key)


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt vouches for: this attempt was submitted at this instant with these answers."""

    attempt_id: int
    sitting_id: int
    ticket_number: str
    submitted_at: datetime  # timezone-aware; any zone, signed as UTC
    digest: str  # scoring.answers_digest of the stored answers

    def __post_init__(self) -> None:
        if self.submitted_at.tzinfo is None or self.submitted_at.utcoffset() is None:
            raise ValueError("submitted_at must be timezone-aware")
        if "\n" in self.ticket_number or "\r" in self.ticket_number:
            raise ValueError("a ticket number cannot contain a line break")
        if not _DIGEST.fullmatch(self.digest):
            raise ValueError("digest must be 64 lower-case hex digits (scoring.answers_digest)")


def receipt_message(facts: ReceiptFacts) -> bytes:
    """The canonical bytes that are signed (see the module docstring)."""
    submitted = facts.submitted_at.astimezone(UTC).isoformat(timespec="microseconds")
    lines = [FORMAT, str(facts.attempt_id), str(facts.sitting_id), facts.ticket_number, submitted, facts.digest]
    return "\n".join(lines).encode()


def receipt_code(signature: bytes) -> str:
    """16 base32 characters of SHA-256(signature), grouped XXXX-XXXX-XXXX-XXXX."""
    text = base64.b32encode(hashlib.sha256(signature).digest()[:_CODE_BYTES]).decode()
    return "-".join(text[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(raw: str) -> str | None:
    """A typed code as its 16 characters (no dashes), or None unless it reads as 16 base32
    characters. Case, spaces and dashes do not matter; 0/1/8 are read as O/I/B."""
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(ch for ch in text if not ch.isspace() and ch not in _DASHES).upper().translate(_CONFUSIONS)
    if len(text) != CODE_CHARS or not set(text) <= _B32:
        return None
    return text


def sign_receipt(seed: bytes, facts: ReceiptFacts) -> tuple[bytes, str]:
    """The 64-byte Ed25519 signature over ``receipt_message(facts)`` and its grouped code."""
    signature = bytes(nacl.signing.SigningKey(seed).sign(receipt_message(facts)).signature)
    return signature, receipt_code(signature)


class ReceiptCheck(StrEnum):
    VALID = "valid"
    ANSWERS_CHANGED = "answers_changed"  # the signature does not cover the facts as stored now
    CODE_MISMATCH = "code_mismatch"  # the signature is fine but the code is not derived from it
    INVALID_KEY = "invalid_key"  # the verify key is not a usable Ed25519 public key


def check_receipt(verify_key: bytes, facts: ReceiptFacts, signature: bytes, code: str) -> ReceiptCheck:
    """Does ``signature`` cover ``facts`` under ``verify_key``, and is ``code`` (as typed) its
    code? A stored signature that does not verify — tampered, another site's key, or facts that
    changed since submission — is ANSWERS_CHANGED. Never raises on stored data."""
    try:
        key = nacl.signing.VerifyKey(verify_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return ReceiptCheck.INVALID_KEY
    try:
        key.verify(receipt_message(facts), bytes(signature))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return ReceiptCheck.ANSWERS_CHANGED
    given = normalise_code(code)
    if given is None or given != receipt_code(signature).replace("-", ""):
        return ReceiptCheck.CODE_MISMATCH
    return ReceiptCheck.VALID
