"""Violations and what else goes into a room's incident log (考场记录表) — pure rules, no I/O.

R-INC-1/2/5, R-CLOCK-3, R-CLOCK-8, from 职业技能等级认定考生违纪违规处理办法 and
职业技能等级认定偶发事件处理办法 (seed/regulations-zh.txt):

- level 1 取消该科目成绩 — cancel this subject's score;
- level 2 该科目成绩按作弊处理 — the subject's score counts as cheating;
- level 3 取消当次全部科目成绩，且当年不得参加考试 — cancel every subject of this sitting and bar the
  candidate for the rest of the calendar year;
- level 4 取消当次全部科目考试成绩，情节轻微的2年内、情节严重的5年内不得参加 (严重的移送有关部门) —
  cancel every subject and bar for 2 years, or 5 years with referral when serious.

A bar is a closed range of dates ``[bar_from, bar_until]``: the candidate may not sit any exam on
those days (enforced at registration, R-REG-1). Level 3 bars until 31 December of the incident's
year (当年); level 4 bars for 2 (or 5) years counted from the incident date: the last barred day
is the day before the anniversary (an incident on 29 February has its anniversary on 1 March).

Besides violations the log holds entries without a consequence: toilet breaks with their two
escorts (the clock keeps running, R-CLOCK-8), illness (continue without extra time, or withdraw),
a phone that only rang (仅手机铃声音响不视为作弊), suspected impersonation (R-INC-5: admitted → level 4
替考 with the impersonator's confirmation; denied → the candidate continues and the case is marked
for investigation), early forced leave (提前强行离场 → this sitting's score is cancelled,
R-CLOCK-3) and free notes. Log entries are appended, never changed: a correction is a new entry
referring to the old one (R-INC-1).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from examhall.i18n import N_
from examhall.sittings.clock import EventKind

LEVELS: Final = (1, 2, 3, 4)
LIGHT_BAR_YEARS: Final = 2  # 情节轻微的，2年内不得参加评价
SERIOUS_BAR_YEARS: Final = 5  # 情节严重的，5年内不得参加职业技能等级认定
TOILET_ESCORTS: Final = 2  # 主监考指派场外流动监考两人陪同考生 (偶发事件 十四)
TEXT_MAX_CHARS: Final = 2000
NAME_MAX_CHARS: Final = 64
RECORDERS_MAX: Final = 6
REQUEST_ID_MAX_CHARS: Final = 64

# What each level means, as the regulations put it.
LEVEL_NAMES_ZH: Final = {
    1: "取消该科目成绩",
    2: "该科目成绩按作弊处理",
    3: "取消当次全部科目成绩，且当年不得参加考试",
    4: "取消当次全部科目成绩，2年内（情节严重的5年内）不得参加，严重的移送有关部门",
}
LEVEL_NAMES: Final = {
    1: N_("Level 1: this subject's score is cancelled"),
    2: N_("Level 2: this subject's score counts as cheating"),
    3: N_("Level 3: every subject of this sitting cancelled, barred for the rest of the year"),
    4: N_("Level 4: every subject cancelled, barred for 2 years (5 years and referral when serious)"),
}


class Kind(StrEnum):
    VIOLATION = "violation"  # levels 1–4 (R-INC-2)
    ACTION = "action"  # also acts on the attempt's clock (R-CLOCK-3/8)
    NOTE = "note"  # logged only


class Needs(StrEnum):
    """What an entry of a category must be about."""

    NOTHING = "nothing"  # a room-level note
    CANDIDATE = "candidate"  # a seated candidate, checked in or not, exam open or over (R-INC-3)
    ATTEMPT = "attempt"  # a checked-in candidate, whatever the state of the exam
    OPEN_ATTEMPT = "open_attempt"  # a candidate whose exam is still open


@dataclasses.dataclass(frozen=True)
class Category:
    code: str
    label_zh: str  # as the regulations word it: printed on the record form
    label_en: str  # message id; translated where it is shown
    kind: Kind
    level: int | None = None
    clause: str = ""  # where it is in the regulations
    needs: Needs = Needs.CANDIDATE
    needs_text: bool = True
    clock_event: str | None = None  # the attempt event recorded with the entry
    closes_as: str | None = None  # the attempt's outcome when the entry closes it
    cancels_score: bool = False  # a non-violation entry that still cancels this sitting's score
    investigation: bool = False  # the case stays open for the chief after the sitting

    @property
    def is_violation(self) -> bool:
        return self.kind == Kind.VIOLATION


def _violation(code: str, level: int, clause: str, label_zh: str, label_en: str) -> Category:
    return Category(code, label_zh, label_en, Kind.VIOLATION, level=level, clause=clause)


# 考生违纪违规处理办法, in the order of the regulations.
VIOLATIONS: Final[tuple[Category, ...]] = (
    _violation(
        "prohibited_items_at_seat",
        1,
        "一、1",
        "携带禁携物品进入座位或未放在指定位置，经提醒拒不改正",
        N_("Prohibited items at the seat, not put away after a warning"),
    ),
    _violation(
        "left_seat",
        1,
        "一、2",
        "未在规定座位参加考试或擅自离开座位，经提醒拒不改正",
        N_("Not at the assigned seat or left it without permission, after a warning"),
    ),
    _violation(
        "disturbing",
        1,
        "一、3",
        "在考场内喧哗、吸烟或实施其他影响考场秩序的行为，经提醒拒不改正",
        N_("Noise, smoking or disturbing the room, after a warning"),
    ),
    _violation(
        "other_breach",
        1,
        "一、4",
        "其他违反考场规则但尚未构成作弊的行为",
        N_("Other breach of the room rules short of cheating"),
    ),
    _violation(
        "whispering_signalling",
        2,
        "二、1",
        "交头接耳、左顾右盼、互打暗号或手势",
        N_("Whispering, looking around, signalling"),
    ),
    _violation(
        "copying_paper",
        2,
        "二、2",
        "抄袭或者协助他人抄袭试卷",
        N_("Copying from or helping others copy the paper"),
    ),
    _violation(
        "passing_material",
        2,
        "二、3",
        "夹带资料、传递纸条等物品或者交换试卷、答题卡、草稿纸",
        N_("Hidden notes, passing material, exchanging papers or scratch paper"),
    ),
    _violation(
        "wrong_identity_on_paper",
        2,
        "二、4",
        "在答案上填写与本人身份不符的姓名、准考证等信息",
        N_("Another person's name or ticket number on the answers"),
    ),
    _violation(
        "paper_taken_out",
        2,
        "二、5",
        "将试卷、答题卡、草稿纸等带出考场",
        N_("Paper, answer sheet or scratch paper taken out of the room"),
    ),
    _violation(
        "identical_papers",
        2,
        "二、6",
        "同一考场试卷雷同",
        N_("Identical papers in the same room"),
    ),
    _violation(
        "unapproved_material",
        2,
        "二、7",
        "携带规定之外的资料、文具、通信工具、电子设备等进入考场，或者未按规定放在指定位置",
        N_("Unapproved material or devices brought in or not put in the designated place"),
    ),
    _violation(
        "phone_suspected_use",
        2,
        "偶发事件十九",
        "手机未放在指定位置，疑似利用手机阅读、接收、处理或发送信息",
        N_("Phone not in the designated place and suspected of use"),
    ),
    _violation(
        "electronic_device_use",
        3,
        "三、1",
        "使用规定以外的带拍照、存储、传输或通讯功能的电子设备",
        N_("Using a camera, storage, transmitting or communicating device"),
    ),
    _violation(
        "copying_answers",
        3,
        "三、2",
        "抄袭或协助他人抄袭试题答案或与考试内容相关资料",
        N_("Copying or helping to copy answers or exam-related material"),
    ),
    _violation(
        "destroying_materials",
        3,
        "三、3",
        "故意损毁试卷、工件或考试材料",
        N_("Deliberately destroying papers, workpieces or exam materials"),
    ),
    _violation(
        "questions_taken_out",
        3,
        "三、4",
        "擅自将试题、答卷或者有关内容带出考场",
        N_("Questions, answers or their content taken out of the room"),
    ),
    _violation(
        "other_cheating",
        3,
        "三、5",
        "存在其他作弊行为但对其他应试人员未造成严重干扰",
        N_("Other cheating without serious disturbance to other candidates"),
    ),
    _violation(
        "false_documents",
        4,
        "四、1",
        "通过虚假承诺、提供虚假材料以及其他非正当手段取得考试资格",
        N_("Eligibility obtained with false statements or documents"),
    ),
    _violation(
        "questions_beforehand",
        4,
        "四、2",
        "考试前以非正当手段获得试题或答案或进行传播",
        N_("Questions or answers obtained or spread before the exam"),
    ),
    _violation(
        "stealing_or_coercing",
        4,
        "四、3",
        "抢夺、窃取他人试卷或胁迫他人配合作弊、偷换工量器具或工件",
        N_("Seizing or stealing papers, forcing others to help cheat, swapping tools or workpieces"),
    ),
    _violation(
        "impersonation",
        4,
        "四、4",
        "由他人冒名顶替参加考试或者代替他人考试",
        N_("Impersonation (sitting the exam for someone else, or having someone sit it)"),
    ),
    _violation(
        "organised_cheating",
        4,
        "四、5",
        "串通作弊或参与有组织作弊",
        N_("Collusion or organised cheating"),
    ),
    _violation(
        "damaging_equipment",
        4,
        "四、6",
        "故意损毁考试设备（含视频监控系统）、材料，造成设备故障、人身伤害或设备主要零部件损坏",
        N_("Deliberately damaging exam equipment or surveillance, causing failure or injury"),
    ),
    _violation(
        "serious_disruption",
        4,
        "四、7",
        "其他影响或严重扰乱考试管理秩序的行为",
        N_("Other acts seriously disrupting the exam"),
    ),
)

TOILET_START = "toilet_start"
TOILET_END = "toilet_end"
ILLNESS_CONTINUE = "illness_continue"
ILLNESS_WITHDRAWN = "illness_withdrawn"
PHONE_RINGING = "phone_ringing"
IMPERSONATION_SUSPECTED = "impersonation_suspected"
IMPERSONATION = "impersonation"
LEFT_EARLY = "left_early"
NOTE = "note"

# Outcomes of an attempt that an entry closes (Attempt.outcome).
OUTCOME_WITHDRAWN: Final = "withdrawn"
OUTCOME_LEFT_EARLY: Final = "left_early"

LOG_ENTRIES: Final[tuple[Category, ...]] = (
    Category(
        TOILET_START,
        "如厕（离场，两名监考陪同）",
        N_("Toilet break begins (two escorts; the clock keeps running)"),
        Kind.ACTION,
        clause="偶发事件十四",
        needs=Needs.OPEN_ATTEMPT,
        needs_text=False,
        clock_event=EventKind.BREAK_STARTED,
    ),
    Category(
        TOILET_END,
        "如厕返回",
        N_("Toilet break ends"),
        Kind.ACTION,
        clause="偶发事件十四",
        needs=Needs.ATTEMPT,
        needs_text=False,
        clock_event=EventKind.BREAK_ENDED,
    ),
    Category(
        ILLNESS_CONTINUE,
        "突发疾病，坚持考试（不延长考试时间）",
        N_("Illness: continues without extra time"),
        Kind.ACTION,
        clause="偶发事件十",
        needs=Needs.OPEN_ATTEMPT,
        needs_text=False,
    ),
    Category(
        ILLNESS_WITHDRAWN,
        "突发疾病，停止考试（中止）",
        N_("Illness: stops the exam (withdrawn)"),
        Kind.ACTION,
        clause="偶发事件十",
        needs=Needs.OPEN_ATTEMPT,
        needs_text=False,
        clock_event=EventKind.WITHDRAWN,
        closes_as=OUTCOME_WITHDRAWN,
    ),
    Category(
        LEFT_EARLY,
        "提前强行离场（取消本场考试成绩）",
        N_("Left early against the rules (this sitting's score cancelled)"),
        Kind.ACTION,
        clause="偶发事件十五",
        needs=Needs.OPEN_ATTEMPT,
        needs_text=False,
        clock_event=EventKind.WITHDRAWN,
        closes_as=OUTCOME_LEFT_EARLY,
        cancels_score=True,
    ),
    Category(
        PHONE_RINGING,
        "手机铃声音响（震动），不视为作弊",
        N_("Phone rang (not cheating)"),
        Kind.NOTE,
        clause="偶发事件十九",
        needs_text=False,
    ),
    Category(
        IMPERSONATION_SUSPECTED,
        "疑似替考，考生不承认，继续考试，考后调查",
        N_("Suspected impersonation, denied: continues, to be investigated"),
        Kind.NOTE,
        clause="偶发事件三",
        investigation=True,
    ),
    Category(
        NOTE,
        "其他情况记录",
        N_("Other note"),
        Kind.NOTE,
        needs=Needs.NOTHING,
    ),
)

CATEGORIES: Final[dict[str, Category]] = {c.code: c for c in (*VIOLATIONS, *LOG_ENTRIES)}
# Kinds of entries in the log (Incident.kind).
ENTRY: Final = "entry"
CORRECTION: Final = "correction"
DECISION: Final = "decision"
ENTRY_KINDS: Final = (ENTRY, CORRECTION, DECISION)


def category(code: str) -> Category | None:
    return CATEGORIES.get(code)


def violations_of_level(level: int) -> tuple[Category, ...]:
    return tuple(c for c in VIOLATIONS if c.level == level)


# --- consequences (R-INC-2, R-CLOCK-3) -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Consequence:
    cancel_subject: bool = False  # this subject's (sitting's) score is cancelled
    counts_as_cheating: bool = False  # recorded as cheating (按作弊处理; certificates revoked, R-CERT-4)
    cancel_all_subjects_of_sitting: bool = False  # 取消当次全部科目成绩
    bar_until: date | None = None  # last day (inclusive) the candidate may not sit an exam
    bar_from: date | None = None  # first barred day: the incident date
    referral: bool = False  # 移送有关部门 (level 4, serious)

    def __post_init__(self) -> None:
        if (self.bar_until is None) != (self.bar_from is None):
            raise ValueError("a bar needs both its first and its last day")
        if self.bar_from is not None and self.bar_until is not None and self.bar_until < self.bar_from:
            raise ValueError("a bar cannot end before it starts")

    @property
    def is_none(self) -> bool:
        return self == NO_CONSEQUENCE

    def at_least(self, other: Consequence) -> bool:
        """Whether this consequence is at least as strong as ``other`` in every respect."""
        flags = (
            (self.cancel_subject, other.cancel_subject),
            (self.counts_as_cheating, other.counts_as_cheating),
            (self.cancel_all_subjects_of_sitting, other.cancel_all_subjects_of_sitting),
            (self.referral, other.referral),
        )
        if any(theirs and not mine for mine, theirs in flags):
            return False
        if other.bar_until is None:
            return True
        return self.bar_until is not None and self.bar_until >= other.bar_until


NO_CONSEQUENCE: Final = Consequence()


def anniversary(day: date, years: int) -> date:
    """The same calendar date ``years`` later; 29 February falls on 1 March in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def consequence(level: int, serious: bool, incident_date: date) -> Consequence:
    """What a violation of ``level`` (1–4) entails; ``serious`` (情节严重) exists for level 4 only."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of 1–4, got {level!r}")
    if serious and level != 4:
        raise ValueError("only a level-4 violation can be serious (情节严重)")
    if level == 1:
        return Consequence(cancel_subject=True)
    if level == 2:
        return Consequence(cancel_subject=True, counts_as_cheating=True)
    if level == 3:
        return Consequence(
            cancel_subject=True,
            counts_as_cheating=True,
            cancel_all_subjects_of_sitting=True,
            bar_from=incident_date,
            bar_until=date(incident_date.year, 12, 31),  # 当年不得参加考试
        )
    years = SERIOUS_BAR_YEARS if serious else LIGHT_BAR_YEARS
    return Consequence(
        cancel_subject=True,
        counts_as_cheating=True,
        cancel_all_subjects_of_sitting=True,
        bar_from=incident_date,
        bar_until=anniversary(incident_date, years) - timedelta(days=1),
        referral=serious,
    )


def consequence_of(code: str, serious: bool, incident_date: date) -> Consequence:
    """The consequence of an entry of category ``code`` (none for plain log entries)."""
    cat = CATEGORIES.get(code)
    if cat is None:
        raise ValueError(f"unknown incident category {code!r}")
    if cat.level is not None:
        return consequence(cat.level, serious, incident_date)
    if serious:
        raise ValueError("only a level-4 violation can be serious (情节严重)")
    if cat.cancels_score:
        return Consequence(cancel_subject=True)  # 提前强行离场：取消本场考试成绩 (not cheating)
    return NO_CONSEQUENCE


def combine(consequences: Iterable[Consequence]) -> Consequence:
    """The strongest of every respect: what several entries about one attempt add up to."""
    items = list(consequences)
    bars = [c for c in items if c.bar_until is not None]
    longest = max(bars, key=lambda c: (c.bar_until, c.bar_from), default=None)
    return Consequence(
        cancel_subject=any(c.cancel_subject for c in items),
        counts_as_cheating=any(c.counts_as_cheating for c in items),
        cancel_all_subjects_of_sitting=any(c.cancel_all_subjects_of_sitting for c in items),
        bar_from=min((c.bar_from for c in bars if c.bar_from is not None), default=None) if longest else None,
        bar_until=longest.bar_until if longest else None,
        referral=any(c.referral for c in items),
    )


def barred_on(bar_from: date, bar_until: date, day: date) -> bool:
    """Whether a bar ``[bar_from, bar_until]`` forbids sitting an exam on ``day`` (R-REG-1)."""
    return bar_from <= day <= bar_until


# --- validating an entry --------------------------------------------------------------------------

_NAME_SEPARATORS = re.compile(r"[,，、;；/\n]+")


def split_names(text: str) -> tuple[str, ...]:
    """Names typed into one field: "张三、李四" or "张三, 李四" → ("张三", "李四")."""
    return tuple(name.strip() for name in _NAME_SEPARATORS.split(text) if name.strip())


def clean_names(names: Sequence[str]) -> tuple[str, ...]:
    """Trimmed, without blanks and repeats, in their order."""
    seen: list[str] = []
    for name in names:
        clean = " ".join(name.split())
        if clean and clean not in seen:
            seen.append(clean)
    return tuple(seen)


def names_problem(names: Sequence[str], *, least: int = 1) -> str | None:
    if len(names) < least or len(names) > RECORDERS_MAX:
        return "count"
    if any(len(n) > NAME_MAX_CHARS for n in names):
        return "too_long"
    return None


@dataclasses.dataclass(frozen=True)
class Draft:
    """An entry as requested, with what the service found about the seat concerned."""

    category: str
    text: str = ""
    recorded_by: tuple[str, ...] = ()
    has_candidate: bool = False
    attempt: str | None = None  # None (not checked in), "open" or "closed"
    serious: bool = False
    escorts: tuple[str, ...] = ()
    admitted: bool | None = None  # impersonation suspected: did the candidate admit it?
    impersonator: str = ""  # the impersonator's confirmation (代考者签名确认)
    request_id: str | None = None


def entry_problem(draft: Draft) -> str | None:
    """Why the entry cannot be made, as a refusal code, or None."""
    cat = CATEGORIES.get(draft.category)
    if cat is None:
        return "unknown_category"
    if draft.request_id is not None and not 0 < len(draft.request_id) <= REQUEST_ID_MAX_CHARS:
        return "bad_request_id"
    if cat.needs != Needs.NOTHING and not draft.has_candidate:
        return "needs_candidate"
    if cat.needs in (Needs.ATTEMPT, Needs.OPEN_ATTEMPT) and draft.attempt is None:
        return "not_checked_in"
    if cat.needs == Needs.OPEN_ATTEMPT and draft.attempt != "open":
        return "attempt_closed"
    if draft.serious and cat.level != 4:
        return "serious_level_4_only"
    if len(draft.text) > TEXT_MAX_CHARS:
        return "bad_text"
    if cat.needs_text and not draft.text.strip():
        return "needs_text"
    if names_problem(draft.recorded_by) is not None:
        return "bad_recorders"
    if cat.code == TOILET_START and names_problem(draft.escorts, least=TOILET_ESCORTS) is not None:
        return "needs_escorts"
    if cat.code == IMPERSONATION_SUSPECTED:
        if draft.admitted is None:
            return "needs_admitted"
        if draft.admitted and not draft.impersonator.strip():
            return "needs_confirmation"
        if len(draft.impersonator) > NAME_MAX_CHARS:
            return "bad_recorders"
    return None


def resolve(code: str, admitted: bool | None) -> tuple[str, bool]:
    """The category stored and whether the case is marked for investigation (R-INC-5):
    suspected impersonation admitted is 替考 (level 4); denied, the candidate continues and the
    chief investigates after the sitting."""
    if code == IMPERSONATION_SUSPECTED:
        return (IMPERSONATION, False) if admitted else (IMPERSONATION_SUSPECTED, True)
    cat = CATEGORIES.get(code)
    return code, bool(cat and cat.investigation)


def correction_problem(old_code: str, new_code: str, *, has_candidate: bool, serious: bool) -> str | None:
    """Why an entry of ``old_code`` cannot be replaced by one of ``new_code``, or None.

    An entry that acted on the clock (toilet break, illness, early leave) happened: a correction
    may fix its words but not turn it into something else, and no correction starts a clock action.
    """
    new = CATEGORIES.get(new_code)
    if new is None:
        return "unknown_category"
    old = CATEGORIES.get(old_code)
    if old_code != new_code and (new.kind == Kind.ACTION or (old is not None and old.kind == Kind.ACTION)):
        return "cannot_recategorise"
    if new.needs != Needs.NOTHING and not has_candidate:
        return "needs_candidate"
    if serious and new.level != 4:
        return "serious_level_4_only"
    return None


def effective_ids(entries: Iterable[tuple[int, int | None]]) -> set[int]:
    """From (id, corrects_id) pairs: the entries no later entry corrects — those that count."""
    pairs = list(entries)
    corrected = {corrects for _id, corrects in pairs if corrects is not None}
    return {entry_id for entry_id, _corrects in pairs if entry_id not in corrected}
