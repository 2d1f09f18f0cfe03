"""Study plans: importing from Excel/CSV, viewing a month, overrides, and the day's prompt."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from handlers.reminders import study_prompts
from models.base import db
from models.org import Committee
from models.outbox import BranchChannel, OutboxMessage
from models.study import StudyTopic
from tests import factories as f

EXAMPLES = Path(__file__).parent.parent / "examples"
SH = ZoneInfo("Asia/Shanghai")
HEADER = ["日期", "主题", "类别", "内容", "链接"]


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def topics(app: Any) -> list[StudyTopic]:
    with app.app_context(), db.connection_context():
        return list(StudyTopic.select().order_by(StudyTopic.day, StudyTopic.id))


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    """One committee with two branches; only the first has a group channel."""
    with app.app_context(), db.connection_context():
        committee = f.committee()
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        BranchChannel.create(branch=a, kind="console", target="")
        f.member("党员甲", a)
        f.member("党员乙", b)
    return {"committee": committee, "a": a, "b": b}


# ---- importing --------------------------------------------------------------------------------


def test_the_example_plans_import_and_a_second_import_changes_nothing(app, org):
    first = cli(app, "study", "import", str(EXAMPLES / "study_plan.csv"))
    assert first.exit_code == 0, first.output
    assert "共 23 天，新增 23 天，更新 0 天，未变 0 天" in first.output
    assert "2026-12-01 至 2026-12-31" in first.output
    again = cli(app, "study", "import", str(EXAMPLES / "study_plan.xlsx"))  # the same plan
    assert again.exit_code == 0, again.output
    assert "共 23 天，新增 0 天，更新 0 天，未变 23 天" in again.output
    saved = topics(app)
    assert len(saved) == 23 and {t.committee_id for t in saved} == {org["committee"].id}
    assert all(t.branch_id is None for t in saved)
    first_day = saved[0]
    assert (first_day.day, first_day.category) == (date(2026, 12, 1), "charter")
    assert first_day.url == "https://www.12371.cn/" and "全心全意为人民服务" in first_day.content
    assert {t.category for t in saved} == {"charter", "speeches", "other"}
    assert all(t.day.weekday() < 5 for t in saved)  # a month of working days


def test_an_edited_row_updates_its_day_only(app, org, tmp_path):
    rows = [
        ["2026-12-01", "党章总纲", "学党章党规", "通读总纲", ""],
        ["2026-12-02", "党员的义务", "学党章党规", "八项义务", "https://www.12371.cn/"],
    ]
    assert cli(app, "study", "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    before = {t.day: t for t in topics(app)}
    rows[1] = ["2026年12月2日", "党员的八项义务", "党章党规", "逐条学习八项义务", ""]
    result = cli(app, "study", "import", str(write_csv(tmp_path / "b.csv", rows)))
    assert "新增 0 天，更新 1 天，未变 1 天" in result.output, result.output
    after = {t.day: t for t in topics(app)}
    assert after[date(2026, 12, 2)].id == before[date(2026, 12, 2)].id  # the same topic
    assert (after[date(2026, 12, 2)].title, after[date(2026, 12, 2)].url) == ("党员的八项义务", "")
    assert after[date(2026, 12, 1)].title == "党章总纲"


def test_a_bad_file_writes_nothing_and_names_every_bad_row(app, org, tmp_path):
    long_summary = "学" * 501
    rows = [
        ["2026-12-01", "党章总纲", "学党章党规", "通读总纲", ""],
        ["2026-13-45", "日期不对", "其他", "", ""],
        ["2026-12-03", "链接不对", "其他", "", "ftp://example.cn/plan"],
        ["2026-12-04", "脚本链接", "其他", "", "javascript:alert(1)"],
        ["2026-12-01", "同一天", "其他", "", ""],
        ["2026-12-07", "类别不对", "学英语", "", ""],
        ["2026-12-08", "内容太长", "其他", long_summary, ""],
        ["2026-12-09", "", "其他", "没有主题", ""],
    ]
    result = cli(app, "study", "import", str(write_csv(tmp_path / "bad.csv", rows)))
    assert result.exit_code == 1
    out = result.output
    assert "学习计划有 7 处错误，未导入任何数据" in out
    assert "第3行：日期“2026-13-45”无法识别" in out
    assert "第4行：链接“ftp://example.cn/plan”不是以 http:// 或 https:// 开头的网址" in out
    assert "第5行：链接“javascript:alert(1)”不是以 http:// 或 https:// 开头的网址" in out
    assert "第6行：日期 2026-12-01 与第2行重复（同一天只能有一个主题）" in out
    assert "第7行：类别“学英语”应为 学党章党规、学系列讲话、其他 之一" in out
    assert "第8行：内容过长：501 字，最多 500 字" in out
    assert "第9行：主题不能为空" in out
    assert topics(app) == []


def test_a_wrong_header_says_what_the_header_should_be(app, org, tmp_path):
    path = write_csv(tmp_path / "h.csv", [["2026-12-01", "党章"]], header=["日期", "标题x"])
    result = cli(app, "study", "import", str(path))
    assert result.exit_code == 1
    assert "第1行：表头缺少必填列“主题”“类别”“内容”" in result.output
    assert "表头应为：日期、主题、类别、内容（必填），链接（选填）" in result.output
    roster = cli(app, "study", "import", str(EXAMPLES / "roster.csv"))
    assert "找不到表头" in roster.output and topics(app) == []


def test_excel_dates_and_an_excel_plan_import(app, org, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["2026年12月学习计划"])  # a title row above the header
    sheet.append(HEADER)
    sheet.append([date(2026, 12, 1), "党章总纲", "学党章党规", "通读总纲", None])
    sheet.append(["2026/12/2", "系列讲话", "学系列讲话", None, "https://www.12371.cn/"])
    book.save(tmp_path / "plan.xlsx")
    result = cli(app, "study", "import", str(tmp_path / "plan.xlsx"))
    assert result.exit_code == 0, result.output
    assert [(t.day, t.category) for t in topics(app)] == [
        (date(2026, 12, 1), "charter"),
        (date(2026, 12, 2), "speeches"),
    ]


def test_a_long_plan_shows_progress(app, org, tmp_path):
    start = date(2026, 1, 1)
    rows = [
        [(start + timedelta(days=n)).isoformat(), f"主题{n}", "其他", "", ""] for n in range(450)
    ]
    result = cli(app, "study", "import", str(write_csv(tmp_path / "long.csv", rows)))
    assert result.exit_code == 0, result.output
    assert "进度：已检查 200 行" in result.output and "进度：已检查 400 行" in result.output
    assert "共 450 天，新增 450 天" in result.output


def test_a_branch_plan_overrides_its_committees_on_its_days(app, org, tmp_path):
    committee_rows = [
        ["2026-12-01", "党委主题一", "其他", "", ""],
        ["2026-12-02", "党委主题二", "其他", "", ""],
    ]
    branch_rows = [["2026-12-02", "支部自己的主题", "其他", "", ""]]
    assert cli(app, "study", "import", str(write_csv(tmp_path / "c.csv", committee_rows)))
    result = cli(
        app,
        "study",
        "import",
        str(write_csv(tmp_path / "b.csv", branch_rows)),
        "--branch",
        "第一党支部",
    )
    assert result.exit_code == 0 and "（第一党支部，2026-12-02 至 2026-12-02）" in result.output
    shown = cli(app, "study", "plan", "--month", "2026-12", "--branch", "第一党支部").output
    assert "12-01 周二 [党委] 《党委主题一》（其他）" in shown
    assert "12-02 周三 [本支部] 《支部自己的主题》（其他）" in shown
    assert "12-03 周四 —— 无主题（自主学习，照常打卡）" in shown
    assert "12-05 周六" not in shown  # a day off without a topic is not listed
    other = cli(app, "study", "plan", "--month", "2026-12", "--branch", "第二党支部").output
    assert "《党委主题二》" in other and "支部自己的主题" not in other
    committee = cli(app, "study", "plan", "--month", "2026-12").output
    assert committee.startswith(f"{org['committee'].name} 2026年12月学习计划：2 天有主题")
    assert "提示：21 个工作日没有主题。" in committee


def test_the_plan_scope_must_name_a_known_branch_or_committee(app, org, tmp_path):
    path = write_csv(tmp_path / "p.csv", [["2026-12-01", "主题", "其他", "", ""]])
    unknown = cli(app, "study", "import", str(path), "--branch", "第九党支部")
    assert unknown.exit_code == 1 and "没有名为“第九党支部”的支部" in unknown.output
    with app.app_context(), db.connection_context():
        Committee.create(name="另一个党委")
    ambiguous = cli(app, "study", "import", str(path))
    assert ambiguous.exit_code == 1 and "数据库中有多个党委" in ambiguous.output
    assert topics(app) == []


# ---- the day's prompt follows the calendar -----------------------------------------------------


def _prompts(app: Any, day: date) -> list[OutboxMessage]:
    with app.app_context(), db.connection_context():
        query = OutboxMessage.select().where(
            OutboxMessage.kind == "study_prompt", OutboxMessage.period == day.isoformat()
        )
        return list(query)


def test_prompts_go_out_on_a_working_saturday_and_not_on_national_day(app, org, tmp_path):
    rows = [
        ["2026-10-01", "国庆主题", "其他", "", ""],
        [
            "2026-10-10",
            "调休日主题",
            "学系列讲话",
            "学习关于担当作为的论述",
            "https://www.12371.cn/",
        ],
    ]
    assert cli(app, "study", "import", str(write_csv(tmp_path / "oct.csv", rows))).exit_code == 0
    ran = cli(app, "jobs", "run", "study_prompt", "--at", "2026-10-10 08:00")
    assert ran.exit_code == 0 and "1 new of 1 message(s)" in ran.output, ran.output
    (prompt,) = _prompts(app, date(2026, 10, 10))
    assert (prompt.target_type, prompt.target_id) == ("branch", org["a"].id)  # has a channel
    text = prompt.data["text"]
    assert text.startswith("【今日学习】《调休日主题》（学系列讲话）")
    assert "学习关于担当作为的论述" in text and "原文：https://www.12371.cn/" in text
    assert "学习后在公众号回复「学习 心得」打卡" in text
    holiday = cli(app, "jobs", "run", "study_prompt", "--at", "2026-10-01 08:00")
    assert holiday.exit_code == 0 and "0 new of 0 message(s)" in holiday.output
    assert _prompts(app, date(2026, 10, 1)) == []


def test_the_prompt_names_the_mini_program_page_when_configured(app, org, settings):
    settings.study.miniprogram_page = "pages/study/index"
    with app.app_context(), db.connection_context():
        f.topic(date(2026, 12, 1), "党章总纲", committee=org["committee"])
        (row,) = study_prompts(datetime(2026, 12, 1, 8, tzinfo=SH), settings)
    assert row.target_id == org["a"].id
    assert (
        "学习后在公众号回复「学习 心得」打卡，或在小程序「pages/study/index」页面打卡。"
        in (row.payload["text"])
    )


def test_titles_are_put_in_book_brackets_once():
    from core.text import book_title

    assert book_title("党章总纲") == "《党章总纲》"
    assert book_title("《支部工作条例》：第三章") == "《支部工作条例》：第三章"
    assert book_title("学习《中国共产党章程》总纲") == "学习《中国共产党章程》总纲"
