"""Check roster rows before anything is written: every cell, phones, and dues cells."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.clock import local_day, utcnow
from core.config import defaults
from core.sheet_reader import INVISIBLE_CATEGORIES, preview
from handlers.errors import DomainError
from handlers.membership import REASONS, departed_numbers
from handlers.roster.development import DAY_STAGES, attach_days
from handlers.roster.rows import DEVELOPMENT_COLUMNS, LABELS, OPTIONAL, RosterRow, Settings
from handlers.sheets import (
    ECHO_CHARS,
    RowError,
    chunks,
    normalize_phone,
    phone_problem,
    row_error,
)
from handlers.sheets import parse_date as sheet_date
from models.org import LEFT, PARTY_MEMBER_STATUSES, ROLES, STATUSES, Branch, Committee, Member

if TYPE_CHECKING:  # handlers.dues imports this module: the functions import it when called
    from handlers.dues import NewAssessment


Progress = Callable[[int, int], None]

PROGRESS_EVERY = 500
FIRST_PARTY_YEAR = 1921

# A roster never says someone left: that is recorded by handlers.membership (member leave).
ROSTER_STATUSES: dict[str, str] = {k: v for k, v in STATUSES.items() if k != LEFT}
STATUS_ALIASES: dict[str, str] = {
    **{label: code for code, label in ROSTER_STATUSES.items()},
    **{code: code for code in ROSTER_STATUSES},
    "正式": "full",
    "中共党员": "full",
    "党员": "full",
    "预备": "probationary",
    "中共预备党员": "probationary",
    "积极分子": "activist",
    "申请人": "applicant",
    "流动": "away",
    "失联": "lost",
    "自行脱党": "out",
}
ROLE_ALIASES: dict[str, str] = {
    **{label: code for code, label in ROLES.items()},
    **{code: code for code in ROLES},
    "支部书记": "secretary",
    "党支部书记": "secretary",
    "支部副书记": "deputy_secretary",
    "党支部副书记": "deputy_secretary",
    "收缴员": "dues_collector",
    "党费员": "dues_collector",
    "党务专员": "affairs_staff",
    "专职党务": "affairs_staff",
    "党务干事": "affairs_staff",
    "小组长": "group_leader",
    "党小组组长": "group_leader",
}
# Cells people fill in to say "no office".
NO_ROLE = frozenset({"无", "党员", "普通党员", "-", "—", "--", "——"})

_ROLE_SPLIT = re.compile(r"[、,/;\s]+")


@dataclass(frozen=True)
class _Dues:
    """A row's dues cells, read: what handlers.dues records as a DuesAssessment."""

    category: str
    amount_fen: int | None  # the after-tax base (在职, 离退休) or the farmer's monthly amount
    from_month: date
    month_given: bool  # False: the 基数起始月 cell was empty, so "from the current month"


@dataclass(frozen=True)
class _DuesContext:
    """What checking dues cells needs: the settings and the time of the import."""

    settings: Settings
    now: datetime
    tz: ZoneInfo


@dataclass(frozen=True)
class Entry:
    """A checked row: the member's fields as they should be stored."""

    row_number: int
    name: str
    phone: str
    branch: str
    group: str | None
    status: str
    roles: str
    joined_on: date | None
    full_on: date | None
    dues: _Dues | None = None
    dues_new: bool = False  # checked against the member's history: a new assessment is due
    birth_date: date | None = None
    days: dict[str, date | None] = field(default_factory=dict)  # development days (申请入党…)


def _hidden_char(text: str) -> str | None:
    """Return the first control, format or line-separator character of a name, if any."""
    if text.isprintable():
        return None
    return next((ch for ch in text if unicodedata.category(ch) in INVISIBLE_CATEGORIES), None)


def _name_problem(label: str, raw: str, limit: int) -> str | None:
    """What is wrong with a name cell (姓名, 支部, 党小组) other than being empty."""
    hidden = _hidden_char(raw)
    if hidden is not None:
        return (
            f"{label}“{preview(raw, ECHO_CHARS)}”含有控制字符（U+{ord(hidden):04X}），"
            "请删除后重新填写"
        )
    if len(raw.strip()) > limit:
        return f"{label}“{preview(raw.strip(), ECHO_CHARS)}”过长（最多{limit}个字）"
    return None


def parse_date(text: str) -> date:
    """Read a roster date (see handlers.sheets.parse_date); raise ValueError, also for a year
    before the Party's founding."""
    value = sheet_date(text)
    if value.year < FIRST_PARTY_YEAR:
        raise ValueError(text)
    return value


def _roles(text: str) -> tuple[str, list[str]]:
    """Return the sorted role codes of a 职务 cell and the words that were not recognized."""
    codes: set[str] = set()
    unknown: list[str] = []
    for word in _ROLE_SPLIT.split(unicodedata.normalize("NFKC", text)):
        if not word or word in NO_ROLE:
            continue
        code = ROLE_ALIASES.get(word)
        if code is None:
            unknown.append(word)
        else:
            codes.add(code)
    return ",".join(sorted(codes)), unknown


