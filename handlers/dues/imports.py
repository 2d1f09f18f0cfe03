"""Bulk import of payments and of categories and bases from .xlsx or .csv files."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from handlers.audit import record
from handlers.dues.access import require_collector, require_party_member
from handlers.dues.bases import check_assessment
from handlers.dues.book import Book
from handlers.dues.loaders import fill_paid, load_books
from handlers.dues.money import MoneyError, Settings, yuan_to_fen
from handlers.dues.months import parse_months, parse_one_month, this_month
from handlers.dues.payments import insert_payment, record_voluntary
from handlers.dues.planning import plan_payment
from handlers.errors import DomainError
from handlers.sheets import (
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
from models.dues import (
    BASED_CATEGORIES,
    CATEGORIES,
    DuesAssessment,
)
from models.org import Branch, Committee, Member

log = logging.getLogger(__name__)

# Canonical columns of a payments file and the header texts accepted for each.
PAYMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系手机"),
    "amount": ("金额", "党费金额", "交纳金额", "缴纳金额", "实交金额", "实缴金额"),
    "months": ("月份", "所属月份", "交纳月份", "缴纳月份", "党费月份"),
    "kind": ("类型", "交纳类型", "缴纳类型"),
    "note": ("备注", "说明"),
}
PAYMENT_LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "amount": "金额",
    "months": "月份",
    "kind": "类型",
    "note": "备注",
}
PAYMENT_REQUIRED = ("name", "phone", "amount")

ASSESSMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系手机"),
    "category": ("党费类别", "类别", "交纳类别"),
    "base": ("税后月收入", "月收入", "工资基数", "基数", "税后工资", "离退休费"),
    "fixed": ("月交金额", "定额", "农民月交金额"),
    "from_month": ("起始月份", "起交月份", "生效月份", "开始月份"),
    "approved_by": ("批准人", "批准"),
}
ASSESSMENT_LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "category": "党费类别",
    "base": "税后月收入",
    "fixed": "月交金额",
    "from_month": "起始月份",
    "approved_by": "批准人",
}
ASSESSMENT_REQUIRED = ("name", "phone", "category")

CATEGORY_WORDS: dict[str, str] = {
    **{label: code for code, label in CATEGORIES.items()},
    **{code: code for code in CATEGORIES},
    "在职党员": "in_service",
    "在岗": "in_service",
    "离退休": "retired",
    "退休": "retired",
    "离休": "retired",
    "离退休党员": "retired",
    "农民": "farmer",
    "农民党员": "farmer",
    "学生": "student",
    "学生党员": "student",
    "下岗": "student",
    "失业": "student",
    "下岗失业": "student",
    "救济": "student",
    "领取救济": "student",
    "低保": "student",
    "免交": "exempt",
    "免缴": "exempt",
}
# What a file's 党费类别 cell may say, for error messages.
CATEGORY_CHOICES = "在职、离退休、农民、学生（或下岗失业、救济、低保）、免交"
VOLUNTARY_WORDS = ("自愿", "自愿交纳", "自愿多交", "自愿缴纳", "特殊党费")
DUES_WORDS = ("", "党费", "月党费", "按月", "正常")
_EXCEL_DAY_ONE = re.compile(r"(\d{4})-(\d{2})-01")
HEADER_SEARCH_ROWS = 10


class DuesImportError(DomainError):
    """The file has errors; nothing was imported. `errors` lists every one."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = "\n".join(e.message for e in errors)
        super().__init__(f"文件有 {len(errors)} 处错误，未导入任何数据：\n{lines}")


@dataclass(frozen=True)
class ImportResult:
    payments: int
    months: int
    voluntary: int
    total_fen: int


