"""Pure rules of paper assembly (组卷): blueprints, feasibility, drawing papers, forms and seats.

R-PAPER-1 a blueprint (组卷计划) says per knowledge point and item type how many items, with the
points per item in each section and optionally a difficulty mix; R-PAPER-2 papers are drawn at
random, reproducibly from a recorded seed, as one paper, parallel forms or one per candidate,
with item and option order shuffled; R-PAPER-3 no item twice in a paper and no shared form
between neighbouring seats; R-PAPER-6 a blueprint the bank cannot satisfy is refused naming
the knowledge point and the number of missing items.

No I/O and no database: dataclasses in, dataclasses out. Only the standard library and
``examhall.bank.rules`` are imported (import-linter contract).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final

from examhall.bank import rules as bank_rules

FORMAT: Final = "examhall-blueprint/1"
ALL_OR_NOTHING: Final = "all_or_nothing"
PARTIAL: Final = "partial"
SCORINGS: Final = (ALL_OR_NOTHING, PARTIAL)
MODES: Final = ("single", "forms", "per_candidate")
MIX_TOLERANCE: Final = 0.001

_REQUIRED_KEYS: Final = ("format", "name", "level", "duration_minutes", "pass_mark", "total_points", "sections", "rows")
_OPTIONAL_KEYS: Final = ("difficulty_mix", "description")
_SECTION_KEYS: Final = ("type", "title", "points_each", "scoring")


# --- the blueprint ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolItem:
    """One usable item revision of the bank version, at the blueprint's level."""

    revision_id: int
    item_id: int
    kp_path: tuple[str, ...]  # ancestors and own leaf code, e.g. ("05", "05.02")
    type: str  # "judge" | "single" | "multiple"
    difficulty: int  # 1 易, 2 中, 3 难
    option_count: int  # 0 for judge


@dataclass(frozen=True)
class Section:
    """One part of the paper: all items of one type, each worth ``points_each`` (R-PAPER-1)."""

    type: str
    title: str
    points_each: Decimal
    scoring: str = ALL_OR_NOTHING  # or "partial" (multiple only)


@dataclass(frozen=True)
class BlueprintRow:
    """How many items of each type come from one knowledge point's subtree (R-PAPER-1)."""

    kp: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class BlueprintSpec:
    name: str
    level: int
    duration_minutes: int
    pass_mark: Decimal
    total_points: Decimal
    sections: tuple[Section, ...]
    rows: tuple[BlueprintRow, ...]
    difficulty_mix: Mapping[int, float] | None = None

    def section_of(self, item_type: str) -> int | None:
        """Index of the section holding items of this type, or None."""
        for index, section in enumerate(self.sections):
            if section.type == item_type:
                return index
        return None

    @property
    def item_count(self) -> int:
        return sum(sum(row.counts.values()) for row in self.rows)


