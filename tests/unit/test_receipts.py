"""Submission receipts signed with Ed25519 (R-SCORE-7): the signed message, the short code, how a
typed code is read back, and the verdicts of ``check_receipt``; examples and hypothesis
properties."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

import nacl.signing
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
    receipt_message,
    sign_receipt,
    verify_key_of,
)
from examhall.sittings.scoring import answers_digest

SEED = bytes(range(32))
VERIFY = verify_key_of(SEED)
FACTS = ReceiptFacts(
    attempt_id=17,
    sitting_id=3,
    ticket_number="D2026110001",
    submitted_at=datetime(2026, 11, 28, 10, 55, 1, 250_000, tzinfo=UTC),
    digest=answers_digest({1: "A", 2: "BC", 3: "T"}),
)
CODE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")
CST = timezone(timedelta(hours=8))


# --- keys -----------------------------------------------------------------------------------------


def test_keys_are_ed25519_seeds_and_public_keys() -> None:
    seed = new_signing_key()
    assert len(seed) == 32
    assert seed != new_signing_key()
    assert verify_key_of(seed) == bytes(nacl.signing.SigningKey(seed).verify_key)
    assert len(verify_key_of(seed)) == 32
    assert verify_key_of(seed) != verify_key_of(SEED)


# --- the message ----------------------------------------------------------------------------------


def test_the_signed_message_is_the_documented_canonical_text() -> None:
    """R-SCORE-7: the office can rebuild exactly what was signed from the stored attempt."""
    assert receipt_message(FACTS) == (
        b"examhall-receipt/1\n17\n3\nD2026110001\n2026-11-28T10:55:01.250000+00:00\n" + FACTS.digest.encode()
    )


def test_the_instant_is_signed_in_utc_with_microseconds() -> None:
    whole_second = dataclasses.replace(FACTS, submitted_at=datetime(2026, 11, 28, 18, 55, 1, tzinfo=CST))
    assert b"\n2026-11-28T10:55:01.000000+00:00\n" in receipt_message(whole_second)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"submitted_at": datetime(2026, 11, 28, 10, 0)}, "timezone"),
        ({"ticket_number": "D1\n2"}, "line break"),
        ({"ticket_number": "D1\r"}, "line break"),
        ({"digest": "AB" * 32}, "digest"),
        ({"digest": "ab" * 31}, "digest"),
        ({"digest": "ab" * 32 + "\n"}, "digest"),
        ({"digest": ""}, "digest"),
    ],
)
def test_facts_that_could_not_be_signed_unambiguously_are_refused(change: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(FACTS, **change)  # type: ignore[arg-type]


# --- signing and the code -------------------------------------------------------------------------


def test_the_code_is_short_grouped_base32_and_deterministic() -> None:
    """R-SCORE-7: a short code derived from the server's signature; Ed25519 is deterministic."""
    signature, code = sign_receipt(SEED, FACTS)
    assert len(signature) == 64
    assert CODE.match(code)
    assert sign_receipt(SEED, FACTS) == (signature, code)
    assert receipt_code(signature) == code
    nacl.signing.VerifyKey(VERIFY).verify(receipt_message(FACTS), signature)


def test_the_code_is_the_documented_digest_of_the_signature() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    expected = base64.b32encode(hashlib.sha256(signature).digest()[:10]).decode()
    assert "=" not in expected
    assert code.replace("-", "") == expected
    assert receipt_code(bytes(64)) != receipt_code(bytes(63) + b"\x01")


def test_different_facts_or_keys_give_different_codes() -> None:
    _sig, code = sign_receipt(SEED, FACTS)
    assert sign_receipt(SEED, dataclasses.replace(FACTS, attempt_id=18))[1] != code
    assert sign_receipt(new_signing_key(), FACTS)[1] != code