def _read_table(
    path: str | os.PathLike[str],
    columns: dict[str, tuple[str, ...]],
    labels: dict[str, str],
    required: tuple[str, ...],
    settings: Settings,
) -> list[tuple[int, dict[str, str]]]:
    """Read an .xlsx or .csv (roster's readers, the [imports] limits) into numbered rows."""
    lookup = {header_key(alias): key for key, aliases in columns.items() for alias in aliases}
    expected = (
        "表头应为："
        + "、".join(labels[k] for k in required)
        + "（必填），"
        + "、".join(labels[k] for k in columns if k not in required)
        + "（选填）"
    )
    rows: Iterator[list[Any]] = table_rows(os.fspath(path), settings)
    header: dict[str, int] | None = None
    header_row = first = 0
    for row_number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not first and any(texts):
            first = row_number
        found = {}
        for index, text in enumerate(texts):
            key = lookup.get(header_key(text))
            if key is not None and key not in found:
                found[key] = index
        if found:
            missing = [labels[k] for k in required if k not in found]
            if missing:
                raise DuesImportError(
                    [
                        row_error(
                            row_number, "表头缺少必填列“" + "”“".join(missing) + "”。" + expected
                        )
                    ]
                )
            header, header_row = found, row_number
            break
        if row_number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        if not first:
            raise DuesImportError([row_error(1, "文件是空的，没有表头和数据")])
        raise DuesImportError([row_error(first, "找不到表头。" + expected)])
    width = max(header.values()) + 1
    out = []
    for row_number, cells in enumerate(rows, start=header_row + 1):
        cells = list(cells) + [None] * max(0, width - len(cells))
        values = {key: cell_text(cells[index]) for key, index in header.items()}
        if any(v.strip() for v in values.values()):
            out.append((row_number, values))
    return out


def _import_members(
    rows: list[tuple[int, dict[str, str]]], committee: Committee | None
) -> tuple[dict[str, Member], list[RowError]]:
    """Check names and phones; return the members by phone and the row errors."""
    errors: list[RowError] = []
    phones: dict[int, str] = {}
    for n, values in rows:
        name, raw = values.get("name", "").strip(), values.get("phone", "")
        if not name:
            errors.append(row_error(n, "姓名不能为空"))
        if not raw.strip():
            errors.append(row_error(n, "手机号不能为空"))
            continue
        phone = normalize_phone(raw)
        problem = phone_problem(raw, phone)
        if problem:
            errors.append(row_error(n, problem))
        else:
            phones[n] = phone
    found: dict[str, Member] = {}
    for chunk in chunks(sorted(set(phones.values()))):
        query = Member.select(Member, Branch).join(Branch).where(Member.phone.in_(chunk))
        if committee is not None:
            query = query.where(Branch.committee == committee.id)
        found.update({m.phone: m for m in query})
    for n, values in rows:
        phone = phones.get(n)
        if phone is None:
            continue
        member = found.get(phone)
        name = values.get("name", "").strip()
        if member is None:
            where = f"{committee.name}的" if committee else ""
            errors.append(row_error(n, f"手机号“{values['phone']}”不在{where}党员名册中，请核对"))
        elif name and member.name != name:
            errors.append(
                row_error(
                    n, f"手机号“{values['phone']}”登记的是“{member.name}”，与姓名“{name}”不符"
                )
            )
    return found, errors


def _books_of(members: list[Member]) -> dict[int, Book]:
    """Books with every paid month for the members of a file, a few queries per 500."""
    books: dict[int, Book] = {}
    for chunk in chunks(members):
        scope = Member.select(Member.id).where(Member.id.in_([m.id for m in chunk]))
        part = load_books(chunk, scope)
        fill_paid(part, scope)
        books.update(part)
    return books


def _require_collector_of(actor: Member | None, branch_ids: set[int]) -> None:
    if actor is not None:
        for branch in Branch.select().where(Branch.id.in_(sorted(branch_ids))):
            require_collector(actor, branch)


def category_of(text: str) -> str | None:
    """Return the category code a file's 党费类别 cell names (在职, 低保 …), or None."""
    return CATEGORY_WORDS.get(re.sub(r"\s", "", unicodedata.normalize("NFKC", text)))