class BlueprintError(ValueError):
    """The blueprint document is not valid; ``problems`` names every problem with its field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _fmt(value: Decimal) -> str:
    """100 rather than 1E+2 or 100.00 in messages."""
    return format(value.normalize(), "f")


def _is_ancestor(code: str, other: str) -> bool:
    """Knowledge-point code ``code`` lies above ``other`` ("05" above "05.02")."""
    return other.startswith(code + ".")


def _decimal(raw: object) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    try:
        if isinstance(raw, Decimal):
            value = raw
        elif isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            value = Decimal(repr(raw))
        elif isinstance(raw, str):
            value = Decimal(raw.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _whole(raw: object) -> int | None:
    value = _decimal(raw)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def _points(raw: object) -> Decimal | None:
    """A positive number of points with at most two decimals."""
    value = _decimal(raw)
    if value is None or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return value


def _number_for_doc(value: Decimal) -> int | float | str:
    """JSON/YAML-friendly spelling that parses back to the same Decimal."""
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


def _parse_sections(raw: object, problems: list[str]) -> list[Section] | None:
    if not isinstance(raw, list) or not raw:
        problems.append("sections: must be a non-empty list of {type, title, points_each, scoring}")
        return None
    sections: list[Section] = []
    seen: dict[str, int] = {}
    ok = True
    for i, entry in enumerate(raw):
        where = f"sections[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping with type, title and points_each")
            ok = False
            continue
        for key in entry:
            if key not in _SECTION_KEYS:
                problems.append(f"{where}.{key}: unknown key (type, title, points_each, scoring)")
                ok = False
        for key in ("type", "title", "points_each"):
            if key not in entry:
                problems.append(f"{where}.{key}: missing")
                ok = False
        kind = entry.get("type")
        if "type" in entry:
            if kind not in bank_rules.ITEM_TYPES:
                problems.append(f"{where}.type: unknown item type {kind!r} (judge, single, multiple)")
                ok = False
            elif kind in seen:
                # Each type has one section, so the paper's parts are unambiguous.
                problems.append(f"{where}.type: duplicate section type {kind!r} (also sections[{seen[kind]}])")
                ok = False
            else:
                seen[str(kind)] = i
        title = entry.get("title")
        if "title" in entry and (not isinstance(title, str) or not title.strip()):
            problems.append(f"{where}.title: must be a non-empty text")
            ok = False
        points = _points(entry.get("points_each"))
        if "points_each" in entry and points is None:
            problems.append(f"{where}.points_each: points must be a positive number with at most 2 decimals")
            ok = False
        scoring = entry.get("scoring", ALL_OR_NOTHING)
        if scoring not in SCORINGS:
            problems.append(f"{where}.scoring: unknown scoring {scoring!r} (all_or_nothing, partial)")
            ok = False
        elif scoring == PARTIAL and kind != bank_rules.MULTIPLE:
            problems.append(f"{where}.scoring: partial credit applies to multiple-choice sections only")
            ok = False
        if ok:
            assert isinstance(title, str) and points is not None
            sections.append(Section(type=str(kind), title=title, points_each=points, scoring=str(scoring)))
    return sections if ok else None


def _parse_rows(raw: object, section_types: Collection[str] | None, problems: list[str]) -> list[BlueprintRow] | None:
    if not isinstance(raw, list) or not raw:
        problems.append("rows: must be a non-empty list of {kp, judge, single, multiple}")
        return None
    rows: list[BlueprintRow] = []
    ok = True
    first_at: dict[str, int] = {}
    for i, entry in enumerate(raw):
        where = f"rows[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping like {{kp: '05', judge: 2, single: 6}}")
            ok = False
            continue
        kp = entry.get("kp")
        if "kp" not in entry:
            problems.append(f"{where}.kp: missing")
            ok = False
        elif not isinstance(kp, str) or not bank_rules.KP_CODE.match(kp):
            problems.append(f"{where}.kp: {kp!r} is not a knowledge-point code like '05' or '05.02'")
            ok = False
            kp = None
        else:
            # R-PAPER-1: rows cover disjoint subtrees, so no item can count for two rows.
            for code, j in first_at.items():
                if code == kp:
                    problems.append(f"{where}.kp: knowledge point {kp} repeats rows[{j}]")
                    ok = False
                elif _is_ancestor(code, kp):
                    problems.append(f"{where}.kp: {kp} lies inside {code} of rows[{j}]")
                    ok = False
                elif _is_ancestor(kp, code):
                    problems.append(f"{where}.kp: {kp} contains {code} of rows[{j}]")
                    ok = False
            first_at.setdefault(kp, i)
        counts: dict[str, int] = {}
        for key, value in entry.items():
            if key == "kp":
                continue
            if key not in bank_rules.ITEM_TYPES:
                problems.append(f"{where}.{key}: unknown item type (judge, single, multiple)")
                ok = False
                continue
            count = _whole(value)
            if count is None or count < 0:
                problems.append(f"{where}.{key}: count must be a whole number ≥ 0")
                ok = False
                continue
            if count > 0 and section_types is not None and key not in section_types:
                problems.append(f"{where}.{key}: no section for {key} items (add one to sections)")
                ok = False
            counts[str(key)] = count
        if not any(key in bank_rules.ITEM_TYPES for key in entry):
            problems.append(f"{where}: no item counts (judge, single, multiple)")
            ok = False
        if ok and kp is not None:
            rows.append(BlueprintRow(kp=kp, counts=counts))
    return rows if ok else None


def _parse_mix(raw: object, problems: list[str]) -> dict[int, float] | None:
    if not isinstance(raw, Mapping) or not raw:
        problems.append("difficulty_mix: must map difficulties 1, 2, 3 (易/中/难) to shares summing to 1")
        return None
    mix: dict[int, float] = {}
    ok = True
    for key, value in raw.items():
        level = bank_rules.normalise_difficulty(key)
        if level is None:
            problems.append(f"difficulty_mix.{key}: difficulty must be 1, 2 or 3 (易/中/难)")
            ok = False
            continue
        if level in mix:
            problems.append(f"difficulty_mix.{key}: difficulty {level} is given twice")
            ok = False
            continue
        share = _decimal(value)
        if share is None or not 0 <= share <= 1:
            problems.append(f"difficulty_mix.{key}: share must be a number between 0 and 1")
            ok = False
            continue
        mix[level] = float(share)
    if ok:
        total = sum(mix.values())
        if abs(total - 1) > MIX_TOLERANCE:
            problems.append(f"difficulty_mix: shares add up to {round(total, 6)}, not 1")
            ok = False
    return dict(sorted(mix.items())) if ok else None


def parse_blueprint(doc: Mapping[str, Any]) -> BlueprintSpec:
    """Read a blueprint document ("examhall-blueprint/1", R-PAPER-1), collecting every problem.

    Raises BlueprintError whose ``problems`` name each field (``rows[3].single: …``; list
    indexes start at 0).
    """
    if not isinstance(doc, Mapping):
        raise BlueprintError(["blueprint: must be a mapping (examhall-blueprint/1)"])
    problems: list[str] = []
    for key in _REQUIRED_KEYS:
        if key not in doc:
            problems.append(f"{key}: missing")
    for key in doc:
        if key not in _REQUIRED_KEYS and key not in _OPTIONAL_KEYS:
            problems.append(f"{key}: unknown key")
    if "format" in doc and doc["format"] != FORMAT:
        problems.append(f"format: unknown format {doc['format']!r} (expected {FORMAT})")
    name = doc.get("name")
    if "name" in doc and (not isinstance(name, str) or not name.strip()):
        problems.append("name: must be a non-empty text")
    level = _whole(doc.get("level"))
    if "level" in doc and level not in bank_rules.LEVEL_NAMES_ZH:
        problems.append("level: must be a level from 5 (五级/初级工) to 1 (一级/高级技师)")
    duration = _whole(doc.get("duration_minutes"))
    if "duration_minutes" in doc and (duration is None or duration <= 0):
        problems.append("duration_minutes: must be a whole number of minutes > 0")
    total = _points(doc.get("total_points"))
    if "total_points" in doc and total is None:
        problems.append("total_points: points must be a positive number with at most 2 decimals")
    pass_mark = _decimal(doc.get("pass_mark"))
    if "pass_mark" in doc:
        if pass_mark is None or pass_mark <= 0:
            problems.append("pass_mark: must be a positive number")
            pass_mark = None
        elif total is not None and pass_mark > total:
            problems.append(f"pass_mark: {_fmt(pass_mark)} is more than total_points {_fmt(total)}")
    sections = _parse_sections(doc["sections"], problems) if "sections" in doc else None
    section_types = {s.type for s in sections} if sections is not None else None
    rows = _parse_rows(doc["rows"], section_types, problems) if "rows" in doc else None
    mix_raw = doc.get("difficulty_mix")
    mix = _parse_mix(mix_raw, problems) if mix_raw is not None else None
    if sections is not None and rows is not None and total is not None:
        points = {s.type: s.points_each for s in sections}
        computed = sum(
            (count * points[kind] for row in rows for kind, count in row.counts.items() if count),
            Decimal(0),
        )
        if computed != total:
            problems.append(
                f"total_points: {_fmt(total)} given, but the rows add up to {_fmt(computed)} (Σ count × points_each)"
            )
    if problems:
        raise BlueprintError(problems)
    assert isinstance(name, str) and level is not None and duration is not None
    assert pass_mark is not None and total is not None and sections is not None and rows is not None
    return BlueprintSpec(
        name=name,
        level=level,
        duration_minutes=duration,
        pass_mark=pass_mark,
        total_points=total,
        sections=tuple(sections),
        rows=tuple(rows),
        difficulty_mix=mix,
    )


def blueprint_to_doc(spec: BlueprintSpec) -> dict[str, Any]:
    """The canonical document of a blueprint: ``parse_blueprint(blueprint_to_doc(s)) == s``."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "name": spec.name,
        "level": spec.level,
        "duration_minutes": spec.duration_minutes,
        "pass_mark": _number_for_doc(spec.pass_mark),
        "total_points": _number_for_doc(spec.total_points),
        "sections": [
            {
                "type": s.type,
                "title": s.title,
                "points_each": _number_for_doc(s.points_each),
                "scoring": s.scoring,
            }
            for s in spec.sections
        ],
        "rows": [{"kp": row.kp, **row.counts} for row in spec.rows],
    }
    if spec.difficulty_mix is not None:
        doc["difficulty_mix"] = dict(spec.difficulty_mix)
    return doc


