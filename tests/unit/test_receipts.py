"""Submission receipts signed with Ed25519 (R-SCORE-7)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examhall.sittings.receipts import (
    ReceiptCheck,
    ReceiptFacts,
    check_receipt,
    new_signing_key,
    normalise_code,
    receipt_code,
    sign_receipt,
    verify_key_of,
)

SEED = bytes(range(32))
FACTS = ReceiptFacts(
    attempt_id=17,
    sitting_id=3,
    ticket_number="D2026110001",
    submitted_at=datetime(2026, 11, 28, 10, 55, 1, 250_000, tzinfo=UTC),
    digest="ab" * 32,
)
CODE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")


def test_the_code_is_short_grouped_base32_and_deterministic() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    assert len(signature) == 64
    assert CODE.match(code)
    assert sign_receipt(SEED, FACTS) == (signature, code)
    assert receipt_code(signature) == code


def test_a_valid_receipt_checks_out() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    assert check_receipt(verify_key_of(SEED), FACTS, signature, code) == ReceiptCheck.VALID
    # The same instant in another zone is the same fact.
    shanghai = dataclasses.replace(FACTS, submitted_at=FACTS.submitted_at.astimezone(timezone(timedelta(hours=8))))
    assert check_receipt(verify_key_of(SEED), shanghai, signature, code) == ReceiptCheck.VALID


@pytest.mark.parametrize(
    "change",
    [
        {"digest": "cd" * 32},
        {"attempt_id": 18},
        {"sitting_id": 4},
        {"ticket_number": "D2026110002"},
        {"submitted_at": FACTS.submitted_at + timedelta(microseconds=1)},
    ],
)
def test_any_changed_fact_is_detected(change: dict[str, object]) -> None:
    signature, code = sign_receipt(SEED, FACTS)
    altered = dataclasses.replace(FACTS, **change)  # type: ignore[arg-type]
    assert check_receipt(verify_key_of(SEED), altered, signature, code) == ReceiptCheck.ANSWERS_CHANGED


def test_another_sites_key_does_not_verify() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    other = new_signing_key()
    assert other != SEED
    assert check_receipt(verify_key_of(other), FACTS, signature, code) == ReceiptCheck.ANSWERS_CHANGED
    assert check_receipt(b"short", FACTS, signature, code) == ReceiptCheck.INVALID_KEY


def test_a_code_of_another_receipt_is_a_mismatch() -> None:
    signature, _code = sign_receipt(SEED, FACTS)
    _other_sig, other_code = sign_receipt(SEED, dataclasses.replace(FACTS, attempt_id=99))
    assert check_receipt(verify_key_of(SEED), FACTS, signature, other_code) == ReceiptCheck.CODE_MISMATCH
    assert check_receipt(verify_key_of(SEED), FACTS, signature, "not a code") == ReceiptCheck.CODE_MISMATCH


def test_codes_are_read_back_the_way_people_type_them() -> None:
    _sig, code = sign_receipt(SEED, FACTS)
    plain = code.replace("-", "")
    assert normalise_code(code) == plain
    assert normalise_code(code.lower().replace("-", " ")) == plain
    assert normalise_code(plain.replace("O", "0").replace("I", "1").replace("B", "8")) == plain
    assert normalise_code("ABCD-EFGH") is None
    assert normalise_code("ABCD-EFGH-JKLM-NPQ9") is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        dataclasses.replace(FACTS, submitted_at=datetime(2026, 11, 28, 10, 0))


@given(
    st.integers(1, 10**9),
    st.integers(1, 10**6),
    st.text(alphabet="ABCDEFGHJK0123456789", min_size=1, max_size=16),
    st.datetimes(timezones=st.just(UTC)),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_every_receipt_verifies_and_its_code_round_trips(
    attempt_id: int, sitting_id: int, ticket: str, at: datetime, digest: str
) -> None:
    facts = ReceiptFacts(attempt_id, sitting_id, ticket, at, digest)
    signature, code = sign_receipt(SEED, facts)
    assert check_receipt(verify_key_of(SEED), facts, signature, code.lower()) == ReceiptCheck.VALID
    assert normalise_code(code) == code.replace("-", "")