def test_a_valid_receipt_checks_out() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    assert check_receipt(VERIFY, FACTS, signature, code) == ReceiptCheck.VALID
    # The same instant in another zone is the same fact.
    shanghai = dataclasses.replace(FACTS, submitted_at=FACTS.submitted_at.astimezone(CST))
    assert check_receipt(VERIFY, shanghai, signature, code) == ReceiptCheck.VALID
    # A signature read back from the database as a memoryview still verifies.
    assert check_receipt(VERIFY, FACTS, memoryview(signature), code) == ReceiptCheck.VALID  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"digest": answers_digest({1: "A", 2: "BD", 3: "T"})},
        {"digest": answers_digest({1: "A", 2: "BC"})},
        {"attempt_id": 18},
        {"attempt_id": 171},
        {"sitting_id": 4},
        {"ticket_number": "D2026110002"},
        {"ticket_number": "D2026110001 "},
        {"ticket_number": ""},
        {"submitted_at": FACTS.submitted_at + timedelta(microseconds=1)},
        {"submitted_at": FACTS.submitted_at - timedelta(hours=8)},
    ],
)
def test_any_changed_fact_is_detected(change: dict[str, object]) -> None:
    """R-SCORE-7: the office verifies the receipt against the answers as stored now."""
    signature, code = sign_receipt(SEED, FACTS)
    altered = dataclasses.replace(FACTS, **change)  # type: ignore[arg-type]
    assert check_receipt(VERIFY, altered, signature, code) == ReceiptCheck.ANSWERS_CHANGED


def test_fields_cannot_be_shifted_between_lines() -> None:
    """attempt 1, sitting 23 and attempt 12, sitting 3 sign different messages."""
    one = ReceiptFacts(1, 23, "T", FACTS.submitted_at, FACTS.digest)
    other = ReceiptFacts(12, 3, "T", FACTS.submitted_at, FACTS.digest)
    assert receipt_message(one) != receipt_message(other)
    signature, code = sign_receipt(SEED, one)
    assert check_receipt(VERIFY, other, signature, code) == ReceiptCheck.ANSWERS_CHANGED


def test_a_tampered_or_malformed_signature_is_answers_changed() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    for bad in (flipped, signature[:-1], signature + b"\x00", b"", bytes(64)):
        assert check_receipt(VERIFY, FACTS, bad, code) == ReceiptCheck.ANSWERS_CHANGED


def test_another_sites_key_does_not_verify() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    other = new_signing_key()
    assert check_receipt(verify_key_of(other), FACTS, signature, code) == ReceiptCheck.ANSWERS_CHANGED


@pytest.mark.parametrize("key", [b"short", b"", bytes(33), "x" * 32])
def test_an_unusable_verify_key_is_reported_not_raised(key: bytes) -> None:
    signature, code = sign_receipt(SEED, FACTS)
    assert check_receipt(key, FACTS, signature, code) == ReceiptCheck.INVALID_KEY


def test_a_code_of_another_receipt_is_a_mismatch() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    _other_sig, other_code = sign_receipt(SEED, dataclasses.replace(FACTS, attempt_id=99))
    assert check_receipt(VERIFY, FACTS, signature, other_code) == ReceiptCheck.CODE_MISMATCH
    assert check_receipt(VERIFY, FACTS, signature, "not a code") == ReceiptCheck.CODE_MISMATCH
    assert check_receipt(VERIFY, FACTS, signature, "") == ReceiptCheck.CODE_MISMATCH
    assert check_receipt(VERIFY, FACTS, signature, code[:-1]) == ReceiptCheck.CODE_MISMATCH


def test_a_code_typed_carelessly_still_checks_out() -> None:
    signature, code = sign_receipt(SEED, FACTS)
    typed = code.lower().replace("-", " ")
    assert check_receipt(VERIFY, FACTS, signature, typed) == ReceiptCheck.VALID


# --- reading codes back ---------------------------------------------------------------------------


