"""Bulk dues import (.csv / .xlsx, all or nothing), categories by file, and the dues CLI."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import Workbook

from handlers import dues as d
from handlers.dues import imports
from handlers.errors import DomainError
from handlers.roster import import_roster
from models.base import db
from models.dues import DuesAssessment, DuesMonth, DuesPayment
from models.org import Member
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=SH)
EXAMPLES = Path(__file__).parent.parent / "examples"
HEADER = "姓名,手机号,金额,月份,类型,备注"
JAN, FEB, MAR, APR = (date(2026, k, 1) for k in range(1, 5))


def write(tmp_path: Path, *lines: str, name: str = "dues.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def counts() -> tuple[int, int]:
    return DuesPayment.select().count(), DuesMonth.select().count()


@pytest.fixture
def branch(conn: None) -> dict[str, Any]:
    br = f.branch("第一党支部")
    people = {
        "zhang": f.member("张三", br, phone="13800000001"),
        "li": f.member("李四", br, phone="13800000002"),
        "act": f.member("积极分子", br, phone="13800000003", status="activist"),
        "col": f.member("收缴员", br, phone="13800000004", roles="dues_collector"),
    }
    f.assess(people["zhang"], base_fen=800000, from_month=JAN)  # 120.00
    f.assess(people["li"], "retired", base_fen=400000, from_month=JAN)  # 20.00
    return people


def test_a_file_with_bad_rows_writes_nothing_and_reports_every_row(branch, settings, tmp_path):
    earlier = f.pay(branch["zhang"], APR, amount_fen=12000, by=branch["col"])
    path = write(
        tmp_path,
        HEADER,
        "张三,13800000001,360.00,2026年1-3月,,",  # 2: good
        "李四,13800000002,20.00,2026年1月,党费,",  # 3: good
        "王五,13900000009,20.00,2026年1月,,",  # 4: not in the roster
        "李四,13800000001,20.00,2026年2月,,",  # 5: phone is 张三's
        "李四,13800000002,20.001,2026年2月,,",  # 6: three decimals
        "李四,13800000002,-20,2026年2月,,",  # 7: negative
        "李四,13800000002,30.00,2026年2月,,",  # 8: does not match the month
        "李四,13800000002,20.00,2026年1月,,",  # 9: January again in this file
        "张三,13800000001,120.00,2026年4月,,",  # 10: April already paid
        "张三,13800000001,1000,2026年5月,自愿,",  # 11: voluntary with months
        "张三,13800000001,120,2026年5月,捐款,",  # 12: unknown type
        "积极分子,13800000003,20,2026年1月,,",  # 13: not a party member
        "李四,13800000002,20.00,2026年13月,,",  # 14: no such month
        "张三,1380000,120,2026年5月,,",  # 15: not a mobile number
        "张三,13800000001,120,2027年9月,,",  # 16: beyond the prepay limit
    )
    with pytest.raises(d.DuesImportError) as caught:
        d.import_payments(path, now=NOW, settings=settings)
    errors = {e.row_number: e.message for e in caught.value.errors}
    assert sorted(errors) == list(range(4, 17))
    assert "不在党员名册中" in errors[4]
    assert "登记的是“张三”，与姓名“李四”不符" in errors[5]
    assert "3 位小数" in errors[6]
    assert "负数" in errors[7]
    assert "应交 20.00元" in errors[8] and "30.00元 不符" in errors[8]
    assert "本文件中已经登记过一次" in errors[9]
    assert f"记录编号 {earlier.id}" in errors[10] and "已经登记过了" in errors[10]
    assert "自愿交纳不对应月份" in errors[11]
    assert "类型“捐款”无法识别" in errors[12]
    assert "入党积极分子" in errors[13]
    assert "没有13月" in errors[14]
    assert "不是11位手机号" in errors[15]
    assert "最多预交到 2027年6月" in errors[16]
    assert caught.value.message.startswith("文件有 13 处错误，未导入任何数据：\n第4行：")
    assert counts() == (1, 1)  # only the earlier payment


def test_a_good_file_is_recorded_in_full(branch, settings, tmp_path):
    path = write(
        tmp_path,
        HEADER,
        "张三,13800000001,360.00,2026年1-3月,,一季度",
        "李四,13800000002,40,,,",  # no months: the oldest unpaid, January and February
        "李四,13800000002,20,,,",  # then March, after the row above
        "张三,13800000001,1000.00,,自愿,",
    )
    result = d.import_payments(path, now=NOW, settings=settings)
    assert (result.payments, result.months, result.voluntary) == (3, 6, 1)
    assert result.total_fen == 36000 + 4000 + 2000 + 100000
    li = branch["li"]
    paid = DuesMonth.select().where(DuesMonth.member == li.id).order_by(DuesMonth.month)
    assert [r.month for r in paid] == [JAN, FEB, MAR]
    assert {p.source for p in DuesPayment.select()} == {"import"}
    assert DuesPayment.get(DuesPayment.note == "一季度").amount_fen == 36000
    # The same file again: every month is now paid, nothing more is written.
    with pytest.raises(d.DuesImportError, match="已经登记过了"):
        d.import_payments(path, now=NOW, settings=settings)
    assert counts() == (4, 6)


def test_xlsx_with_a_title_row_excel_dates_and_numbers(branch, settings, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["2026年党费收缴表"])
    ws.append(["姓名", "手机号（文本）", "实交金额", "所属月份"])
    ws.append(["张三", "13800000001", 120.0, datetime(2026, 1, 1)])
    ws.append(["李四", 13800000002, 20, "2026年1月"])
    ws.append([None, None, None, None])
    path = tmp_path / "dues.xlsx"
    wb.save(path)
    result = d.import_payments(path, now=NOW, settings=settings)
    assert (result.payments, result.months) == (2, 2)
    assert {(r.member_id, r.month, r.amount_fen) for r in DuesMonth.select()} == {
        (branch["zhang"].id, JAN, 12000),
        (branch["li"].id, JAN, 2000),
    }


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (["姓名,手机号,月份", "张三,13800000001,2026年1月"], "表头缺少必填列“金额”"),
        (["名单", "张三,13800000001"], "找不到表头"),
        ([""], "文件是空的"),
        ([HEADER], "没有数据"),
    ],
)
def test_a_file_without_a_usable_header(branch, settings, tmp_path, lines, says):
    with pytest.raises(DomainError, match=says):
        d.import_payments(write(tmp_path, *lines), now=NOW, settings=settings)
    assert counts() == (0, 0)


def test_gbk_csv_from_chinese_excel(branch, settings, tmp_path):
    path = write(tmp_path, HEADER, "张三,13800000001,120.00,2026年2月,,", encoding="gbk")
    assert d.import_payments(path, now=NOW, settings=settings).months == 1


def test_a_month_recorded_by_someone_else_while_importing_writes_nothing(
    branch, settings, tmp_path, monkeypatch
):
    path = write(
        tmp_path,
        HEADER,
        "李四,13800000002,20.00,2026年1月,,",
        "张三,13800000001,120.00,2026年2月,,",
    )
    checked = d.check_payments(path, committee=None, now=NOW, settings=settings)
    d.record_payment(branch["col"], branch["zhang"], 12000, [FEB], now=NOW, settings=settings)
    monkeypatch.setattr(imports, "check_payments", lambda *a, **k: checked)  # checked before that
    with pytest.raises(DomainError, match="导入期间有人登记了文件中的某些月份，未导入任何数据"):
        d.import_payments(path, now=NOW, settings=settings)
    assert counts() == (1, 1)  # the collector's payment only; 李四's row rolled back too


def test_an_import_is_limited_to_the_committee(branch, settings, tmp_path):
    other = f.committee("其他党委")
    path = write(tmp_path, HEADER, "张三,13800000001,120.00,2026年1月,,")
    with pytest.raises(d.DuesImportError, match="不在其他党委的党员名册中"):
        d.import_payments(path, committee=other, now=NOW, settings=settings)


# ---- categories and bases by file -----------------------------------------------------------


def test_categories_by_file_all_or_nothing(branch, settings, tmp_path):
    header = "姓名,手机号,党费类别,税后月收入,月交金额,起始月份,批准人"
    bad = write(
        tmp_path,
        header,
        "张三,13800000001,在职,9000,,2026年3月,",
        "李四,13800000002,宇航员,,,,",
        "积极分子,13800000003,农民,,1.50,,",
        "收缴员,13800000004,离退休,,,,",
        "收缴员,13800000004,免交,,,,",
        name="bases.csv",
    )
    with pytest.raises(d.DuesImportError) as caught:
        d.import_assessments(bad, now=NOW, settings=settings)
    errors = {e.row_number: e.message for e in caught.value.errors}
    assert sorted(errors) == [3, 4, 5, 6]
    assert "宇航员" in errors[3] and "0.20元 至 1.00元" in errors[4]
    assert "月离退休费" in errors[5] and "批准人" in errors[6]
    assert DuesAssessment.select().count() == 2  # the fixture's only

    good = write(
        tmp_path,
        header,
        "张三,13800000001,在职,9000,,2026年3月,",
        "积极分子,13800000003,农民,,0.50,,",
        "收缴员,13800000004,低保,,,2026-01-01,",
        "李四,13800000002,免交,,,,机关党委",
        name="bases.csv",
    )
    assert d.import_assessments(good, now=NOW, settings=settings) == 4
    zhang = d.member_dues(branch["zhang"], now=NOW, settings=settings)
    assert zhang.owed[:3] == [(JAN, 12000), (FEB, 12000), (MAR, 13500)]  # 9000 at 1.5% from Mar
    col = d.member_dues(branch["col"], now=NOW, settings=settings)
    assert col.owed[0] == (JAN, 20)
    li = d.member_dues(branch["li"], now=NOW, settings=settings)
    assert li.due.state == "exempt"  # from this month on
    assert [mo for mo, _ in li.owed] == [JAN, FEB, MAR, APR, date(2026, 5, 1)]


# ---- the command line -----------------------------------------------------------------------


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["dues", *args])


def test_the_examples_through_the_command_line(app, tmp_path):
    with app.app_context(), db.connection_context():
        import_roster(EXAMPLES / "roster.csv", "示例党委")
    bases = write(
        tmp_path,
        "姓名,手机号,党费类别,税后月收入,月交金额,起始月份",
        "王建国,13800000001,在职,8000.00,,2026年1月",
        "李红梅,13800000002,离退休,4500.00,,2026年1月",
        "张伟,13800000003,在职,3000.00,,2026年1月",
        "刘芳,13800000004,低保,,,2026年1月",
        "赵丽华,13800000006,在职,12000.00,,2026年1月",
        name="bases.csv",
    )
    with time_machine.travel(NOW, tick=False):
        result = cli(app, "bases", str(bases))
        assert result.exit_code == 0, result.output
        assert "已为 5 名党员设置党费类别和基数" in result.output
        result = cli(app, "import", str(EXAMPLES / "dues.csv"), "--committee", "示例党委")
        assert result.exit_code == 0, result.output
        assert "党费 5 笔（20 个月），自愿交纳 1 笔，合计 1684.90元" in result.output
        again = cli(app, "import", str(EXAMPLES / "dues.csv"))
        assert again.exit_code == 1 and "未导入任何数据" in again.output
        summary = cli(app, "summary", "--month", "2026年1月")
        assert summary.exit_code == 0, summary.output
        lines = summary.output.splitlines()
        assert lines[0] == "2026年1月党费"
        # 第一党支部: 120.00 + 22.50 + 15.00 (张伟 joined 2024) + 0.20, all paid for January.
        assert "第一党支部  应收 157.70元  已收 157.70元  收缴率 100.0%" in summary.output
        assert "第二党支部  应收 240.00元  已收 240.00元  收缴率 100.0%" in summary.output
        june = cli(app, "summary")
        assert "第一党支部  应收 157.70元  已收 0.20元  收缴率 0.1%" in june.output
        alerts = cli(app, "alerts")
        assert alerts.exit_code == 0, alerts.output
        # Paid for January only, owing February to May: 4 months, past the first warning.
        assert alerts.output.splitlines() == [
            "第一党支部  张伟  连续 4 个月未交纳党费（自2026年2月起，达到 3 个月提醒）",
            "第二党支部  赵丽华  连续 4 个月未交纳党费（自2026年2月起，达到 3 个月提醒）",
        ]  # 王建国 paid to March: April and May are 2 months, no warning yet
    with time_machine.travel(datetime(2026, 7, 2, 9, tzinfo=SH), tick=False):
        alerts = cli(app, "alerts", "--committee", "示例党委")
    assert "第一党支部  王建国  连续 3 个月未交纳党费（自2026年4月起，达到 3 个月提醒）" in (
        alerts.output
    )
    assert "第一党支部  张伟  连续 5 个月未交纳党费（自2026年2月起，达到 5 个月提醒）" in (
        alerts.output
    )
    assert "赵丽华  连续 5 个月" in alerts.output and "刘芳" not in alerts.output


def test_cli_failures_exit_1_with_the_reason(app, tmp_path):
    missing = cli(app, "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "找不到文件" in missing.output
    wrong = cli(app, "summary", "--committee", "没有这个党委")
    assert wrong.exit_code == 1 and "没有名为“没有这个党委”的党委" in wrong.output
    month = cli(app, "summary", "--month", "2026年13月")
    assert month.exit_code == 1 and "没有13月" in month.output
    bad = write(tmp_path, HEADER, "张三,13800000001,1,2026年1月,,")
    result = cli(app, "import", str(bad))
    assert result.exit_code == 1 and "第2行：手机号“13800000001”不在党员名册中" in result.output
    with app.app_context(), db.connection_context():
        assert Member.select().count() == 0 and DuesPayment.select().count() == 0
