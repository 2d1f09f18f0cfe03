"""Import the member roster from Excel or CSV, and issue binding codes to unbound members."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from openpyxl.utils import get_column_letter

from core.clock import local_day, utcnow
from core.config import defaults
from core.tabular import INVISIBLE_CATEGORIES, preview
from handlers.binding import IssuedCode, issue_codes
from handlers.errors import DomainError
from handlers.sheets import (
    ECHO_CHARS,
    RowError,
    cell_text,
    chunks,
    header_key,
    normalize_phone,
    phone_problem,
    row_error,
    table_rows,
)
from models.base import write_tx
from models.org import (
    PARTY_MEMBER_STATUSES,
    ROLES,
    STATUSES,
    Branch,
    Committee,
    Member,
    PartyGroup,
)
from models.wechat import WechatBinding

if TYPE_CHECKING:  # handlers.dues imports this module: the functions import it when called
    from handlers.dues import NewAssessment

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Settings = dict[str, dict[str, Any]]

PROGRESS_EVERY = 500
# The header is usually row 1; a title row or two above it is tolerated.
HEADER_SEARCH_ROWS = 10
FIRST_PARTY_YEAR = 1921

# Canonical columns and the header texts accepted for each (compared after header_key).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系手机"),
    "branch": ("支部", "党支部", "所在支部", "支部名称"),
    "group": ("党小组", "所在党小组", "小组"),
    "status": ("党员状态", "状态", "政治面貌"),
    "roles": ("职务", "党内职务"),
    "joined_on": ("入党日期", "入党时间"),
    "full_on": ("转正日期", "转正时间"),
    "dues_category": ("党费类别", "党费交纳类别", "交纳类别"),
    "dues_base": ("工资基数", "党费基数", "交纳基数", "税后月收入"),
    "dues_from": ("基数起始月", "基数起始月份", "党费起始月", "起始月份"),
}
LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "branch": "支部",
    "group": "党小组",
    "status": "党员状态",
    "roles": "职务",
    "joined_on": "入党日期",
    "full_on": "转正日期",
    "dues_category": "党费类别",
    "dues_base": "工资基数",
    "dues_from": "基数起始月",
}
REQUIRED = ("name", "phone", "branch")
DUES_COLUMNS = ("dues_category", "dues_base", "dues_from")
OPTIONAL = ("group", "status", "roles", "joined_on", "full_on", *DUES_COLUMNS)

STATUS_ALIASES: dict[str, str] = {
    **{label: code for code, label in STATUSES.items()},
    **{code: code for code in STATUSES},
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
_DATE_PARTS = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(\s+\d{1,2}:\d{2}(:\d{2})?)?"
)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class RosterRow:
    """One data row as text; an optional field is None when its column is absent."""

    row_number: int
    name: str
    phone: str
    branch: str
    group: str | None = None
    status: str | None = None
    roles: str | None = None
    joined_on: str | None = None
    full_on: str | None = None
    dues_category: str | None = None
    dues_base: str | None = None
    dues_from: str | None = None


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int
    branches_created: int
    groups_created: int
    committee_created: bool = False
    dues_set: int = 0  # members given a new dues category or base (a new DuesAssessment)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


class RosterError(DomainError):
    """The roster file has errors; nothing was imported. `errors` lists every one."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = "\n".join(e.message for e in errors)
        super().__init__(f"名册有 {len(errors)} 处错误，未导入任何数据：\n{lines}")


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
class _Entry:
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


# ---- reading files ------------------------------------------------------------------------