def test_codes_are_read_back_the_way_people_type_them() -> None:
    _sig, code = sign_receipt(SEED, FACTS)
    plain = code.replace("-", "")
    assert normalise_code(code) == plain
    assert normalise_code(plain) == plain
    assert normalise_code(code.lower()) == plain
    assert normalise_code(code.lower().replace("-", " ")) == plain
    assert normalise_code(f"  {code}\n") == plain
    assert normalise_code(code.replace("-", "–")) == plain  # an en dash from a word processor


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("ABCD-EFGH-IJKL-MNOP", "ABCDEFGHIJKLMNOP"),
        ("0BCD-EFGH-1JKL-MN8P", "OBCDEFGHIJKLMNBP"),
        ("abcd efgh ijkl mnop", "ABCDEFGHIJKLMNOP"),
        ("ＡＢＣＤ－ＥＦＧＨ－ＩＪＫＬ－ＭＮＯＰ", "ABCDEFGHIJKLMNOP"),  # full-width input
        ("2345-6723-4567-2345", "2345672345672345"),
    ],
)
def test_confusable_characters_are_read_as_base32(typed: str, read: str) -> None:
    assert normalise_code(typed) == read


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCD-EFGH",
        "ABCD-EFGH-JKLM-NPQ",
        "ABCD-EFGH-JKLM-NPQRS",
        "ABCD-EFGH-JKLM-NPQ9",
        "ABCD-EFGH-JKLM-NPQ=",
        "é" * 16,
    ],
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert normalise_code(typed) is None


# --- properties -----------------------------------------------------------------------------------

FACT_VALUES = st.builds(
    ReceiptFacts,
    attempt_id=st.integers(1, 2**63 - 1),
    sitting_id=st.integers(1, 2**31 - 1),
    ticket_number=st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=24),
    submitted_at=st.datetimes(
        min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC) | st.just(CST)
    ),
    digest=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)


@given(FACT_VALUES)
def test_every_receipt_verifies_and_signing_is_deterministic(facts: ReceiptFacts) -> None:
    signature, code = sign_receipt(SEED, facts)
    assert sign_receipt(SEED, facts) == (signature, code)
    assert CODE.match(code)
    assert check_receipt(VERIFY, facts, signature, code) == ReceiptCheck.VALID
    assert check_receipt(VERIFY, facts, signature, code.lower().replace("-", "")) == ReceiptCheck.VALID


@given(FACT_VALUES, FACT_VALUES)
def test_any_change_of_any_fact_is_answers_changed(facts: ReceiptFacts, other: ReceiptFacts) -> None:
    """R-SCORE-7: for every field, replacing it with a different value breaks the signature."""
    signature, code = sign_receipt(SEED, facts)
    for field in dataclasses.fields(ReceiptFacts):
        new_value = getattr(other, field.name)
        if new_value == getattr(facts, field.name):
            continue  # equal (for datetimes: the same instant) is not a change
        altered = dataclasses.replace(facts, **{field.name: new_value})
        assert check_receipt(VERIFY, altered, signature, code) == ReceiptCheck.ANSWERS_CHANGED, field.name


@given(FACT_VALUES, st.binary(min_size=1, max_size=64))
def test_a_code_not_derived_from_the_signature_is_a_mismatch(facts: ReceiptFacts, other_signature: bytes) -> None:
    signature, code = sign_receipt(SEED, facts)
    other_code = receipt_code(other_signature)
    expected = ReceiptCheck.VALID if other_code == code else ReceiptCheck.CODE_MISMATCH
    assert check_receipt(VERIFY, facts, signature, other_code) == expected


@given(st.binary(min_size=64, max_size=64), st.sampled_from([str.lower, str.upper]), st.sampled_from(["-", " ", ""]))
def test_codes_round_trip_through_normalise_code(signature: bytes, case: object, sep: str) -> None:
    code = receipt_code(signature)
    plain = code.replace("-", "")
    typed = case(code).replace("-", sep)  # type: ignore[operator]
    assert normalise_code(typed) == plain
    assert normalise_code(plain) == plain
    assert "-".join(plain[i : i + 4] for i in range(0, 16, 4)) == code