# --- feasibility (R-PAPER-6) -----------------------------------------------------------------


@dataclass(frozen=True)
class Shortfall:
    """One (knowledge point, type) the bank cannot fill; for an unknown knowledge point the
    type is "" and ``needed`` counts all items of the row."""

    kp: str
    type: str
    needed: int
    available: int
    unknown_kp: bool = False

    def message(self, kp_names: Mapping[str, str] | None = None) -> str:
        """R-PAPER-6: name the knowledge point and how many items are missing."""
        if self.unknown_kp:
            return f"knowledge point {self.kp} is not in the bank"
        name = (kp_names or {}).get(self.kp)
        label = f"{self.kp} {name}" if name else self.kp
        missing = self.needed - self.available
        return f"{label} · {self.type}: needs {self.needed}, the bank has {self.available} ({missing} missing)"


class InfeasibleBlueprint(ValueError):
    """R-PAPER-6: the bank cannot satisfy the blueprint."""

    def __init__(self, shortfalls: list[Shortfall]) -> None:
        super().__init__("; ".join(s.message() for s in shortfalls))
        self.shortfalls = shortfalls


def _unique_pool(pool: Iterable[PoolItem]) -> list[PoolItem]:
    """R-PAPER-3: one revision per item — if the pool holds more, the first one wins."""
    seen: set[int] = set()
    unique: list[PoolItem] = []
    for item in pool:
        if item.item_id not in seen:
            seen.add(item.item_id)
            unique.append(item)
    return unique