_HEADER_LOOKUP = {header_key(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


def _find_header(
    rows: Iterator[list[Any]],
) -> tuple[int, dict[str, int]]:
    """Consume rows up to the header; return its row number and column index per field."""
    first_nonempty = 0
    for row_number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not first_nonempty and any(texts):
            first_nonempty = row_number
        columns: dict[str, int] = {}
        errors = []
        for index, text in enumerate(texts):
            key = _HEADER_LOOKUP.get(header_key(text))
            if key is None:
                continue
            if key in columns:
                errors.append(
                    row_error(
                        row_number,
                        f"表头“{LABELS[key]}”出现了两次（第{get_column_letter(columns[key] + 1)}列"
                        f"和第{get_column_letter(index + 1)}列），请删除多余的一列",
                    )
                )
            else:
                columns[key] = index
        if columns:
            missing = [LABELS[k] for k in REQUIRED if k not in columns]
            if missing:
                errors.append(
                    row_error(
                        row_number,
                        "表头缺少必填列“" + "”“".join(missing) + "”。" + _expected_header(),
                    )
                )
            if errors:
                raise RosterError(errors)
            return row_number, columns
        if row_number >= HEADER_SEARCH_ROWS:
            break
    if not first_nonempty:
        raise RosterError([row_error(1, "文件是空的，没有表头和数据")])
    raise RosterError([row_error(first_nonempty, "找不到表头。" + _expected_header())])


def _expected_header() -> str:
    return (
        "表头应为："
        + "、".join(LABELS[k] for k in REQUIRED)
        + "（必填），"
        + "、".join(LABELS[k] for k in OPTIONAL)
        + "（选填）"
    )


def parse_roster(
    path: str | os.PathLike[str], *, settings: Settings | None = None
) -> list[RosterRow]:
    """Read a roster .xlsx or .csv into rows of text, numbered as in the spreadsheet.

    ``settings`` give the [imports] limits on the file (the defaults when None).
    """
    path = os.fspath(path)
    rows = table_rows(path, settings)
    header_row, columns = _find_header(rows)
    width = max(columns.values()) + 1
    out: list[RosterRow] = []
    for row_number, cells in enumerate(rows, start=header_row + 1):
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values = {key: cell_text(cells[index]) for key, index in columns.items()}
        if not any(v.strip() for v in values.values()):
            continue  # blank lines and Excel's formatted-but-empty rows
        out.append(
            RosterRow(
                row_number=row_number,
                name=values["name"],
                phone=values["phone"],
                branch=values["branch"],
                **{key: values.get(key) for key in OPTIONAL},
            )
        )
    log.info("parsed roster file: %d data rows", len(out))
    return out


# ---- checking rows ------------------------------------------------------------------------


def parse_date(text: str) -> date:
    """Read 2020-07-01, 2020/7/1, 2020.7.1, 2020年7月1日 or 20200701; raise ValueError."""
    s = unicodedata.normalize("NFKC", text).strip()
    m = _DATE_PARTS.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if m is None:
        raise ValueError(text)
    value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
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


def _check_row(row: RosterRow, ctx: _DuesContext) -> tuple[_Entry | None, list[RowError]]:
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
                + "、".join(STATUSES.values())
            )
        else:
            status = found
    roles, unknown = _roles(row.roles or "")
    for word in unknown:
        errors.append(
            f"职务“{preview(row.roles or '', ECHO_CHARS)}”中的“{preview(word, ECHO_CHARS)}”"
            "无法识别，可填："
            + "、".join(ROLES.values())
            + "（多个职务用顿号分隔）"
        )
    dates: dict[str, date | None] = {}
    today = local_day(ctx.now, ctx.tz)
    for key in ("joined_on", "full_on"):
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
    joined_on, full_on = dates["joined_on"], dates["full_on"]
    if joined_on and full_on and full_on < joined_on:
        errors.append(f"转正日期“{row.full_on}”早于入党日期“{row.joined_on}”")
    if status == "probationary" and full_on:
        errors.append(f"党员状态为预备党员，不应填写转正日期“{row.full_on}”")
    dues_cells, dues_errors = _dues_cells(row, ctx)
    errors.extend(dues_errors)
    if errors:
        return None, [row_error(n, e) for e in errors]
    entry = _Entry(n, name, phone, branch, group, status, roles, joined_on, full_on, dues_cells)
    return entry, []


def _phones_elsewhere(phones: Iterable[str], committee: Committee | None) -> set[str]:
    """Return the phones already registered to members outside this committee."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(phones))):
        query = Member.select(Member.phone).join(Branch).where(Member.phone.in_(chunk))
        if committee is not None:
            query = query.where(Branch.committee != committee.id)
        found.update(m.phone for m in query)
    return found


def _present(rows: list[RosterRow]) -> frozenset[str]:
    """The optional columns the file has (every row has the same ones)."""
    return frozenset(k for k in OPTIONAL if rows and getattr(rows[0], k) is not None)


def _dues_context(settings: Settings | None, now: datetime | None) -> _DuesContext:
    settings = settings or defaults()
    return _DuesContext(settings, now or utcnow(), ZoneInfo(settings["app"]["timezone"]))


def _dues_item(entry: _Entry, member_id: int) -> NewAssessment:
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


def _assessment_problem(entry: _Entry, item: NewAssessment, ctx: _DuesContext) -> str | None:
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
    entries: list[_Entry], present: frozenset[str], ctx: _DuesContext, skip: set[str]
) -> tuple[list[_Entry], list[RowError]]:
    """Check the rows' dues cells against the stored members and their dues history.

    Only party members (预备, 正式) pay dues. A row that would add an assessment must pass
    handlers.dues.check_assessment; such entries come back marked dues_new. Rows whose phone
    is in ``skip`` (already refused) are not checked.
    """
    from handlers import dues

    with_dues = [e for e in entries if e.dues is not None and e.phone not in skip]
    if not with_dues:
        return entries, []
    stored = _existing_members([e.phone for e in with_dues])
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
        item = _dues_item(entry, member["id"] if member else 0)
        if member is not None and dues.already_recorded(histories.get(member["id"], []), item):
            continue
        problem = _assessment_problem(entry, item, ctx)
        if problem:
            errors.append(row_error(entry.row_number, problem))
        else:
            new.add(entry.row_number)
    return [replace(e, dues_new=e.row_number in new) for e in entries], errors


def _check(
    rows: list[RosterRow],
    committee: Committee | None,
    progress: Progress | None = None,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[list[_Entry], list[RowError]]:
    """Check every row; return the entries and every error, in row order."""
    total = len(rows)
    ctx = _dues_context(settings, now)
    entries: list[_Entry] = []
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
    for entry in entries:
        if entry.phone in elsewhere:
            errors.append(
                row_error(
                    entry.row_number,
                    f"手机号“{entry.phone}”已登记在其他党委的党员名下，请核对手机号，"
                    "或联系原党委先办理组织关系转出",
                )
            )
    entries, dues_errors = _check_dues(entries, _present(rows), ctx, elsewhere)
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
    return _check(rows, committee, settings=settings, now=now)[1]


# ---- writing ------------------------------------------------------------------------------


def _ensure_branches(
    committee: Committee, names: set[str], now: datetime
) -> tuple[dict[str, int], int]:
    """Return branch ids by name for the committee, creating the missing ones."""
    existing = {
        b.name: b.id
        for b in Branch.select(Branch.id, Branch.name).where(Branch.committee == committee.id)
    }
    missing = sorted(names - existing.keys())
    for chunk in chunks(missing):
        Branch.insert_many(
            [{"committee": committee.id, "name": n, "created_at": now} for n in chunk]
        ).as_rowcount().execute()
    if missing:
        existing = {
            b.name: b.id
            for b in Branch.select(Branch.id, Branch.name).where(Branch.committee == committee.id)
        }
    return existing, len(missing)


def _ensure_groups(wanted: set[tuple[int, str]]) -> tuple[dict[tuple[int, str], int], int]:
    """Return group ids by (branch id, name), creating the missing ones."""
    branch_ids = sorted({b for b, _ in wanted})

    def load() -> dict[tuple[int, str], int]:
        found: dict[tuple[int, str], int] = {}
        for chunk in chunks(branch_ids):
            query = PartyGroup.select(PartyGroup.id, PartyGroup.branch, PartyGroup.name)
            for g in query.where(PartyGroup.branch.in_(chunk)):
                found[(g.branch_id, g.name)] = g.id
        return found

    existing = load()
    missing = sorted(wanted - existing.keys())
    for chunk in chunks(missing):
        rows = [{"branch": b, "name": n} for b, n in chunk]
        PartyGroup.insert_many(rows).as_rowcount().execute()
    return (load() if missing else existing), len(missing)


# The member columns an import may change, as stored (foreign keys as ids).
_COMPARED = ("name", "branch", "party_group", "status", "roles", "joined_on", "full_on")


def _existing_members(phones: list[str]) -> dict[str, dict[str, Any]]:
    """Return the stored members with these phones, as plain rows keyed by phone."""
    columns = [Member.id, Member.phone, Member.version] + [
        getattr(Member, name) for name in _COMPARED
    ]
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(phones):
        for row in Member.select(*columns).where(Member.phone.in_(chunk)).dicts():
            found[row["phone"]] = row
    return found


def _write_dues(entries: list[_Entry], existing: dict[str, dict[str, Any]], now: datetime) -> int:
    """Add the rows' new dues assessments (history kept), once the members exist."""
    from handlers import dues

    with_dues = [e for e in entries if e.dues is not None]
    if not with_dues:
        return 0
    ids = {phone: row["id"] for phone, row in existing.items()}
    created = [e.phone for e in with_dues if e.phone not in ids]
    if created:
        ids.update({phone: row["id"] for phone, row in _existing_members(created).items()})
    histories = dues.assessment_histories(ids[e.phone] for e in with_dues)
    items = []
    for entry in with_dues:
        item = _dues_item(entry, ids[entry.phone])
        if dues.already_recorded(histories.get(item.member_id, []), item):
            continue
        if not entry.dues_new:  # recorded when checked, changed since: it was not checked
            raise DomainError(
                "导入期间有人修改了党员的党费类别或基数，未导入任何数据，请重新导入。"
            )
        items.append(item)
    return dues.add_assessments(items, now=now) if items else 0


def _write(
    entries: list[_Entry], committee_name: str, present: frozenset[str], now: datetime
) -> ImportReport:
    """Upsert the checked entries in one short write transaction."""
    with write_tx():
        committee = Committee.get_or_none(Committee.name == committee_name)
        committee_created = committee is None
        if committee is None:
            committee = Committee.create(name=committee_name, created_at=now)
        branch_ids, branches_created = _ensure_branches(
            committee, {e.branch for e in entries}, now
        )
        wanted_groups = {(branch_ids[e.branch], e.group) for e in entries if e.group}
        group_ids, groups_created = _ensure_groups(wanted_groups) if wanted_groups else ({}, 0)
        existing = _existing_members([e.phone for e in entries])
        ours = set(branch_ids.values())
        # Re-checked under the write lock: a member may have moved since validation.
        moved = [
            e for e in entries if e.phone in existing and existing[e.phone]["branch"] not in ours
        ]
        if moved:
            raise RosterError(
                [
                    row_error(e.row_number, f"手机号“{e.phone}”已登记在其他党委的党员名下")
                    for e in moved
                ]
            )
        to_create: list[dict[str, Any]] = []
        updated = unchanged = 0
        for e in entries:
            fields: dict[str, Any] = {"name": e.name, "branch": branch_ids[e.branch]}
            if "group" in present:
                fields["party_group"] = group_ids[(fields["branch"], e.group)] if e.group else None
            for key in ("status", "roles", "joined_on", "full_on"):
                if key in present:
                    fields[key] = getattr(e, key)
            member = existing.get(e.phone)
            if member is None:
                to_create.append(
                    {"phone": e.phone, "created_at": now, "updated_at": now, "version": 1}
                    | {"party_group": None, "status": "full", "roles": ""}
                    | fields
                )
                continue
            if "group" not in present and member["branch"] != fields["branch"]:
                fields["party_group"] = None  # the old group belongs to the old branch
            changes = {k: v for k, v in fields.items() if member[k] != v}
            if not changes:
                unchanged += 1
                continue
            done = (
                Member.update(**changes, updated_at=now, version=Member.version + 1)
                .where(Member.id == member["id"], Member.version == member["version"])
                .execute()
            )
            if done != 1:
                raise DomainError("导入期间有人修改了党员信息，未导入任何数据，请重新导入。")
            updated += 1
        for chunk in chunks(to_create):
            Member.insert_many(chunk).as_rowcount().execute()
        dues_set = _write_dues(entries, existing, now)
    report = ImportReport(
        created=len(to_create),
        updated=updated,
        unchanged=unchanged,
        branches_created=branches_created,
        groups_created=groups_created,
        committee_created=committee_created,
        dues_set=dues_set,
    )
    log.info(
        "roster imported into committee id=%s: %d created, %d updated, %d unchanged, "
        "%d branches and %d groups created, %d dues assessments added",
        committee.id,
        report.created,
        report.updated,
        report.unchanged,
        report.branches_created,
        report.groups_created,
        report.dues_set,
    )
    return report


def import_roster(
    path: str | os.PathLike[str],
    committee_name: str,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Check the whole file, then upsert its members by phone; any error writes nothing.

    The optional 党费类别, 工资基数 and 基数起始月 columns give a party member a new dues
    assessment (handlers.dues) when they differ from the one in effect; ``settings`` bound
    them (the defaults when None).
    """
    committee_name = committee_name.strip()
    if not committee_name:
        raise DomainError("请填写党委名称。")
    if len(committee_name) > 100:
        raise DomainError(f"党委名称“{committee_name}”过长（最多100个字）。")
    rows = parse_roster(path, settings=settings)
    if not rows:
        raise DomainError("名册中没有党员数据（表头下面是空的）。")
    present = _present(rows)
    now = now or utcnow()
    committee = Committee.get_or_none(Committee.name == committee_name)
    entries, errors = _check(rows, committee, progress, settings=settings, now=now)
    if errors:
        log.info("roster import refused: %d errors in %d rows", len(errors), len(rows))
        raise RosterError(errors)
    report = _write(entries, committee_name, present, now)
    if progress:
        progress(len(rows), len(rows))
    return report


# ---- binding codes ------------------------------------------------------------------------


def _resolve_committee(committee_name: str | None) -> Committee | None:
    if committee_name is None:
        return None
    committee = Committee.get_or_none(Committee.name == committee_name)
    if committee is None:
        names = "、".join(c.name for c in Committee.select().order_by(Committee.name)) or "（无）"
        raise DomainError(f"没有名为“{committee_name}”的党委。现有党委：{names}")
    return committee


def _resolve_branch(branch_name: str, committee: Committee | None) -> Branch:
    query = Branch.select(Branch, Committee).join(Committee).order_by(Branch.name)
    if committee is not None:
        query = query.where(Branch.committee == committee.id)
    branches = list(query)
    matches = [b for b in branches if b.name == branch_name.strip()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if not branches:
            raise DomainError(f"没有名为“{branch_name}”的支部：还没有任何支部，请先导入名册。")
        names = "、".join(b.name for b in branches)
        raise DomainError(f"没有名为“{branch_name}”的支部。现有支部：{names}")
    committees = "、".join(b.committee.name for b in matches)
    raise DomainError(f"多个党委都有“{branch_name}”（{committees}），请指定党委。")


def invite(
    branch_name: str | None = None,
    committee_name: str | None = None,
    *,
    settings: dict[str, dict[str, Any]],
    now: datetime,
    deliver: Callable[[list[IssuedCode]], None] | None = None,
) -> list[IssuedCode]:
    """Issue binding codes to roster members without a WeChat binding, optionally one branch.

    `deliver` runs inside the transaction: if it raises (say the CSV cannot be written),
    no code is issued and earlier codes keep working.
    """
    with write_tx():
        committee = _resolve_committee(committee_name)
        query = (
            Member.select(Member, Branch)
            .join(Branch)
            .where(
                Member.status != "out",
                Member.id.not_in(WechatBinding.select(WechatBinding.member)),
            )
            .order_by(Branch.name, Member.id)
        )
        if branch_name is not None:
            query = query.where(Member.branch == _resolve_branch(branch_name, committee).id)
        elif committee is not None:
            query = query.where(Branch.committee == committee.id)
        members = list(query)
        issued: list[IssuedCode] = []
        if members:
            issued = issue_codes(
                members,
                secret_key=settings["app"]["secret_key"],
                now=now,
                ttl_days=settings["binding"]["code_ttl_days"],
                length=settings["binding"]["code_length"],
            )
        if deliver is not None:
            deliver(issued)
    log.info(
        "issued %d binding codes (committee=%s, branch=%s)",
        len(issued),
        committee.id if committee else "all",
        branch_name or "all",
    )
    return issued
