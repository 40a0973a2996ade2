"""Translations: every message shown by the code or the templates has a zh_CN translation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from examhall import i18n

REPO = Path(__file__).resolve().parents[2]
LOCALE_DIR = REPO / "web" / "locale"
ZH_PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"

# The same method map as babel.cfg, and the keywords the code uses.
METHOD_MAP = [("examhall/**.py", "python"), ("web/templates/**.html", "jinja2.ext.babel_extract")]
OPTIONS_MAP = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}

PLACEHOLDER = re.compile(r"%\(([^)]+)\)")

Extracted = tuple[str, int, str | tuple[str, ...]]


def _extract() -> list[Extracted]:
    found: list[Extracted] = []
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(REPO), method_map=METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS
    ):
        found.append((filename, lineno, message))
    return found


EXTRACTED = _extract()


def _read(po: Path, locale: str) -> Catalog:
    with po.open("rb") as fh:
        return read_po(fh, locale=locale)


def _singular(message: str | tuple[str, ...]) -> str:
    return message[0] if isinstance(message, tuple) else message


def _texts(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture(autouse=True)
def _restore_locale() -> Iterator[None]:
    i18n.load_catalogs(LOCALE_DIR)
    before = i18n.current_locale()
    yield
    i18n.set_locale(before)


def test_extraction_finds_messages_in_code_and_templates() -> None:
    files = {filename for filename, _, _ in EXTRACTED}
    assert any(f.startswith("examhall/") for f in files)
    assert any(f.startswith("web/templates/") for f in files)


@pytest.mark.parametrize(
    ("filename", "lineno", "message"),
    EXTRACTED,
    ids=[f"{f}:{n}" for f, n, _ in EXTRACTED],
)
def test_every_message_has_a_zh_cn_translation(filename: str, lineno: int, message: str | tuple[str, ...]) -> None:
    catalog = _read(ZH_PO, "zh_CN")
    entry = catalog.get(_singular(message))
    assert entry is not None, f"{filename}:{lineno}: {message!r} is missing from {ZH_PO.name}"
    assert not entry.fuzzy, f"{message!r} is marked fuzzy, so it is not used"
    translations = _texts(entry.string)
    assert translations and all(t.strip() for t in translations), f"{message!r} has no zh_CN translation"
    wanted = set().union(*(PLACEHOLDER.findall(m) for m in _texts(message)))
    for text in translations:
        assert set(PLACEHOLDER.findall(text)) == wanted, f"placeholders differ between {message!r} and {text!r}"


def test_catalog_placeholders_match_everywhere() -> None:
    """Also entries no longer extracted: a bad placeholder would raise when the text is formatted."""
    for po, locale in ((ZH_PO, "zh_CN"), (EN_PO, "en")):
        for entry in _read(po, locale):
            if not entry.id or not entry.string:
                continue
            wanted = set().union(*(PLACEHOLDER.findall(m) for m in _texts(entry.id)))
            for text in _texts(entry.string):
                if text:
                    assert set(PLACEHOLDER.findall(text)) == wanted, (po.name, entry.id, text)


def _translated_entries() -> list[tuple[str, str]]:
    catalog = _read(ZH_PO, "zh_CN")
    return [
        (entry.id, entry.string)
        for entry in catalog
        if entry.id and isinstance(entry.id, str) and isinstance(entry.string, str) and entry.string
        if not entry.fuzzy
    ]


def test_gettext_follows_the_locale() -> None:
    entries = _translated_entries()
    assert entries
    english = {e.id: e.string for e in _read(EN_PO, "en") if e.id and e.string and not e.fuzzy}
    for msgid, msgstr in entries:
        params = {name: "张三" for name in PLACEHOLDER.findall(msgid)}
        i18n.set_locale("zh_CN")
        assert i18n.current_locale() == "zh_CN"
        assert i18n.gettext(msgid, **params) == (msgstr % params if params else msgstr)
        assert i18n._(msgid, **params) == i18n.gettext(msgid, **params)
        i18n.set_locale("en")
        assert i18n.current_locale() == "en"
        shown = english.get(msgid, msgid)
        assert i18n.gettext(msgid, **params) == (shown % params if params else shown)


def test_gettext_fills_placeholders_in_both_languages() -> None:
    with_params = [(i, s) for i, s in _translated_entries() if PLACEHOLDER.search(i)]
    assert with_params, "no message with a %(name)s placeholder to try"
    msgid, _ = with_params[0]
    params = {name: "王五" for name in PLACEHOLDER.findall(msgid)}
    for locale in ("zh_CN", "en"):
        i18n.set_locale(locale)
        text = i18n.gettext(msgid, **params)
        assert "王五" in text
        assert "%(" not in text


def test_chinese_really_is_chinese() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    i18n.set_locale("zh_CN")
    shown = [i18n.gettext(msgid, **{n: "1" for n in PLACEHOLDER.findall(msgid)}) for msgid, _ in _translated_entries()]
    assert shown
    assert all(han.search(text) for text in shown), [t for t in shown if not han.search(t)]
    i18n.set_locale("en")
    shown = [i18n.gettext(msgid, **{n: "1" for n in PLACEHOLDER.findall(msgid)}) for msgid, _ in _translated_entries()]
    assert not any(han.search(text) for text in shown)


def test_unknown_message_is_shown_as_is() -> None:
    for locale in ("zh_CN", "en"):
        i18n.set_locale(locale)
        assert i18n.gettext("No such message 7f3a") == "No such message 7f3a"
        assert i18n.gettext("Seat %(seat)s of no such room", seat=17) == "Seat 17 of no such room"


def test_unknown_locale_falls_back_to_chinese() -> None:
    i18n.set_locale("fr")
    assert i18n.current_locale() == "zh_CN"


def test_ngettext_untranslated_picks_singular_or_plural() -> None:
    i18n.set_locale("en")
    assert i18n.ngettext("%(num)s seat left", "%(num)s seats left", 1) == "1 seat left"
    assert i18n.ngettext("%(num)s seat left", "%(num)s seats left", 3) == "3 seats left"
    assert i18n.ngettext("%(num)s of %(room)s", "%(num)s of %(room)s", 2, room="301") == "2 of 301"


def test_n_marks_without_translating() -> None:
    i18n.set_locale("zh_CN")
    msgid = _translated_entries()[0][0]
    assert i18n.N_(msgid) == msgid


# --- pick_locale --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "saved", "default", "expected"),
    [
        ("en", "zh_CN", "zh_CN", "en"),
        ("zh_CN", "en", "en", "zh_CN"),
        (None, "en", "zh_CN", "en"),
        (None, None, "en", "en"),
        (None, None, "zh_CN", "zh_CN"),
        ("fr", "en", "zh_CN", "en"),
        ("", "en", "zh_CN", "en"),
        ("fr", "de", "en", "en"),
        ("zh-CN", None, "en", "en"),
        ("EN", None, "zh_CN", "zh_CN"),
    ],
)
def test_pick_locale_precedence(chosen: str | None, saved: str | None, default: str, expected: str) -> None:
    assert i18n.pick_locale(chosen, saved, default) == expected


locale_values = st.one_of(
    st.none(),
    st.sampled_from(["zh_CN", "en"]),
    st.sampled_from(["", "fr", "zh", "en_US", "ZH_CN"]),
    st.text(max_size=6),
)


@given(chosen=locale_values, saved=locale_values, default=locale_values)
@settings(max_examples=200)
def test_pick_locale_takes_the_first_known_value(chosen: str | None, saved: str | None, default: str | None) -> None:
    known = [v for v in (chosen, saved, default) if v in ("zh_CN", "en")]
    picked = i18n.pick_locale(chosen, saved, default)  # type: ignore[arg-type]
    assert picked in ("zh_CN", "en")
    if known:
        assert picked == known[0]