def _row_index(spec: BlueprintSpec) -> dict[str, int]:
    return {row.kp: i for i, row in enumerate(spec.rows)}


def _cells(spec: BlueprintSpec, pool: Sequence[PoolItem]) -> dict[tuple[int, str], list[int]]:
    """Pool indexes of the candidates of each (row, type), in pool order."""
    row_of = _row_index(spec)
    cells: dict[tuple[int, str], list[int]] = {}
    for index, item in enumerate(pool):
        for code in item.kp_path:
            row = row_of.get(code)
            if row is not None:
                cells.setdefault((row, item.type), []).append(index)
                break
    return cells


def _ordered_types(spec: BlueprintSpec, row: BlueprintRow) -> list[str]:
    """A row's types in paper (section) order, then any type without a section."""
    order = [s.type for s in spec.sections]
    return sorted(row.counts, key=lambda t: (order.index(t) if t in order else len(order), t))


def _shortfalls(
    spec: BlueprintSpec, cells: Mapping[tuple[int, str], Sequence[int]], known_kps: Collection[str]
) -> list[Shortfall]:
    shortfalls: list[Shortfall] = []
    for i, row in enumerate(spec.rows):
        if not any(row.counts.values()):
            continue  # a row that asks for nothing cannot be short
        if row.kp not in known_kps:
            shortfalls.append(Shortfall(row.kp, "", sum(row.counts.values()), 0, unknown_kp=True))
            continue
        for kind in _ordered_types(spec, row):
            needed = row.counts[kind]
            available = len(cells.get((i, kind), ()))
            if needed > available:
                shortfalls.append(Shortfall(row.kp, kind, needed, available))
    return shortfalls


def check_feasibility(spec: BlueprintSpec, pool: Sequence[PoolItem], known_kps: Collection[str]) -> list[Shortfall]:
    """R-PAPER-6: one Shortfall per (knowledge point, type) the pool cannot fill, in row order.

    With a difficulty mix, a short difficulty is filled from the others when drawing, so only
    the row × type totals matter here.
    """
    unique = _unique_pool(pool)
    return _shortfalls(spec, _cells(spec, unique), known_kps)


# --- drawing papers (R-PAPER-2/3) ------------------------------------------------------------


@dataclass(frozen=True)
class PaperItem:
    revision_id: int
    section: int
    points: Decimal
    # option_order[i] = index of the ORIGINAL option shown at display position i; () for judge.
    option_order: tuple[int, ...]


@dataclass(frozen=True)
class PaperDraft:
    """Display order: sections in spec order; within a section shuffled or in row order."""

    items: tuple[PaperItem, ...]


@dataclass(frozen=True)
class Exposure:
    papers: int
    pool_size: int
    items_used: int
    max_uses: int
    mean_uses: float  # over the items used at least once


@dataclass(frozen=True)
class Assembly:
    papers: tuple[PaperDraft, ...]
    exposure: Exposure


