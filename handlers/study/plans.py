"""Study plans (学习计划): a committee's or a branch's topics by day, loaded from Excel or CSV.

The file has the columns 日期, 主题, 类别, 内容 and (optionally) 链接. An import is
all-or-nothing: every bad row is reported by number and nothing is written. Each day has one
topic per plan, so importing the same file again changes nothing, and an edited row updates
its day. A branch's own topic for a day overrides its committee's (handlers.study.topics).
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from peewee import Expression

from core.config import Settings
from core.sheet_reader import preview
from handlers.audit import record
from handlers.errors import DomainError, Invalid
from handlers.roster.lookups import committee_names, resolve_branch, resolve_committee
from handlers.sheets import (
    ECHO_CHARS,
    Header,
    RowError,
    cell_text,
    chunks,
    find_header,
    header_key,
    parse_date,
    row_error,
    table_rows,
)
from handlers.study.topics import forget_topics
from models.base import write_tx
from models.study import TOPIC_CATEGORIES, StudyTopic

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 200
URL_MAX_CHARS = 500  # StudyTopic.url

COLUMNS: dict[str, tuple[str, ...]] = {
    "day": ("日期", "学习日期"),
    "title": ("主题", "学习主题", "标题"),
    "category": ("类别", "分类", "学习类别"),
    "summary": ("内容", "内容摘要", "摘要", "学习内容"),
    "url": ("链接", "网址", "学习链接", "原文链接", "URL"),
}
LABELS = {"day": "日期", "title": "主题", "category": "类别", "summary": "内容", "url": "链接"}
REQUIRED = ("day", "title", "category", "summary")
_LOOKUP = {header_key(alias): key for key, aliases in COLUMNS.items() for alias in aliases}
HEADER = Header(
    _LOOKUP,
    LABELS,
    REQUIRED,
    "表头应为：日期、主题、类别、内容（必填），链接（选填）",
)

# The texts accepted in 类别, folded (see _fold), by category code.
_CATEGORY_TEXTS: dict[str, str] = {
    **{_t: code for code, _t in TOPIC_CATEGORIES.items()},
    "党章党规": "charter",
    "学党章": "charter",
    "系列讲话": "speeches",
    "学习系列讲话": "speeches",
    "系列重要讲话": "speeches",
    "学系列重要讲话": "speeches",
    "": "other",
}
CATEGORY_CHOICES = "、".join(TOPIC_CATEGORIES.values())


@dataclass(frozen=True)
class TopicDraft:
    """A topic's fields, checked: what a plan row or an API request gives for one day."""

    day: date
    title: str
    category: str  # a key of TOPIC_CATEGORIES
    summary: str
    url: str


@dataclass(frozen=True)
class PlanScope:
    """Whom a plan is for: one branch, one committee's branches, or every branch."""

    committee_id: int | None
    branch_id: int | None
    name: str

    def condition(self) -> Expression:
        """The topics of this plan (and not of a more or less specific one)."""
        if self.branch_id is not None:
            return StudyTopic.branch == self.branch_id
        if self.committee_id is not None:
            return StudyTopic.branch.is_null() & (StudyTopic.committee == self.committee_id)
        return StudyTopic.branch.is_null() & StudyTopic.committee.is_null()


