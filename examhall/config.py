"""One Settings object for the whole server.

Values come, in rising precedence, from the defaults below, an optional TOML file
(``EXAMHALL_CONFIG``, or ``examhall.toml`` in the data folder) and ``EXAMHALL_*``
environment variables. Nothing is read at import time: callers build a Settings
with :func:`load_settings` and hand it to ``create_app`` (so tests build their own).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent

LOCALES = ("zh_CN", "en")


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    # Where the embedded PostgreSQL cluster, the secret key and uploads live.
    data_dir: Path = Path(".examhall")
    # External PostgreSQL; when empty the embedded server (pgserver) is started in data_dir/pg.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Signs cookies and CSRF tokens. When empty it is generated once and kept in data_dir/secret.key.
    secret_key: str = ""
    # Idle timeout of a staff or candidate session, and the absolute cap.
    session_minutes: int = 480
    session_max_hours: int = 14
    # Behind nginx with TLS set true so cookies carry the Secure flag.
    cookie_secure: bool = False
    default_locale: str = "zh_CN"
    # Times are shown in the site's time zone; they are stored in UTC.
    timezone: str = "Asia/Shanghai"
    site_name: str = "职业技能等级认定考试系统"
    # argon2id parameters (OWASP minimum m=19 MiB, t=2, p=1) and a cap on concurrent hashes,
    # so that a login storm cannot exhaust memory.
    argon2_memory_kib: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    max_concurrent_hashes: int = 4
    # Failed staff logins before the account is locked for lockout_minutes.
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    db_pool_size: int = 10
    # R-PAPER-5: the chief may unseal a sitting's papers from this many minutes before its start.
    unseal_minutes_before: int = 30
    # Key that wraps each paper set's key (hex, 64 characters). When empty it is generated once
    # and kept in data_dir/sealing.key — outside the database, never beside the ciphertext.
    sealing_key: str = ""
    # Ed25519 seed (hex, 64 characters) that signs candidates' receipts (R-SCORE-7). When empty it
    # is generated once and kept in data_dir/receipt.key.
    receipt_key: str = ""
    log_level: str = "INFO"
    web_dir: Path = REPO_ROOT / "web"

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"

    def resolved_secret_key(self) -> str:
        """The configured key, or the one kept in the data folder (created on first use)."""
        if self.secret_key:
            return self.secret_key
        return _key_file(self, "secret.key", lambda: secrets.token_hex(32))

    def resolved_sealing_key(self) -> bytes:
        """The 32-byte key that wraps paper-set keys (R-PAPER-5)."""
        return _hex_key(
            "sealing_key", self.sealing_key or _key_file(self, "sealing.key", lambda: secrets.token_hex(32))
        )

    def resolved_receipt_key(self) -> bytes:
        """The 32-byte Ed25519 seed that signs receipts (R-SCORE-7)."""
        return _hex_key(
            "receipt_key", self.receipt_key or _key_file(self, "receipt.key", lambda: secrets.token_hex(32))
        )


def _hex_key(name: str, text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise SettingsError(f"{name} must be 64 hexadecimal characters") from exc
    if len(key) != 32:
        raise SettingsError(f"{name} must be 64 hexadecimal characters")
    return key


_KEYS_READ: dict[Path, str] = {}  # a key file is read once per process (every receipt is signed with one)


def _key_file(settings: Settings, name: str, make: Any) -> str:
    key_file = settings.data_dir / name
    known = _KEYS_READ.get(key_file)
    if known is not None:
        return known
    if not key_file.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(make())
        key_file.chmod(0o600)
    _KEYS_READ[key_file] = text = key_file.read_text().strip()
    return text


def _coerce(field: dataclasses.Field[Any], raw: Any, source: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    try:
        if kind == "int":
            # Refuse true, 80.5, lists and tables rather than turning them into some number.
            if isinstance(raw, bool | float | list | dict):
                raise ValueError(raw)
            return int(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "Path":
            return Path(str(raw))
        return str(raw)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{source}: {raw!r} is not a valid {kind}") from exc


def load_settings(env: Mapping[str, str] | None = None, toml_path: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, an optional TOML file, EXAMHALL_* variables and overrides."""
    env = os.environ if env is None else env
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}

    data_dir = Path(overrides.get("data_dir") or env.get("EXAMHALL_DATA") or Settings.data_dir)
    if toml_path is None:
        if env.get("EXAMHALL_CONFIG"):
            toml_path = Path(env["EXAMHALL_CONFIG"])
        elif (data_dir / "examhall.toml").exists():
            toml_path = data_dir / "examhall.toml"
    if toml_path is not None:
        try:
            table = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {toml_path}: {exc}") from exc
        for key, raw in table.items():
            if key not in fields:
                raise SettingsError(f"{toml_path}: unknown setting {key!r}")
            values[key] = _coerce(fields[key], raw, f"{toml_path}: {key}")

    for name, field in fields.items():
        var = f"EXAMHALL_{name.upper()}"
        if name == "data_dir":
            var = "EXAMHALL_DATA"
        if var in env:
            values[name] = _coerce(field, env[var], var)
    for key, raw in overrides.items():
        if key not in fields:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = _coerce(fields[key], raw, key)

    settings = Settings(**values)
    if settings.default_locale not in LOCALES:
        raise SettingsError(f"default_locale must be one of {', '.join(LOCALES)}")
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"timezone: unknown time zone {settings.timezone!r}") from exc
    if settings.workers < 1:
        raise SettingsError("workers must be at least 1")
    return dataclasses.replace(settings, data_dir=settings.data_dir.resolve())