def difficulty_quotas(count: int, mix: Mapping[int, float], available: Mapping[int, int]) -> dict[int, int]:
    """Split ``count`` over difficulties 1..3 (R-PAPER-1 difficulty mix).

    Largest-remainder quotas of the (normalised) shares, ties to the easier difficulty; a
    difficulty with fewer items than its quota passes the rest to the nearest difficulty that
    has items to spare (the easier one first at equal distance). Never fails when
    ``count ≤ Σ available``.
    """
    shares = {d: Fraction(Decimal(repr(float(mix.get(d, 0.0))))) for d in bank_rules.DIFFICULTIES}
    total_share = sum(shares.values())
    if total_share <= 0:
        shares = {d: Fraction(1, len(bank_rules.DIFFICULTIES)) for d in bank_rules.DIFFICULTIES}
        total_share = Fraction(1)
    exact = {d: count * shares[d] / total_share for d in bank_rules.DIFFICULTIES}
    quotas = {d: int(exact[d]) for d in bank_rules.DIFFICULTIES}
    left = count - sum(quotas.values())
    for d in sorted(bank_rules.DIFFICULTIES, key=lambda d: (-(exact[d] - quotas[d]), d))[:left]:
        quotas[d] += 1
    deficit: dict[int, int] = {}
    for d in bank_rules.DIFFICULTIES:
        have = available.get(d, 0)
        if quotas[d] > have:
            deficit[d] = quotas[d] - have
            quotas[d] = have
    for d, missing in deficit.items():
        for other in sorted(bank_rules.DIFFICULTIES, key=lambda o: (abs(o - d), o)):
            spare = available.get(other, 0) - quotas[other]
            take = min(spare, missing)
            if take > 0:
                quotas[other] += take
                missing -= take
            if missing == 0:
                break
    return quotas


class _Bucket:
    """Candidates of one (row, type[, difficulty]) grouped by how often they were used.

    Taking the least-used first, ties at random, keeps every item's use within one of the
    others' (exposure control for per-candidate papers and parallel forms)."""

    __slots__ = ("levels", "low")

    def __init__(self, indexes: Sequence[int], uses: Callable[[int], int]) -> None:
        self.levels: dict[int, list[int]] = {}
        for index in indexes:
            self.levels.setdefault(uses(index), []).append(index)
        self.low = min(self.levels, default=0)

    def take(self, k: int, rand: Callable[[], float], out: list[int]) -> None:
        """Append k distinct least-used indexes to ``out`` (R-PAPER-3) and count their use."""
        levels = self.levels
        low = self.low
        items = levels[low]
        n = len(items)
        if n > k:  # the usual case: all k from the least-used level
            chosen = []
            for _ in range(k):  # partial Fisher–Yates from the end
                j = int(rand() * n)
                n -= 1
                items[j], items[n] = items[n], items[j]
                chosen.append(items.pop())
            out.extend(chosen)
            above = levels.get(low + 1)
            if above is None:
                levels[low + 1] = chosen
            else:
                above.extend(chosen)
            return
        moved: list[tuple[int, list[int]]] = []
        while k > 0:
            low = self.low
            items = levels[low]
            n = len(items)
            if n <= k:
                del levels[low]
                self.low = min(levels, default=low + 1)
                chosen = items
                k -= n
            else:
                chosen = []
                for _ in range(k):  # partial Fisher–Yates from the end
                    j = int(rand() * n)
                    n -= 1
                    items[j], items[n] = items[n], items[j]
                    chosen.append(items.pop())
                k = 0
            out.extend(chosen)
            moved.append((low + 1, chosen))
        # Only now: an item chosen at level L must not be drawn again at level L + 1.
        for level, chosen in moved:
            if level in levels:
                levels[level].extend(chosen)
            else:
                levels[level] = chosen
                self.low = min(self.low, level)


@dataclass
class _Cell:
    """One row × type of the blueprint: how many items from each of its buckets."""

    quotas: list[tuple[tuple[int, str, int], int]]


@dataclass
class _Plan:
    """Everything about (spec, pool) that does not change between papers, computed once."""

    spec: BlueprintSpec
    pool: list[PoolItem]
    cells_by_section: list[list[_Cell]]
    bucket_members: dict[tuple[int, str, int], list[int]]
    revisions: list[int] = field(default_factory=list)
    identity: list[tuple[int, ...]] = field(default_factory=list)  # option order when not shuffled
    # Every option order of each item, to draw one uniformly with a single random();
    # None above MAX_OPTIONS options (shuffled instead).
    option_tables: list[Sequence[tuple[int, ...]] | None] = field(default_factory=list)

    def buckets(self, uses: Callable[[int], int]) -> dict[tuple[int, str, int], _Bucket]:
        return {key: _Bucket(members, uses) for key, members in self.bucket_members.items()}


