"""Settings: defaults < TOML file < EXAMHALL_* environment < explicit overrides."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from examhall.config import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default data folder is relative; keep it (and any examhall.toml) inside tmp_path."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write_toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults -----------------------------------------------------------------------------


def test_defaults(cwd: Path) -> None:
    s = load_settings(env={})
    assert s.port == 8000
    assert s.host == "127.0.0.1"
    assert s.workers == 1
    assert s.database_url == ""
    assert s.secret_key == ""
    assert s.cookie_secure is False
    assert s.default_locale == "zh_CN"
    assert s.timezone == "Asia/Shanghai"
    assert s.session_minutes == 480
    assert s.session_max_hours == 14
    assert s.max_failed_logins == 5
    assert s.lockout_minutes == 15
    assert s.data_dir == (cwd / ".examhall").resolve()
    assert s.data_dir.is_absolute()
    assert s.pg_dir == s.data_dir / "pg"


def test_the_real_environment_does_not_leak_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMHALL_PORT", "9999")
    monkeypatch.setenv("EXAMHALL_DEFAULT_LOCALE", "fr")
    assert load_settings(env={}).port == 8000


def test_the_process_environment_is_used_when_no_env_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("EXAMHALL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EXAMHALL_PORT", "9123")
    assert load_settings().port == 9123


# --- environment --------------------------------------------------------------------------


def test_env_overrides(tmp_path: Path) -> None:
    s = load_settings(
        env={
            "EXAMHALL_PORT": "8443",
            "EXAMHALL_WORKERS": "4",
            "EXAMHALL_HOST": "192.168.10.2",
            "EXAMHALL_DATA": str(tmp_path / "site-data"),
            "EXAMHALL_DATABASE_URL": "postgresql://exam:pw@db.lan:5432/examhall",
            "EXAMHALL_DEFAULT_LOCALE": "en",
            "EXAMHALL_TIMEZONE": "Asia/Urumqi",
            "EXAMHALL_SITE_NAME": "某市职业技能鉴定中心",
            "EXAMHALL_MAX_FAILED_LOGINS": "3",
            "UNRELATED": "x",
        }
    )
    assert s.port == 8443
    assert s.workers == 4
    assert s.host == "192.168.10.2"
    assert s.data_dir == (tmp_path / "site-data").resolve()
    assert s.database_url == "postgresql://exam:pw@db.lan:5432/examhall"
    assert s.default_locale == "en"
    assert s.timezone == "Asia/Urumqi"
    assert s.site_name == "某市职业技能鉴定中心"
    assert s.max_failed_logins == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("1", True),
        ("on", True),
        (" true ", True),
        ("false", False),
        ("no", False),
        ("0", False),
        ("off", False),
        ("False", False),
    ],
)
def test_env_cookie_secure(raw: str, expected: bool) -> None:
    assert load_settings(env={"EXAMHALL_COOKIE_SECURE": raw}).cookie_secure is expected


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("EXAMHALL_PORT", "eighty"),
        ("EXAMHALL_PORT", "80.5"),
        ("EXAMHALL_WORKERS", "many"),
        ("EXAMHALL_SESSION_MINUTES", ""),
        ("EXAMHALL_COOKIE_SECURE", "maybe"),
        ("EXAMHALL_COOKIE_SECURE", "2"),
    ],
)
def test_bad_env_value_names_the_variable(var: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_settings(env={var: raw})


# --- TOML file ----------------------------------------------------------------------------


def test_toml_values(tmp_path: Path) -> None:
    toml = write_toml(
        tmp_path / "site.toml",
        'port = 8100\nworkers = 3\ncookie_secure = true\ndefault_locale = "en"\n'
        'site_name = "职业技能等级认定考试系统（一号考点）"\ntimezone = "UTC"\n'
        f'data_dir = "{(tmp_path / "toml-data").as_posix()}"\n',
    )
    s = load_settings(env={}, toml_path=toml)
    assert s.port == 8100
    assert s.workers == 3
    assert s.cookie_secure is True
    assert s.default_locale == "en"
    assert s.site_name == "职业技能等级认定考试系统（一号考点）"
    assert s.timezone == "UTC"
    assert s.data_dir == (tmp_path / "toml-data").resolve()
    assert s.host == "127.0.0.1"  # untouched settings keep their defaults


def test_env_beats_toml_and_overrides_beat_env(tmp_path: Path) -> None:
    toml = write_toml(tmp_path / "site.toml", 'port = 8100\nworkers = 3\nhost = "10.0.0.5"\n')
    env = {"EXAMHALL_PORT": "8200", "EXAMHALL_WORKERS": "5"}
    s = load_settings(env=env, toml_path=toml)
    assert (s.port, s.workers, s.host) == (8200, 5, "10.0.0.5")
    s = load_settings(env=env, toml_path=toml, port=8300)
    assert (s.port, s.workers, s.host) == (8300, 5, "10.0.0.5")


def test_overrides_are_checked_like_the_other_sources() -> None:
    assert load_settings(env={}, port="8001").port == 8001
    with pytest.raises(SettingsError, match="prot"):
        load_settings(env={}, prot=8001)
    with pytest.raises(SettingsError, match="port"):
        load_settings(env={}, port="eighty")


def test_toml_named_by_examhall_config(tmp_path: Path) -> None:
    toml = write_toml(tmp_path / "etc" / "examhall.toml", "port = 8111\n")
    assert load_settings(env={"EXAMHALL_CONFIG": str(toml)}).port == 8111


def test_examhall_toml_in_the_data_folder_is_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_toml(data / "examhall.toml", "port = 8122\n")
    assert load_settings(env={"EXAMHALL_DATA": str(data)}).port == 8122
    assert load_settings(env={}, data_dir=data).port == 8122


def test_the_data_folder_given_as_override_decides_which_examhall_toml_is_read(tmp_path: Path) -> None:
    """Overrides beat EXAMHALL_DATA, so the TOML file must come from the override's folder too."""
    chosen, other = tmp_path / "chosen", tmp_path / "other"
    write_toml(chosen / "examhall.toml", "port = 8133\n")
    other.mkdir()
    s = load_settings(env={"EXAMHALL_DATA": str(other)}, data_dir=chosen)
    assert s.data_dir == chosen.resolve()
    assert s.port == 8133


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    toml = write_toml(tmp_path / "site.toml", "port = 8100\nprot = 8101\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings(env={}, toml_path=toml)


def test_unreadable_toml_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"site\.toml"):
        load_settings(env={}, toml_path=write_toml(tmp_path / "site.toml", "port = = 1\n"))
    with pytest.raises(SettingsError, match=r"missing\.toml"):
        load_settings(env={}, toml_path=tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('"eighty"', id="text"),
        pytest.param('""', id="empty"),
        pytest.param("80.5", id="float"),
        pytest.param("true", id="bool"),
        pytest.param("[8000]", id="array"),
        pytest.param("{ value = 8000 }", id="table"),
    ],
)
def test_bad_int_in_toml_names_the_setting(tmp_path: Path, value: str) -> None:
    toml = write_toml(tmp_path / "site.toml", f"port = {value}\n")
    with pytest.raises(SettingsError, match="port"):
        load_settings(env={}, toml_path=toml)


