"""Sealing (封装) of assembled papers with libsodium SecretBox (pynacl), R-PAPER-5.

Each paper set gets its own random key; that key is stored only wrapped (encrypted) with
the site's sealing key, which lives outside the database (data folder or environment).
Someone holding a database dump alone cannot read a paper.
"""

from __future__ import annotations

import json
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils

KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE


class SealBroken(ValueError):
    """A ciphertext does not open with the key given (wrong key or altered data)."""


def new_paper_set_key() -> bytes:
    return bytes(nacl.utils.random(KEY_BYTES))


def wrap_key(site_key: bytes, paper_set_key: bytes) -> bytes:
    return bytes(nacl.secret.SecretBox(site_key).encrypt(paper_set_key))


def unwrap_key(site_key: bytes, wrapped: bytes) -> bytes:
    try:
        return bytes(nacl.secret.SecretBox(site_key).decrypt(wrapped))
    except nacl.exceptions.CryptoError as exc:
        raise SealBroken("the paper set key does not open with this site's sealing key") from exc


def seal(paper_set_key: bytes, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return bytes(nacl.secret.SecretBox(paper_set_key).encrypt(body))


def open_seal(paper_set_key: bytes, ciphertext: bytes) -> dict[str, Any]:
    try:
        body = nacl.secret.SecretBox(paper_set_key).decrypt(ciphertext)
    except nacl.exceptions.CryptoError as exc:
        raise SealBroken("a sealed paper was altered or belongs to another paper set") from exc
    result: dict[str, Any] = json.loads(body)
    return result
