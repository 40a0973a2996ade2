"""Translations: zh-CN and English from Babel/gettext catalogs in ``web/locale``.

Message ids are English; ``zh_CN`` is the usual site default (Settings.default_locale).
The ``.po`` files are compiled in memory at start-up, so there is no build step.
The locale of the request being served is held in a context variable.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from examhall.config import LOCALES

LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}
LANG_COOKIE = "examhall_lang"

_current: ContextVar[str] = ContextVar("examhall_locale", default="zh_CN")
_catalogs: dict[str, Translations] = {}
# The site's time zone (Settings.timezone), set once per process by create_app.
_zone: list[ZoneInfo] = [ZoneInfo("Asia/Shanghai")]


def set_timezone(name: str) -> None:
    _zone[0] = ZoneInfo(name)


def site_time(value: datetime | str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time (or its ISO text) as the site's local wall-clock time."""
    return site_moment(value).strftime(fmt)


def site_moment(value: datetime | str) -> datetime:
    """A stored UTC time (or its ISO text) in the site's time zone."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(_zone[0])


def load_catalogs(locale_dir: Path) -> dict[str, Translations]:
    """Read every locale's messages.po (once per process)."""
    for locale in LOCALES:
        if locale in _catalogs:
            continue
        po = locale_dir / locale / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
            buf = io.BytesIO()
            write_mo(buf, catalog)
            buf.seek(0)
            _catalogs[locale] = Translations(fp=buf)
        else:
            _catalogs[locale] = Translations()
    return _catalogs


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else LOCALES[0])


def current_locale() -> str:
    return _current.get()


def gettext(message: str, **params: Any) -> str:
    catalog = _catalogs.get(_current.get())
    text = catalog.gettext(message) if catalog is not None else message
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    catalog = _catalogs.get(_current.get())
    text = catalog.ngettext(singular, plural, n) if catalog is not None else (singular if n == 1 else plural)
    params.setdefault("num", n)
    return text % params


_ = gettext


def N_(message: str) -> str:
    """Mark a constant message for extraction; it is translated where it is shown."""
    return message


def pick_locale(chosen: str | None, saved: str | None, default: str) -> str:
    """The explicit choice (language switch cookie), else the user's saved choice, else the site's."""
    for candidate in (chosen, saved, default):
        if candidate in LOCALES:
            return candidate
    return LOCALES[0]


def html_lang(locale: str) -> str:
    return "zh-CN" if locale == "zh_CN" else locale