def _dues_cells(row: RosterRow, ctx: _DuesContext) -> tuple[_Dues | None, list[str]]:
    """Read a row's 党费类别, 工资基数 and 基数起始月; None when all three are empty."""
    from handlers import dues

    category_text = (row.dues_category or "").strip()
    base_text = (row.dues_base or "").strip()
    month_text = (row.dues_from or "").strip()
    if not (category_text or base_text or month_text):
        return None, []
    errors: list[str] = []
    category = dues.category_of(category_text)
    if not category_text:
        given = (("dues_base", base_text), ("dues_from", month_text))
        filled = "、".join(LABELS[key] for key, text in given if text)
        errors.append(
            f"填写了{filled}，党费类别却为空，请填写党费类别，可填：{dues.CATEGORY_CHOICES}"
        )
    elif category is None:
        errors.append(f"党费类别“{category_text}”无法识别，可填：{dues.CATEGORY_CHOICES}")
    amount_fen = None
    if base_text:
        try:
            amount_fen = dues.yuan_to_fen(base_text, what=LABELS["dues_base"])
        except dues.MoneyError as exc:
            errors.append(exc.message)
    from_month = dues.this_month(ctx.now, ctx.tz)
    if month_text:
        try:
            from_month = dues.cell_month(month_text, now=ctx.now, tz=ctx.tz)
        except DomainError as exc:
            errors.append(f"{LABELS['dues_from']}：{exc.message}")
    if errors or category is None:
        return None, errors
    return _Dues(category, amount_fen, from_month, bool(month_text)), []


def _dates(row: RosterRow, today: date, errors: list[str]) -> dict[str, date | None]:
    """Read the row's 入党日期, 转正日期, 出生日期 and development days (None when empty); add
    what is wrong to errors."""
    dates: dict[str, date | None] = {}
    for key in ("joined_on", "full_on", "birth_date", *DEVELOPMENT_COLUMNS):
        text = (getattr(row, key) or "").strip()
        dates[key] = None
        if text:
            try:
                dates[key] = parse_date(text)
            except ValueError:
                errors.append(
                    f"{LABELS[key]}“{preview(text, ECHO_CHARS)}”不是有效日期（示例：2020-07-01）"
                )
            else:
                if dates[key] > today:
                    errors.append(f"{LABELS[key]}“{text}”晚于今天（{today:%Y-%m-%d}），请核对")
    return dates


def _check_row(row: RosterRow, ctx: _DuesContext) -> tuple[Entry | None, list[RowError]]:
    """Check one row on its own; return the entry to store, or the row's errors."""
    n = row.row_number
    errors: list[str] = []
    name = row.name.strip()
    if not name:
        errors.append("姓名不能为空")
    elif problem := _name_problem("姓名", row.name, 50):
        errors.append(problem)
    phone = normalize_phone(row.phone)
    if not row.phone.strip():
        errors.append("手机号不能为空")
    else:
        problem = phone_problem(row.phone, phone)
        if problem:
            errors.append(problem)
    branch = row.branch.strip()
    if not branch:
        errors.append("支部不能为空")
    elif problem := _name_problem("支部", row.branch, 100):
        errors.append(problem)
    group = (row.group or "").strip() or None
    if group and (problem := _name_problem("党小组", row.group or "", 100)):
        errors.append(problem)
    status = "full"
    status_text = (row.status or "").strip()
    if status_text:
        found = STATUS_ALIASES.get(re.sub(r"\s", "", unicodedata.normalize("NFKC", status_text)))
        if found is None:
            errors.append(
                f"党员状态“{preview(status_text, ECHO_CHARS)}”无法识别，可填："
                + "、".join(ROSTER_STATUSES.values())
            )
        else:
            status = found
    roles, unknown = _roles(row.roles or "")
    for word in unknown:
        errors.append(
            f"职务“{preview(row.roles or '', ECHO_CHARS)}”中的“{preview(word, ECHO_CHARS)}”"
            "无法识别，可填：" + "、".join(ROLES.values()) + "（多个职务用顿号分隔）"
        )
    dates = _dates(row, local_day(ctx.now, ctx.tz), errors)
    joined_on, full_on = dates["joined_on"], dates["full_on"]
    if joined_on and full_on and full_on < joined_on:
        errors.append(f"转正日期“{row.full_on}”早于入党日期“{row.joined_on}”")
    birth_date = dates["birth_date"]
    if birth_date and joined_on and joined_on <= birth_date:
        errors.append(f"入党日期“{row.joined_on}”不晚于出生日期“{row.birth_date}”，请核对")
    if status == "probationary" and full_on:
        errors.append(f"党员状态为预备党员，不应填写转正日期“{row.full_on}”")
    errors.extend(_development_problems(row, status if status_text else None, dates))
    dues_cells, dues_errors = _dues_cells(row, ctx)
    errors.extend(dues_errors)
    if errors:
        return None, [row_error(n, e) for e in errors]
    days = {key: dates[key] for key in DEVELOPMENT_COLUMNS}
    entry = Entry(
        n,
        name,
        phone,
        branch,
        group,
        status,
        roles,
        joined_on,
        full_on,
        dues_cells,
        birth_date=birth_date,
        days=days,
    )
    return entry, []


