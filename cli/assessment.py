"""`flask --app app report assessment MONTH [--committee NAME | --branch NAME]` prints a
committee's branches ranked by score (or one branch's breakdown and trend);
`flask --app app assessment backfill [--from MONTH] [--to MONTH] [--committee NAME]` judges
complete months again and stores them (after records were entered late, or when a criterion
was added)."""

from __future__ import annotations

import sys
from datetime import date
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from core.datetext import DateTextError, parse_month
from handlers.assessment import (
    BranchAssessment,
    CommitteeAssessment,
    Score,
    assessment_named,
    backfill,
    last_complete_month,
)
from handlers.dues import add_months
from handlers.errors import DomainError

assessment_cli = AppGroup("assessment", help="Branch assessment (星级评定): backfill.")


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _month(text: str | None) -> date | None:
    if text is None:
        return None
    settings = current_app.config["ZHIBU"]
    try:
        year, month = parse_month(text, now=utcnow(), tz=ZoneInfo(settings.app.timezone))
    except DateTextError as exc:
        _fail(exc.message)
    return date(year, month, 1)


def _cell(score: Score, name: str) -> str:
    return next(p for p in score.parts if p.name == name).summary


def _table(view: CommitteeAssessment) -> list[str]:
    names = [n for n, w in view.weights.items() if w]
    labels = {p.name: p.label for p in view.rows[0].parts} if view.rows else {}
    weights = "、".join(f"{labels.get(n, n)} {view.weights[n]}" for n in names)
    lines = [
        f"{view.committee_name} {view.month.year}年{view.month.month}月 支部星级评定："
        f"{len(view.rows)} 个支部，{view.ranked_count} 个参加排名（只比较支部，不对个人排名）",
        f"权重：{weights}（不适用或暂无数据的指标不计分，其余权重按比例放大）",
        "\t".join(["名次", "支部", "得分", "星级", *(labels.get(n, n) for n in names)]),
    ]
    for s in view.rows:
        score = f"{s.score:.1f}" if s.score is not None else "—"
        rank = str(s.rank) if s.rank else "—"
        cells = [_cell(s, n) for n in names]
        lines.append("\t".join([rank, s.branch_name, score, s.stars_label, *cells]))
    return lines


def _detail(view: BranchAssessment) -> list[str]:
    s = view.score
    head = f"{s.branch_name} {s.month.year}年{s.month.month}月："
    if s.score is None:
        lines = [head + "未评定"]
    else:
        place = f"第{s.rank}名/共{view.ranked_count}个支部"
        lines = [head + f"{s.score:.1f} 分，{s.stars_label}，{place}"]
    for p in s.parts:
        if p.counted:
            lines.append(
                f"  {p.label}\t权重 {p.weight} → {p.share:.1f}\t{p.measure.text}\t"
                f"{p.rate:.0%}\t得 {p.points:.1f} 分"
            )
        else:
            lines.append(f"  {p.label}\t权重 {p.weight}\t{p.measure.text}\t不计分")
    if s.renormalised:
        lines.append("  （不计分的指标之外，其余权重按比例放大，合计 100）")
    trend = "；".join(
        f"{t.month:%Y-%m} {t.score:.1f}" if t.score is not None else f"{t.month:%Y-%m} —"
        for t in view.trend
    )
    lines.append(f"近 {len(view.trend)} 个月：{trend}")
    return lines


@click.command("assessment")
@click.argument("month_text", metavar="MONTH", required=False)
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
@click.option("--branch", default=None, help="支部名称：只看这个支部的得分明细和趋势。")
def report_assessment(month_text: str | None, committee: str | None, branch: str | None) -> None:
    """Print the branch assessment of a complete month (default: last month), ranked."""
    settings = current_app.config["ZHIBU"]
    month = _month(month_text)
    with connection():
        try:
            view = assessment_named(
                month,
                committee_name=committee,
                branch_name=branch,
                now=utcnow(),
                settings=settings,
            )
        except DomainError as exc:
            _fail(f"未生成评定：{exc.message}")
    lines = _detail(view) if isinstance(view, BranchAssessment) else _table(view)
    click.echo("\n".join(lines))


@assessment_cli.command("backfill")
@click.option("--from", "first_text", default=None, help="起始月份（默认：结束月份往前 5 个月）。")
@click.option("--to", "last_text", default=None, help="结束月份（默认：上个月）。")
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
def backfill_command(first_text: str | None, last_text: str | None, committee: str | None) -> None:
    """Judge complete months again for every branch of a committee and store the figures."""
    settings = current_app.config["ZHIBU"]
    last = _month(last_text) or last_complete_month(utcnow(), settings)
    first = _month(first_text) or add_months(last, 1 - settings.assessment.trend_months)
    with connection():
        try:
            name, months, stored = backfill(
                first, last, committee_name=committee, now=utcnow(), settings=settings
            )
        except DomainError as exc:
            _fail(f"未计算：{exc.message}")
    span = f"{months[0]:%Y-%m} 至 {months[-1]:%Y-%m}"
    click.echo(f"{name}：已重新评定 {span} 共 {len(months)} 个月，{stored} 个支部月。")