class PlanError(Invalid):
    """The plan file has errors; nothing was imported. ``errors`` lists every one."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = "\n".join(e.message for e in errors)
        super().__init__(f"学习计划有 {len(errors)} 处错误，未导入任何数据：\n{lines}")


@dataclass(frozen=True)
class PlanReport:
    scope: PlanScope
    created: int
    updated: int
    unchanged: int
    first: date | None
    last: date | None

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# ---- checking one topic ----------------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").strip()


def category_code(text: str) -> str | None:
    """The category code of a 类别 text (学党章党规, 学系列讲话, 其他 and near forms)."""
    return _CATEGORY_TEXTS.get(_fold(text)) or (text if text in TOPIC_CATEGORIES else None)


def url_problem(url: str) -> str | None:
    """What is wrong with a link (None when it is an http(s) address or empty)."""
    if not url:
        return None
    shown = preview(url, ECHO_CHARS)
    if len(url) > URL_MAX_CHARS:
        return f"链接过长（最多 {URL_MAX_CHARS} 个字符）"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return f"链接“{shown}”不是以 http:// 或 https:// 开头的网址"
    if not url.isprintable() or " " in url:
        return f"链接“{shown}”含有空格或控制字符"
    return None


def _text_problem(label: str, text: str, limit: int, *, lines: bool) -> str | None:
    allowed = text.replace("\n", "") if lines else text
    if not allowed.isprintable():
        return f"{label}含有控制字符，请删除后重新填写"
    if len(text) > limit:
        return f"{label}过长：{len(text)} 字，最多 {limit} 字"
    return None


def topic_problems(
    *,
    day: date | None,
    title: str,
    category: str,
    summary: str,
    url: str,
    settings: Settings,
) -> list[str]:
    """Everything wrong with one topic's fields (empty when it can be saved)."""
    problems = []
    if day is not None and not settings.api.earliest_year <= day.year <= settings.api.latest_year:
        problems.append(f"日期“{day.isoformat()}”的年份不对")
    if not title:
        problems.append("主题不能为空")
    elif problem := _text_problem("主题", title, settings.study.title_max_chars, lines=False):
        problems.append(problem)
    if category_code(category) is None:
        problems.append(f"类别“{preview(category, ECHO_CHARS)}”应为 {CATEGORY_CHOICES} 之一")
    limit = settings.study.summary_max_chars
    if problem := _text_problem("内容", summary, limit, lines=True):
        problems.append(problem)
    if problem := url_problem(url):
        problems.append(problem)
    return problems


def _clean_summary(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


# ---- reading a plan file ---------------------------------------------------------------------


def read_plan(
    path: str | os.PathLike[str], *, settings: Settings, progress: Progress | None = None
) -> list[TopicDraft]:
    """Read and check every row of a plan file; raise PlanError listing every bad row."""
    rows = table_rows(os.fspath(path), settings)
    header_row, columns = find_header(rows, HEADER, PlanError)
    width = max(columns.values()) + 1
    drafts: list[TopicDraft] = []
    errors: list[RowError] = []
    seen: dict[date, int] = {}
    done = 0
    for row_number, cells in enumerate(rows, start=header_row + 1):
        cells = list(cells) + [None] * (width - len(cells))
        values = {key: cell_text(cells[index]) for key, index in columns.items()}
        if not any(v.strip() for v in values.values()):
            continue  # blank lines and formatted-but-empty rows
        draft, problems = _check_row(values, settings)
        if draft is not None and draft.day in seen:
            problems.append(
                f"日期 {draft.day.isoformat()} 与第{seen[draft.day]}行重复（同一天只能有一个主题）"
            )
        elif draft is not None:
            seen[draft.day] = row_number
        errors.extend(row_error(row_number, p) for p in problems)
        if draft is not None and not problems:
            drafts.append(draft)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, 0)
    if errors:
        raise PlanError(errors)
    if not drafts:
        raise PlanError([row_error(header_row, "表头下面没有任何学习主题")])
    return drafts


def _check_row(values: dict[str, str], settings: Settings) -> tuple[TopicDraft | None, list[str]]:
    """One row's draft and what is wrong with it (a draft without a readable date is None)."""
    problems: list[str] = []
    raw_day = values["day"].strip()
    day: date | None = None
    if not raw_day:
        problems.append("日期不能为空")
    else:
        try:
            day = parse_date(raw_day)
        except ValueError:
            shown = preview(raw_day, ECHO_CHARS)
            problems.append(f"日期“{shown}”无法识别（示例：2026-12-01 或 2026年12月1日）")
    title, category = values["title"].strip(), values["category"].strip()
    summary, url = _clean_summary(values["summary"]), values.get("url", "").strip()
    problems += topic_problems(
        day=day, title=title, category=category, summary=summary, url=url, settings=settings
    )
    if day is None:
        return None, problems
    code = category_code(category) or "other"
    return TopicDraft(day, title, code, summary, url), problems