def _plan(spec: BlueprintSpec, pool: Sequence[PoolItem]) -> _Plan:
    unique = _unique_pool(pool)
    cells = _cells(spec, unique)
    known = {code for item in unique for code in item.kp_path}
    shortfalls = _shortfalls(spec, cells, known)
    if shortfalls:
        raise InfeasibleBlueprint(shortfalls)
    cells_by_section: list[list[_Cell]] = [[] for _ in spec.sections]
    members: dict[tuple[int, str, int], list[int]] = {}
    for i, row in enumerate(spec.rows):
        for kind in _ordered_types(spec, row):
            count = row.counts[kind]
            if count == 0:
                continue
            section = spec.section_of(kind)
            if section is None:
                raise ValueError(f"rows[{i}].{kind}: no section for {kind} items")
            candidates = cells[(i, kind)]
            quotas: list[tuple[tuple[int, str, int], int]] = []
            if spec.difficulty_mix is None:
                members[(i, kind, 0)] = candidates
                quotas.append(((i, kind, 0), count))
            else:
                by_difficulty: dict[int, list[int]] = {d: [] for d in bank_rules.DIFFICULTIES}
                for index in candidates:
                    difficulty = min(max(unique[index].difficulty, 1), 3)
                    by_difficulty[difficulty].append(index)
                wanted = difficulty_quotas(count, spec.difficulty_mix, {d: len(v) for d, v in by_difficulty.items()})
                for d in bank_rules.DIFFICULTIES:
                    members[(i, kind, d)] = by_difficulty[d]
                    if wanted[d]:
                        quotas.append(((i, kind, d), wanted[d]))
            cells_by_section[section].append(_Cell(quotas))
    counts = [0 if item.type == bank_rules.JUDGE else max(item.option_count, 0) for item in unique]
    return _Plan(
        spec=spec,
        pool=unique,
        cells_by_section=cells_by_section,
        bucket_members=members,
        revisions=[item.revision_id for item in unique],
        identity=[_IDENTITY[n] if n < len(_IDENTITY) else tuple(range(n)) for n in counts],
        option_tables=[_permutations(n) if n <= _PERMUTATION_TABLE_MAX else None for n in counts],
    )


_IDENTITY: Final = tuple(tuple(range(n)) for n in range(bank_rules.MAX_OPTIONS + 1))
_PERMUTATIONS: dict[int, list[tuple[int, ...]]] = {}
_PERMUTATION_TABLE_MAX: Final = bank_rules.MAX_OPTIONS


def _permutations(n: int) -> list[tuple[int, ...]]:
    """All orders of n options (8! = 40,320 at most), made once per process."""
    table = _PERMUTATIONS.get(n)
    if table is None:
        table = list(itertools.permutations(range(n)))
        _PERMUTATIONS[n] = table
    return table


def _option_order(n: int, rand: Callable[[], float]) -> tuple[int, ...]:
    """R-PAPER-2: a uniformly random order of n options."""
    if n <= _PERMUTATION_TABLE_MAX:
        table = _permutations(n)
        return table[int(rand() * len(table))]
    order = list(range(n))
    _shuffle(order, rand)
    return tuple(order)


def _shuffle(items: list[Any], rand: Callable[[], float]) -> None:
    """Fisher–Yates with ``random()``: reproducible, and faster than ``Random.shuffle``."""
    for i in range(len(items) - 1, 0, -1):
        j = int(rand() * (i + 1))
        items[i], items[j] = items[j], items[i]


def _draw(
    plan: _Plan,
    buckets: Mapping[tuple[int, str, int], _Bucket],
    rng: random.Random,
    shuffle_items: bool,
    shuffle_options: bool,
) -> tuple[PaperDraft, list[int]]:
    """One paper from the buckets' current state; returns it and the pool indexes used."""
    rand = rng.random
    revisions = plan.revisions
    identity = plan.identity
    tables = plan.option_tables
    items: list[PaperItem] = []
    used: list[int] = []
    for section, cells in enumerate(plan.cells_by_section):
        chosen: list[int] = []
        for cell in cells:  # rows in blueprint order
            picked: list[int] = []
            for key, k in cell.quotas:
                buckets[key].take(k, rand, picked)
            if not shuffle_items:
                picked.sort()  # pool order within a row
            chosen.extend(picked)
        if not chosen:
            continue
        used.extend(chosen)
        if shuffle_items:
            _shuffle(chosen, rand)
        points = plan.spec.sections[section].points_each  # R-PAPER-1: Σ points == total_points
        for index in chosen:
            order = identity[index]
            if shuffle_options and len(order) > 1:
                table = tables[index]
                order = table[int(rand() * len(table))] if table is not None else _option_order(len(order), rand)
            items.append(PaperItem(revisions[index], section, points, order))
    return PaperDraft(tuple(items)), used


