"""`flask --app app study …`: load a study plan from Excel or CSV, and show a month of it."""

from __future__ import annotations

import sys
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from core.datetext import DateTextError, parse_month
from core.workdays import work_calendar
from handlers.errors import DomainError
from handlers.study.plans import PlanError, import_plan, plan_scope
from handlers.study.views import LEVELS, month_plan
from models.study import TOPIC_CATEGORIES

study_cli = AppGroup("study", help="Study plans: import from Excel/CSV, show a month.")

WEEKDAYS = "一二三四五六日"


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


@study_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--committee", default=None, help="党委名称：该党委所有支部的学习计划。")
@click.option("--branch", default=None, help="支部名称：只给这个支部的学习计划（优先于党委的）。")
def import_command(file: str, committee: str | None, branch: str | None) -> None:
    """Import a study plan (日期, 主题, 类别, 内容, 链接); any bad row means nothing is written."""

    def progress(done: int, total: int) -> None:
        click.echo(f"进度：已写入 {done} 天" if total else f"进度：已检查 {done} 行")

    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            scope = plan_scope(committee_name=committee, branch_name=branch)
            report = import_plan(file, scope, settings=settings, now=utcnow(), progress=progress)
        except PlanError as exc:
            _fail(exc.message)
        except DomainError as exc:
            _fail(f"导入失败，未写入任何数据：{exc.message}")
    span = f"{report.first:%Y-%m-%d} 至 {report.last:%Y-%m-%d}"
    click.echo(
        f"学习计划已导入（{report.scope.name}，{span}）："
        f"共 {report.total} 天，新增 {report.created} 天，更新 {report.updated} 天，"
        f"未变 {report.unchanged} 天。"
    )


@study_cli.command("plan")
@click.option("--month", "month_text", default="本月", help="月份，例如 2026-12（默认：本月）。")
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
@click.option("--branch", default=None, help="支部名称：显示该支部每天实际使用的主题。")
def plan_command(month_text: str, committee: str | None, branch: str | None) -> None:
    """Show a month of a study plan: each day, whether it is a working day, and its topic."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    try:
        year, month = parse_month(month_text, now=utcnow(), tz=tz)
    except DateTextError as exc:
        _fail(exc.message)
    with connection():
        try:
            scope = plan_scope(committee_name=committee, branch_name=branch)
            plan = month_plan(scope, year, month, work_calendar(settings))
        except DomainError as exc:
            _fail(exc.message)
        click.echo(f"{scope.name} {year}年{month}月学习计划：{plan.planned} 天有主题")
        for day in plan.days:
            head = f"{day.day:%m-%d} 周{WEEKDAYS[day.day.weekday()]}"
            rest = "" if day.workday else "（休息日）"
            if day.topic is not None:
                category = TOPIC_CATEGORIES.get(day.topic.category, "其他")
                source = f"[{LEVELS[day.level]}] " if branch is not None and day.level else ""
                click.echo(f"{head}{rest} {source}《{day.topic.title}》（{category}）")
            elif day.workday:
                click.echo(f"{head} —— 无主题（自主学习，照常打卡）")
        missing = plan.unplanned_workdays
        if missing:
            click.echo(f"提示：{len(missing)} 个工作日没有主题。")