@pytest.mark.parametrize("value", ['"maybe"', "2", '"enabled"'])
def test_bad_bool_in_toml_names_the_setting(tmp_path: Path, value: str) -> None:
    toml = write_toml(tmp_path / "site.toml", f"cookie_secure = {value}\n")
    with pytest.raises(SettingsError, match="cookie_secure"):
        load_settings(env={}, toml_path=toml)


# --- validated values ---------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "zh", "zh-CN", "EN", ""])
def test_bad_locale(tmp_path: Path, locale: str) -> None:
    with pytest.raises(SettingsError, match="default_locale"):
        load_settings(env={"EXAMHALL_DEFAULT_LOCALE": locale})
    toml = write_toml(tmp_path / "site.toml", f'default_locale = "{locale}"\n')
    with pytest.raises(SettingsError, match="default_locale"):
        load_settings(env={}, toml_path=toml)
    with pytest.raises(SettingsError, match="default_locale"):
        load_settings(env={}, default_locale=locale)


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "Asia/Peking", "", "../etc/passwd", "Beijing"])
def test_bad_timezone(tz: str) -> None:
    with pytest.raises(SettingsError, match="timezone"):
        load_settings(env={"EXAMHALL_TIMEZONE": tz})


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one(tmp_path: Path, workers: str) -> None:
    with pytest.raises(SettingsError, match="workers"):
        load_settings(env={"EXAMHALL_WORKERS": workers})
    toml = write_toml(tmp_path / "site.toml", f"workers = {workers}\n")
    with pytest.raises(SettingsError, match="workers"):
        load_settings(env={}, toml_path=toml)
    with pytest.raises(SettingsError, match="workers"):
        load_settings(env={}, workers=int(workers))


# --- secret key ---------------------------------------------------------------------------


def test_secret_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "not-yet-there"
    settings = load_settings(env={}, data_dir=data)
    key = settings.resolved_secret_key()
    key_file = data / "secret.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert key.strip() == key
    assert key_file.read_text().strip() == key
    assert settings.resolved_secret_key() == key
    # A new process (new Settings) keeps using the same key.
    assert load_settings(env={"EXAMHALL_DATA": str(data)}).resolved_secret_key() == key
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_secret_keys_differ_between_data_folders(tmp_path: Path) -> None:
    a = load_settings(env={}, data_dir=tmp_path / "a").resolved_secret_key()
    b = load_settings(env={}, data_dir=tmp_path / "b").resolved_secret_key()
    assert a != b


def test_configured_secret_key_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    s = load_settings(env={"EXAMHALL_SECRET_KEY": "from-env-0123456789abcdef0123456789"}, data_dir=data)
    assert s.resolved_secret_key() == "from-env-0123456789abcdef0123456789"
    assert not (data / "secret.key").exists()


def test_settings_are_immutable() -> None:
    s = load_settings(env={})
    assert isinstance(s, Settings)
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