def draw_paper(
    spec: BlueprintSpec,
    pool: Sequence[PoolItem],
    rng: random.Random,
    usage: MutableMapping[int, int] | None = None,
    *,
    shuffle_items: bool = True,
    shuffle_options: bool = True,
) -> PaperDraft:
    """Draw one paper according to the blueprint (R-PAPER-2).

    Per row × type ``count`` distinct items of the row's subtree (R-PAPER-3: no item twice),
    split over difficulties when the blueprint has a mix; every item is worth its section's
    ``points_each``, so the points add up to ``total_points``. With ``usage`` (revision id →
    uses so far) the least-used items are preferred, ties at random, and ``usage`` is updated.
    Raises InfeasibleBlueprint when the pool is too small (R-PAPER-6).

    For many papers call ``assemble``: it prepares the pool once instead of once per paper.
    """
    plan = _plan(spec, pool)
    revisions = plan.revisions
    if usage is None:
        buckets = plan.buckets(lambda _index: 0)
    else:
        counts = usage
        buckets = plan.buckets(lambda index: counts.get(revisions[index], 0))
    draft, used = _draw(plan, buckets, rng, shuffle_items, shuffle_options)
    if usage is not None:
        for index in used:
            usage[revisions[index]] = usage.get(revisions[index], 0) + 1
    return draft


def paper_rng(seed: int, index: int) -> random.Random:
    """R-PAPER-2: the RNG of paper ``index`` of an assembly, reproducible from the seed
    (seeded from a string through SHA-512, never from the per-process salted ``hash()``)."""
    return random.Random(f"{seed}:{index}")


def assemble(
    spec: BlueprintSpec,
    pool: Sequence[PoolItem],
    *,
    mode: str,
    count: int,
    seed: int,
    shuffle_items: bool = True,
    shuffle_options: bool = True,
) -> Assembly:
    """Assemble papers for a sitting (R-PAPER-2): ``single`` (count 1), ``forms`` (A/B/…)
    or ``per_candidate`` (one paper per candidate).

    Reproducible: the same spec, pool, mode, count, seed and flags give an equal Assembly.
    Items are chosen least-used first across the papers (exposure control), so parallel forms
    overlap as little as the pool allows and per-candidate papers spread the bank evenly.
    Raises InfeasibleBlueprint (R-PAPER-6) with the pool's knowledge points as the known ones.
    """
    if mode not in MODES:
        raise ValueError(f"unknown assembly mode {mode!r} (single, forms, per_candidate)")
    if mode == "single" and count != 1:
        raise ValueError("mode single assembles exactly one paper")
    if count < 1:
        raise ValueError("assemble at least one paper")
    plan = _plan(spec, pool)
    revisions = plan.revisions
    buckets = plan.buckets(lambda _index: 0)
    uses = [0] * len(plan.pool)
    papers: list[PaperDraft] = []
    for i in range(count):
        draft, used = _draw(plan, buckets, paper_rng(seed, i), shuffle_items, shuffle_options)
        for index in used:
            uses[index] += 1
        papers.append(draft)
    used_counts = [n for n in uses if n]
    exposure = Exposure(
        papers=count,
        pool_size=len(revisions),
        items_used=len(used_counts),
        max_uses=max(used_counts, default=0),
        mean_uses=sum(used_counts) / len(used_counts) if used_counts else 0.0,
    )
    return Assembly(papers=tuple(papers), exposure=exposure)


def personalise(
    paper: PaperDraft,
    spec: BlueprintSpec,
    rng: random.Random,
    *,
    shuffle_items: bool,
    shuffle_options: bool,
) -> PaperDraft:
    """One candidate's copy of a form (R-PAPER-2): the same items, reshuffled within their
    sections and with a fresh option order; sections stay in spec order."""
    rand = rng.random
    by_section: list[list[PaperItem]] = [[] for _ in spec.sections]
    for item in paper.items:
        if not 0 <= item.section < len(by_section):
            raise ValueError(f"paper item {item.revision_id} is in section {item.section}, not in the blueprint")
        by_section[item.section].append(item)
    items: list[PaperItem] = []
    for section_items in by_section:
        if shuffle_items:
            _shuffle(section_items, rand)
        for item in section_items:
            if shuffle_options and len(item.option_order) > 1:
                order = _option_order(len(item.option_order), rand)
                item = PaperItem(item.revision_id, item.section, item.points, order)
            items.append(item)
    return PaperDraft(tuple(items))


# --- forms and seats (R-PAPER-3) -------------------------------------------------------------

_ORTHOGONAL: Final = ((0, -1), (-1, 0), (0, 1), (1, 0))
_DIAGONAL: Final = ((-1, -1), (-1, 1), (1, -1), (1, 1))