# ---- whom a plan is for ----------------------------------------------------------------------


def plan_scope(*, committee_name: str | None, branch_name: str | None) -> PlanScope:
    """The plan named on the command line: a branch (within --committee if given), a
    committee, or the only committee there is."""
    committee = resolve_committee(committee_name)
    if branch_name is not None:
        branch = resolve_branch(branch_name, committee)
        return PlanScope(None, branch.id, branch.name)
    if committee is None:
        names = committee_names()
        if not names:
            raise DomainError(
                "还没有任何党委和支部，请先导入名册（flask --app app roster import）。"
            )
        if len(names) > 1:
            raise DomainError(
                "数据库中有多个党委（"
                + "、".join(names)
                + "），请用 --committee 或 --branch 指定。"
            )
        committee = resolve_committee(names[0])
        assert committee is not None
    return PlanScope(committee.id, None, committee.name)


# ---- writing ---------------------------------------------------------------------------------


def import_plan(
    path: str | os.PathLike[str],
    scope: PlanScope,
    *,
    settings: Settings,
    now: datetime,
    progress: Progress | None = None,
) -> PlanReport:
    """Check the whole file, then write its topics for ``scope`` in one transaction."""
    drafts = read_plan(path, settings=settings, progress=progress)
    with write_tx():
        created, updated, unchanged = save_drafts(drafts, scope, now=now)
        record(
            None,
            "study.plan_import",
            summary=f"导入学习计划（{scope.name}）：新增 {created} 个主题，"
            f"更新 {updated} 个，未变 {unchanged} 个",
            target=f"branch:{scope.branch_id}"
            if scope.branch_id
            else f"committee:{scope.committee_id or 'all'}",
            branch_id=scope.branch_id,
            committee_id=scope.committee_id,
            after={"created": created, "updated": updated, "unchanged": unchanged},
            now=now,
        )
    forget_topics()
    if progress is not None:
        progress(len(drafts), len(drafts))
    report = PlanReport(
        scope, created, updated, unchanged, min(d.day for d in drafts), max(d.day for d in drafts)
    )
    log.info(
        "study plan imported (committee=%s branch=%s): %d created, %d updated, %d unchanged",
        scope.committee_id,
        scope.branch_id,
        created,
        updated,
        unchanged,
    )
    return report


def _fields(draft: TopicDraft) -> dict[str, Any]:
    return {
        "title": draft.title,
        "category": draft.category,
        "content": draft.summary,
        "url": draft.url,
    }


def save_drafts(
    drafts: list[TopicDraft], scope: PlanScope, *, now: datetime
) -> tuple[int, int, int]:
    """Write one topic per draft's day for ``scope`` (inside the caller's transaction): a day
    that has one is updated when it differs; return how many were created, updated, unchanged."""
    existing: dict[date, StudyTopic] = {}
    for chunk in chunks(sorted({d.day for d in drafts})):
        query = StudyTopic.select().where(scope.condition(), StudyTopic.day.in_(chunk))
        for topic in query.order_by(StudyTopic.id.desc()):
            existing.setdefault(topic.day, topic)  # of several on one day, the newest is shown
    new_rows: list[dict[str, Any]] = []
    updated = unchanged = 0
    for draft in drafts:
        fields = _fields(draft)
        topic = existing.get(draft.day)
        if topic is None:
            new_rows.append(
                {"day": draft.day, "committee": scope.committee_id, "branch": scope.branch_id}
                | fields
                | {"created_at": now}
            )
        elif all(getattr(topic, k) == v for k, v in fields.items()):
            unchanged += 1
        else:
            StudyTopic.update(**fields).where(StudyTopic.id == topic.id).execute()
            updated += 1
    for chunk in chunks(new_rows):
        StudyTopic.insert_many(chunk).as_rowcount().execute()
    return len(new_rows), updated, unchanged