def cell_month(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """Read one month from a file cell: 2026年1月, 2026-01, 本月, or an Excel date on the 1st."""
    text = text.strip()
    day_one = _EXCEL_DAY_ONE.fullmatch(text)  # Excel turns a typed 2026年1月 into a date
    if day_one:
        text = f"{day_one.group(1)}-{day_one.group(2)}"
    return parse_one_month(text, now=now, tz=tz)


def _import_months(text: str, now: datetime, tz: ZoneInfo) -> list[date] | None:
    text = text.strip()
    if not text:
        return None
    day_one = _EXCEL_DAY_ONE.fullmatch(text)  # an Excel date cell holding a month
    if day_one:
        text = f"{day_one.group(1)}-{day_one.group(2)}"
    return parse_months(text, now=now, tz=tz)


@dataclass(frozen=True)
class _PaymentRow:
    row_number: int
    member: Member
    amount_fen: int
    voluntary: bool
    plan: list[tuple[date, int]]
    note: str


def check_payments(
    path: str | os.PathLike[str],
    *,
    committee: Committee | None,
    now: datetime,
    settings: Settings,
) -> list[_PaymentRow]:
    """Check every row of a payments file; raise DuesImportError listing every error."""
    rows = _read_table(path, PAYMENT_COLUMNS, PAYMENT_LABELS, PAYMENT_REQUIRED, settings)
    if not rows:
        raise DomainError("文件中没有数据（表头下面是空的）。")
    members, errors = _import_members(rows, committee)
    books = _books_of(list({m.id: m for m in members.values()}.values()))
    taken: dict[int, set[date]] = {}
    checked: list[_PaymentRow] = []
    bad_rows = {e.row_number for e in errors}
    for n, values in rows:
        member = members.get(normalize_phone(values.get("phone", "")))
        if n in bad_rows:
            member = None  # its name or phone is wrong: only its other cells are checked
        row, problems = _check_payment_row(
            n, values, member, books, taken, now=now, settings=settings
        )
        errors.extend(row_error(n, problem) for problem in problems)
        if row is not None:
            checked.append(row)
    if errors:
        errors.sort(key=lambda e: e.row_number)
        raise DuesImportError(errors)
    return checked


def _check_payment_row(
    n: int,
    values: dict[str, str],
    member: Member | None,
    books: dict[int, Book],
    taken: dict[int, set[date]],
    *,
    now: datetime,
    settings: Settings,
) -> tuple[_PaymentRow | None, list[str]]:
    """One row of a payments file, checked (None without a member), and its problems; the
    months it plans are added to the member's `taken`."""
    tz = ZoneInfo(settings.app.timezone)
    problems: list[str] = []
    fen = None
    try:
        fen = yuan_to_fen(values["amount"], max_fen=settings.dues.max_payment_fen)
    except MoneyError as exc:
        problems.append(exc.message)
    kind = re.sub(r"\s", "", values.get("kind", ""))
    if kind not in VOLUNTARY_WORDS and kind not in DUES_WORDS:
        problems.append(f"类型“{values['kind']}”无法识别，可填：党费、自愿（留空为党费）")
    voluntary = kind in VOLUNTARY_WORDS
    months = None
    try:
        months = _import_months(values.get("months", ""), now, tz)
    except DomainError as exc:
        problems.append(exc.message)
    if voluntary and months:
        problems.append("自愿交纳不对应月份，请把月份留空")
    if problems or member is None or fen is None:
        return None, problems
    plan: list[tuple[date, int]] = []
    try:
        if voluntary:
            require_party_member(member)
            if fen <= 0:
                raise MoneyError("金额应大于 0")
        else:
            mine = taken.setdefault(member.id, set())
            plan = plan_payment(
                books[member.id], member, fen, months, now=now, settings=settings, taken=mine
            )
            mine.update(m for m, _ in plan)
    except DomainError as exc:
        return None, [exc.message]
    return _PaymentRow(n, member, fen, voluntary, plan, values.get("note", "")[:200]), []


def import_payments(
    path: str | os.PathLike[str],
    *,
    committee: Committee | None = None,
    actor: Member | None = None,
    now: datetime,
    settings: Settings,
) -> ImportResult:
    """Check a whole payments file, then record every row in one transaction; any error, none."""
    checked = check_payments(path, committee=committee, now=now, settings=settings)
    _require_collector_of(actor, {row.member.branch_id for row in checked})
    source = "import"
    try:
        with write_tx():
            for row in checked:
                if row.voluntary:
                    record_voluntary(
                        actor,
                        row.member,
                        row.amount_fen,
                        now=now,
                        settings=settings,
                        source=source,
                        note=row.note,
                    )
                else:
                    insert_payment(
                        actor, row.member, row.plan, source=source, now=now, note=row.note
                    )
            _record_import(actor, "导入党费缴纳记录", [r.member for r in checked], now)
    except IntegrityError:
        raise DomainError(
            "导入期间有人登记了文件中的某些月份，未导入任何数据。请发送“党费 情况”核对后重新导入。"
        ) from None
    result = ImportResult(
        payments=sum(not r.voluntary for r in checked),
        months=sum(len(r.plan) for r in checked),
        voluntary=sum(r.voluntary for r in checked),
        total_fen=sum(r.amount_fen for r in checked),
    )
    log.info("dues import: %d payments, %d voluntary", result.payments, result.voluntary)
    return result


def import_assessments(
    path: str | os.PathLike[str],
    *,
    committee: Committee | None = None,
    actor: Member | None = None,
    now: datetime,
    settings: Settings,
) -> int:
    """Check a whole file of categories and bases, then record every row; any error, none."""
    rows = _read_table(path, ASSESSMENT_COLUMNS, ASSESSMENT_LABELS, ASSESSMENT_REQUIRED, settings)
    if not rows:
        raise DomainError("文件中没有数据（表头下面是空的）。")
    members, errors = _import_members(rows, committee)
    bad_rows = {e.row_number for e in errors}
    checked = []
    for n, values in rows:
        member = members.get(normalize_phone(values.get("phone", "")))
        row, problems = _check_assessment_row(values, member, now=now, settings=settings)
        errors.extend(row_error(n, p) for p in problems)
        if row is not None and n not in bad_rows:
            checked.append(row)
    if errors:
        errors.sort(key=lambda e: e.row_number)
        raise DuesImportError(errors)
    _require_collector_of(actor, {member.branch_id for member, *_ in checked})
    _record_assessments(checked, actor, now)
    return len(checked)


# A checked row: the member, category, amounts (base, fixed), first month and approver.
_CheckedAssessment = tuple[Member, str, dict[str, int | None], date, str]


def _check_assessment_row(
    values: dict[str, str], member: Member | None, *, now: datetime, settings: Settings
) -> tuple[_CheckedAssessment | None, list[str]]:
    """One row of a file of categories and bases, checked (None without a member or a
    category), and its problems."""
    tz = ZoneInfo(settings.app.timezone)
    current = this_month(now, tz)
    problems = []
    category = category_of(values.get("category", ""))
    if category is None:
        problems.append(
            f"党费类别“{values.get('category', '')}”无法识别，可填：{CATEGORY_CHOICES}"
        )
    amounts: dict[str, int | None] = {"base": None, "fixed": None}
    for key in amounts:
        text = values.get(key, "").strip()
        if text:
            try:
                amounts[key] = yuan_to_fen(text, what=ASSESSMENT_LABELS[key])
            except MoneyError as exc:
                problems.append(exc.message)
    from_month = current
    if values.get("from_month", "").strip():
        try:
            found = _import_months(values["from_month"], now, tz)
            from_month = found[0] if found else current
        except DomainError as exc:
            problems.append(exc.message)
    approved_by = values.get("approved_by", "")
    if problems or category is None or member is None:
        return None, problems
    try:
        check_assessment(
            member.name,
            category,
            amounts["base"],
            amounts["fixed"],
            from_month,
            approved_by,
            now,
            settings,
        )
    except DomainError as exc:
        return None, [exc.message]
    return (member, category, amounts, from_month, approved_by), []


def _record_assessments(
    checked: list[_CheckedAssessment], actor: Member | None, now: datetime
) -> None:
    """Record the checked rows of a file of categories and bases in one transaction."""
    with write_tx():
        for member, category, amounts, from_month, approved_by in checked:
            DuesAssessment.create(
                member=member.id,
                from_month=from_month,
                category=category,
                base_fen=amounts["base"] if category in BASED_CATEGORIES else None,
                fixed_fen=amounts["fixed"] if category == "farmer" else None,
                approved_by=approved_by.strip()[:100],
                recorded_by=actor.id if actor else None,
                recorded_at=now,
            )
        _record_import(actor, "导入党费类别和基数", [row[0] for row in checked], now)
    log.info("dues categories imported for %d members", len(checked))


def _record_import(actor: Member | None, verb: str, members: list[Member], now: datetime) -> None:
    """One audit entry per branch of an imported file, with how many rows and members."""
    by_branch: dict[int, list[Member]] = {}
    for member in members:
        by_branch.setdefault(member.branch_id, []).append(member)
    for branch_id, rows in sorted(by_branch.items()):
        people = len({m.id for m in rows})
        record(
            actor,
            "dues.import",
            summary=f"{verb}：{len(rows)} 行，{people} 人",
            target=f"branch:{branch_id}",
            branch_id=branch_id,
            after={"rows": len(rows), "members": people},
            now=now,
        )