def _two_forms(seats: Sequence[tuple[int, int]], order: Sequence[int]) -> list[int]:
    """Seats next to or behind each other form a bipartite graph: colour each connected group
    in two, giving the larger half to the less-used form."""
    at = {pos: i for i, pos in enumerate(seats)}
    colour: list[int | None] = [None] * len(seats)
    used = [0, 0]
    for start in order:
        if colour[start] is not None:
            continue
        side: dict[int, int] = {start: 0}
        queue = [start]
        while queue:
            i = queue.pop()
            r, c = seats[i]
            for dr, dc in _ORTHOGONAL:
                j = at.get((r + dr, c + dc))
                if j is not None and j not in side:
                    side[j] = 1 - side[i]
                    queue.append(j)
        larger = 0 if 2 * sum(side.values()) <= len(side) else 1
        less_used = 0 if used[0] <= used[1] else 1
        flip = larger ^ less_used  # the larger half goes to the less-used form
        for i, s in side.items():
            colour[i] = s ^ flip
            used[s ^ flip] += 1
    return [c if c is not None else 0 for c in colour]


def _greedy_forms(
    seats: Sequence[tuple[int, int]], order: Sequence[int], forms: int, steps: Sequence[tuple[int, int]]
) -> list[int] | None:
    """Seat by seat, each takes the least-used form none of its neighbours has; None if stuck."""
    at = {pos: i for i, pos in enumerate(seats)}
    colour: list[int | None] = [None] * len(seats)
    used = [0] * forms
    for i in order:
        r, c = seats[i]
        taken = set()
        for dr, dc in steps:
            j = at.get((r + dr, c + dc))
            if j is not None and colour[j] is not None:
                taken.add(colour[j])
        free = [f for f in range(forms) if f not in taken]
        if not free:
            return None
        best = min(free, key=lambda f: (used[f], f))
        colour[i] = best
        used[best] += 1
    return [c if c is not None else 0 for c in colour]


def _four_forms_by_rows(seats: Sequence[tuple[int, int]], order: Sequence[int]) -> list[int]:
    """Rows alternate between forms {0, 1} and {2, 3}, alternating within the row: neighbours
    differ, diagonal ones included. Each row's start is chosen to even out the counts."""
    colour = [0] * len(seats)
    used = [0] * 4
    by_row: dict[int, list[int]] = {}
    for i in order:
        by_row.setdefault(seats[i][0], []).append(i)
    for r, members in by_row.items():
        pair = 2 * (r % 2)
        odd = sum(1 for i in members if seats[i][1] % 2)
        larger = 1 if 2 * odd > len(members) else 0
        less_used = 0 if used[pair] <= used[pair + 1] else 1
        for i in members:
            colour[i] = pair + ((seats[i][1] % 2) ^ larger ^ less_used)
            used[colour[i]] += 1
    return colour


def assign_forms(seats: Sequence[tuple[int, int]], forms: int, seed: int) -> list[int]:
    """A form index (0 = A) per seat, given as (row, column) in the room (R-PAPER-3).

    Seats next to each other in a row or one behind the other never share a form when
    ``forms ≥ 2``; diagonal neighbours differ too when ``forms ≥ 4``. Among valid layouts the
    one using the most forms, as evenly as possible, is kept; which label goes where is
    permuted by the seed. The result depends on the positions only, not on the input order.
    """
    if forms < 1:
        raise ValueError("at least one form")
    if forms == 1:
        return [0] * len(seats)
    rows_first = sorted(range(len(seats)), key=lambda i: seats[i])
    if forms == 2:
        colours = _two_forms(seats, rows_first)
    else:
        columns_first = sorted(range(len(seats)), key=lambda i: (seats[i][1], seats[i][0]))
        steps = _ORTHOGONAL + _DIAGONAL if forms >= 4 else _ORTHOGONAL
        candidates = [
            _greedy_forms(seats, rows_first, forms, steps),
            _greedy_forms(seats, columns_first, forms, steps),
        ]
        if forms == 4:
            # Greedy can get stuck with 4 forms (a seat with 4 earlier neighbours); the
            # alternating-pairs layouts never do.
            transposed = [(c, r) for r, c in seats]
            candidates.append(_four_forms_by_rows(seats, rows_first))
            candidates.append(_four_forms_by_rows(transposed, sorted(range(len(seats)), key=lambda i: transposed[i])))
        valid = [found for found in candidates if found is not None]
        colours = min(valid, key=lambda found: _spread(found, forms))
    labels = list(range(forms))
    random.Random(f"{seed}:forms").shuffle(labels)
    return [labels[c] for c in colours]


def _spread(colours: Sequence[int], forms: int) -> tuple[int, int]:
    """Fewer unused forms first, then the smaller gap between the most- and least-used form."""
    counts = [0] * forms
    for c in colours:
        counts[c] += 1
    return (sum(1 for n in counts if n == 0), max(counts) - min(counts))