def _development_problems(
    row: RosterRow, status: str | None, dates: dict[str, date | None]
) -> list[str]:
    """The development days against the stage (when given) and against each other, in order:
    申请入党 ≤ 确定积极分子 ≤ 确定发展对象 ≤ 入党 (接收预备党员)."""
    errors = []
    for key in DEVELOPMENT_COLUMNS:
        if (
            dates[key]
            and status is not None
            and status in STATUSES
            and status
            not in (
                *DAY_STAGES[key],
                "away",
                "lost",
                "out",
            )
        ):
            errors.append(
                f"党员状态为{STATUSES[status]}，不应填写{LABELS[key]}“{getattr(row, key)}”"
            )
    order = [k for k in (*DEVELOPMENT_COLUMNS, "joined_on") if dates[k]]
    for earlier, later in zip(order, order[1:], strict=False):
        if dates[later] < dates[earlier]:
            errors.append(
                f"{LABELS[later]}“{getattr(row, later)}”早于{LABELS[earlier]}"
                f"“{getattr(row, earlier)}”"
            )
    return errors


def _phones_elsewhere(phones: Iterable[str], committee: Committee | None) -> set[str]:
    """Return the phones already registered to members outside this committee."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(phones))):
        query = Member.select(Member.phone).join(Branch).where(Member.phone.in_(chunk))
        if committee is not None:
            query = query.where(Branch.committee != committee.id)
        found.update(m.phone for m in query)
    return found


def _departed(entries: list[Entry], secret_key: str, skip: set[str]) -> dict[str, RowError]:
    """The refusal, by number, of rows whose number is that of a member who left (and of
    nobody on the roll now): an import does not bring them back as a new member. ``skip``:
    numbers refused already."""
    phones = [e.phone for e in entries if e.phone not in skip]
    gone = departed_numbers(phones, secret_key)
    if not gone:
        return {}
    live = existing_members(sorted(gone))
    errors = {}
    for entry in entries:
        found = gone.get(entry.phone)
        if found is None or entry.phone in live:
            continue
        if found.returned_on is not None:
            errors[entry.phone] = row_error(
                entry.row_number,
                f"手机号“{entry.phone}”是党员{found.name}转出前的号码；{found.name}已于"
                f"{found.returned_on:%Y-%m-%d}转回，现用其他号码，请在名册中改为现用号码",
            )
            continue
        advice = (
            "如其组织关系已转回本支部，请先办理转回（控制台党员页“办理转回”，或命令行 "
            "member return），否则请从名册中删除这一行"
            if found.reason_label == REASONS["transfer_out"]
            else "请从名册中删除这一行"
        )
        errors[entry.phone] = row_error(
            entry.row_number,
            f"手机号“{entry.phone}”的党员{found.name}已于{found.left_on:%Y-%m-%d}离开"
            f"（{found.reason_label}），导入名册不能恢复。{advice}",
        )
    return errors


def present_columns(rows: list[RosterRow]) -> frozenset[str]:
    """The optional columns the file has (every row has the same ones)."""
    return frozenset(k for k in OPTIONAL if rows and getattr(rows[0], k) is not None)


def _dues_context(settings: Settings | None, now: datetime | None) -> _DuesContext:
    settings = settings or defaults()
    return _DuesContext(settings, now or utcnow(), ZoneInfo(settings.app.timezone))


def dues_item(entry: Entry, member_id: int) -> NewAssessment:
    """The DuesAssessment a row asks for, as handlers.dues.NewAssessment."""
    from handlers import dues

    cells = entry.dues
    assert cells is not None
    return dues.NewAssessment(
        member_id=member_id,
        category=cells.category,
        base_fen=cells.amount_fen if cells.category in dues.BASED_CATEGORIES else None,
        fixed_fen=cells.amount_fen if cells.category == "farmer" else None,
        from_month=cells.from_month,
        month_given=cells.month_given,
    )


def _assessment_problem(entry: Entry, item: NewAssessment, ctx: _DuesContext) -> str | None:
    """Run handlers.dues.check_assessment on a new assessment; name the column at fault."""
    from handlers import dues

    def check(month: date) -> None:
        dues.check_assessment(
            entry.name,
            item.category,
            item.base_fen,
            item.fixed_fen,
            month,
            "",
            ctx.now,
            ctx.settings,
        )

    try:  # at the current month first: what is wrong then is the category or the amount
        check(dues.this_month(ctx.now, ctx.tz))
    except DomainError as exc:
        amount = item.category in dues.BASED_CATEGORIES or item.category == "farmer"
        return f"{LABELS['dues_base' if amount else 'dues_category']}：{exc.message}"
    try:
        check(item.from_month)
    except DomainError as exc:
        return f"{LABELS['dues_from']}：{exc.message}"
    return None


def _check_dues(
    entries: list[Entry], present: frozenset[str], ctx: _DuesContext, skip: set[str]
) -> tuple[list[Entry], list[RowError]]:
    """Check the rows' dues cells against the stored members and their dues history.

    Only party members (预备, 正式) pay dues. A row that would add an assessment must pass
    handlers.dues.check_assessment; such entries come back marked dues_new. Rows whose phone
    is in ``skip`` (already refused) are not checked.
    """
    from handlers import dues

    with_dues = [e for e in entries if e.dues is not None and e.phone not in skip]
    if not with_dues:
        return entries, []
    stored = existing_members([e.phone for e in with_dues])
    histories = dues.assessment_histories(m["id"] for m in stored.values())
    errors: list[RowError] = []
    new: set[int] = set()
    for entry in with_dues:
        member = stored.get(entry.phone)
        status = entry.status
        if member is not None and "status" not in present:
            status = member["status"]
        if status not in PARTY_MEMBER_STATUSES:
            errors.append(
                row_error(
                    entry.row_number,
                    f"党员状态为{STATUSES.get(status, status)}，只有预备党员和正式党员交纳党费，"
                    "请清空党费类别、工资基数和基数起始月",
                )
            )
            continue
        item = dues_item(entry, member["id"] if member else 0)
        if member is not None and dues.already_recorded(histories.get(member["id"], []), item):
            continue
        problem = _assessment_problem(entry, item, ctx)
        if problem:
            errors.append(row_error(entry.row_number, problem))
        else:
            new.add(entry.row_number)
    return [replace(e, dues_new=e.row_number in new) for e in entries], errors


def check_rows(
    rows: list[RosterRow],
    committee: Committee | None,
    progress: Progress | None = None,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[list[Entry], list[RowError]]:
    """Check every row; return the entries and every error, in row order."""
    total = len(rows)
    ctx = _dues_context(settings, now)
    entries: list[Entry] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for done, row in enumerate(rows, start=1):
        entry, row_errors = _check_row(row, ctx)
        errors.extend(row_errors)
        if entry is not None:
            earlier = first_row_of.get(entry.phone)
            if earlier is not None:
                errors.append(
                    row_error(
                        row.row_number,
                        f"手机号“{row.phone}”与第{earlier}行重复，同一手机号只能出现一次",
                    )
                )
            else:
                first_row_of[entry.phone] = row.row_number
                entries.append(entry)
        if progress and done % PROGRESS_EVERY == 0 and done < total:
            progress(done, total)
    elsewhere = _phones_elsewhere(first_row_of, committee)
    departed = _departed(entries, ctx.settings.app.secret_key, elsewhere)
    errors += departed.values()
    for entry in entries:
        if entry.phone in elsewhere:
            errors.append(
                row_error(
                    entry.row_number,
                    f"手机号“{entry.phone}”已登记在其他党委的党员名下，请核对手机号，"
                    "或联系原党委先办理组织关系转出",
                )
            )
    skip = elsewhere | set(departed)
    entries, dues_errors = _check_dues(entries, present_columns(rows), ctx, skip)
    errors.extend(dues_errors)
    errors.sort(key=lambda e: e.row_number)
    return entries, errors


def validate(
    rows: list[RosterRow],
    committee: Committee | None,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> list[RowError]:
    """Check every row before anything is written; return all errors, in row order.

    ``settings`` bound the dues columns (rates, limits, time zone; the defaults when None) and
    ``now`` is the current month of an empty 基数起始月.
    """
    return check_rows(rows, committee, settings=settings, now=now)[1]


# The member columns an import may change, as stored (foreign keys as ids).
COMPARED = (
    "name",
    "branch",
    "party_group",
    "status",
    "roles",
    "joined_on",
    "full_on",
    "birth_date",
)


def existing_members(phones: list[str]) -> dict[str, dict[str, Any]]:
    """Return the stored members with these phones, as plain rows keyed by phone."""
    columns = [Member.id, Member.phone, Member.version] + [
        getattr(Member, name) for name in COMPARED
    ]
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(phones):
        for row in Member.select(*columns).where(Member.phone.in_(chunk)).dicts():
            found[row["phone"]] = row
    attach_days(found)
    return found
