"""The organizational-life record book (组织生活记录本): a branch's year from its records, as .docx
(read back with python-docx) and .pdf (its text read back with pdftotext, its pages rendered to
PNG with pdftoppm under test-artifacts/book/ for a person to look at).

The year is 2026, the book made on 3 December. 第一党支部 held a 党员大会 in March (minutes,
decisions, a leave, an absence), a 党课 in June with no minutes, a 支委会 in November with a
pending leave; a cancelled meeting, one in December still ahead and one in 2025 stay out.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from docx import Document

from handlers.calendar.periods import period_of
from handlers.errors import DomainError, Forbidden
from handlers.reports.book import record_book
from handlers.reports.book_docx import docx_bytes
from handlers.reports.book_files import book_bytes
from handlers.reports.book_layout import periods_text
from handlers.reports.book_pdf import pdf_bytes
from models.base import db
from models.meetings import Attendance, Meeting
from tests import factories as f
from tests.support.console import login
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SH)
LONG_AGO = datetime(2025, 1, 1, tzinfo=SH)
PAGES = Path(__file__).resolve().parents[1] / "test-artifacts" / "book"


def labels(periods):
    return [p.label for p in periods]


def build():
    """The branch and its year; returns (branch, people by key)."""
    comm = f.committee("测试党委")
    br = f.branch("第一党支部", comm)
    br.created_at = LONG_AGO
    br.save()
    grp = f.group(br, "第一党小组")
    people = {
        "sec": f.member("王书记", br, roles="secretary"),
        "zhang": f.member("张三", br),
        "li": f.member("李四", br),
        "wang": f.member("王五", br, status="probationary"),
        "formula": f.member("=1+1", br),
    }
    p = people
    general = meet(
        br,
        "general",
        datetime(2026, 3, 5, 14, 30, tzinfo=SH),
        present=[p["sec"], p["zhang"]],
        absent=[p["li"], p["wang"]],
    )
    general.title, general.place = "学习新修订的党章", "党员活动室"
    general.host, general.recorder = p["sec"], p["zhang"]
    general.minutes = "王书记领学党章第一章。\n\n张三、王书记作交流发言。"
    general.decisions = "通过 2026 年发展党员计划。"
    general.save()
    Attendance.create(
        meeting=general,
        member=p["li"],
        status="leave",
        leave_reason="出差",
        leave_status="approved",
    )
    lesson = meet(br, "lesson", datetime(2026, 6, 10, 9, 0, tzinfo=SH), present=[p["sec"]])
    lesson.title = "七一专题党课"
    lesson.save()
    committee = meet(
        br,
        "committee",
        datetime(2026, 11, 5, 19, 0, tzinfo=SH),
        present=[p["sec"], p["formula"]],
        absent=[p["zhang"]],
    )
    committee.minutes = "研究年底党费收缴。"
    committee.save()
    Attendance.create(
        meeting=committee,
        member=p["zhang"],
        status="leave",
        leave_reason="家中有事",
        leave_status="pending",
    )
    meet(br, "theme_day", datetime(2026, 7, 1, 9, 0, tzinfo=SH), status="cancelled")
    meet(br, "theme_day", datetime(2026, 12, 20, 9, 0, tzinfo=SH), present=[])
    meet(br, "lesson", datetime(2025, 12, 10, 9, 0, tzinfo=SH), present=[p["sec"]])
    return br, grp, people


def test_the_book_holds_the_years_meetings_with_attendance(conn, settings):
    br, _, _ = build()
    book = record_book(None, 2026, branch_id=br.id, settings=settings, now=NOW)
    assert (book.branch_name, book.committee_name, book.year) == ("第一党支部", "测试党委", 2026)
    assert book.as_of == date(2026, 12, 3) and not book.complete
    assert [m.kind_label for m in book.meetings] == ["支部党员大会", "党课", "支部委员会会议"]
    general, lesson, committee = book.meetings
    assert general.heading == "1. 3月5日 支部党员大会：学习新修订的党章"
    assert general.when == "2026年3月5日 14:30—16:00"
    assert (general.place, general.host, general.recorder) == ("党员活动室", "王书记", "张三")
    assert general.expected == 4 and general.present == ["王书记", "张三"]
    assert general.leave == [("李四", "出差")]
    assert general.absent == ["王五"]
    # Voters are the full members 王书记, 张三, 李四: two of three present.
    assert general.quorum == "已达到法定人数（有表决权的党员实到 2 人，至少需 2 人）"
    assert committee.absent == ["张三（请假待审批）"]
    assert committee.present == ["王书记", "=1+1"]
    assert lesson.quorum == "" and lesson.minutes == ""
    assert [m.number for m in book.missing_minutes] == [2]


def test_front_page_counts_required_periods_against_held(conn, settings):
    br, _, _ = build()
    book = record_book(None, 2026, branch_id=br.id, settings=settings, now=NOW)
    rows = {(r.kind_label, r.group_name): r for r in book.requirements}
    general = rows[("支部党员大会", "")]
    assert (general.frequency_label, general.due, general.met, general.held) == ("每季度", 4, 1, 1)
    assert labels(general.missed) == ["2026年第2季度", "2026年第3季度"]
    assert general.open_period.label == "2026年第4季度"
    lesson = rows[("党课", "")]
    assert (lesson.met, labels(lesson.missed)) == (1, ["2026年第1季度", "2026年第3季度"])
    committee = rows[("支部委员会会议", "")]
    assert (committee.due, committee.met, committee.open_period.label) == (12, 1, "2026年12月")
    assert len(committee.missed) == 10 and "2026年11月" not in labels(committee.missed)
    group = rows[("党小组会", "第一党小组")]
    assert (group.due, group.met, len(group.missed)) == (12, 0, 11)
    theme = rows[("主题党日", "")]  # July's was cancelled, December's is still ahead
    assert theme.met == 0 and "2026年7月" in labels(theme.missed)
    life = rows[("组织生活会", "")]
    assert (life.due, life.missed, life.open_period.label) == (1, [], "2026年")


def test_a_past_year_is_complete_and_a_young_branch_owes_only_its_own_periods(conn, settings):
    br, _, _ = build()
    br.created_at = datetime(2026, 9, 15, tzinfo=SH)
    br.save()
    book = record_book(
        None, 2026, branch_id=br.id, settings=settings, now=NOW + timedelta(days=60)
    )
    assert book.complete and book.as_of == date(2026, 12, 31)
    rows = {(r.kind_label, r.group_name): r for r in book.requirements}
    assert rows[("支部委员会会议", "")].due == 4  # September to December
    assert labels(rows[("支部党员大会", "")].missed) == ["2026年第3季度", "2026年第4季度"]
    assert len(book.meetings) == 4  # December's theme day has been held by now


def test_periods_are_written_short_within_the_year():
    months = [period_of(date(2026, m, 1), "month") for m in (1, 2, 3, 5, 7, 8)]
    assert periods_text(months) == "1—3月、5月、7—8月"
    quarters = [period_of(date(2026, m, 1), "quarter") for m in (4, 7)]
    assert periods_text(quarters) == "第2、3季度"
    assert periods_text([period_of(date(2026, 1, 1), "year")]) == "全年"
    assert periods_text([]) == "无"


def test_who_may_have_the_book(conn, settings):
    br, _, people = build()
    other = f.branch("第二党支部", br.committee)
    other_sec = f.member("钱书记", other, roles="secretary")
    admin = f.member("赵管理员", other, roles="committee_admin")
    stranger_admin = f.member(
        "外委管理员", f.branch("外支部", f.committee("外党委")), roles="committee_admin"
    )
    assert record_book(people["sec"], 2026, settings=settings, now=NOW).branch_name == "第一党支部"
    assert record_book(admin, 2026, branch_id=br.id, settings=settings, now=NOW).meetings
    for refused in (people["zhang"], other_sec, stranger_admin):
        with pytest.raises(Forbidden):
            record_book(refused, 2026, branch_id=br.id, settings=settings, now=NOW)
    with pytest.raises(DomainError, match="2027年还没有到"):
        record_book(people["sec"], 2027, settings=settings, now=NOW)


def _docx_text(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    doc = Document(io.BytesIO(data))
    paragraphs = [p.text for p in doc.paragraphs if p.text]
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return paragraphs, tables


def test_docx_reads_back_the_records(conn, settings):
    br, _, _ = build()
    book = record_book(None, 2026, branch_id=br.id, settings=settings, now=NOW)
    data = docx_bytes(book)
    assert data == docx_bytes(book)  # the same records, the same bytes
    PAGES.mkdir(parents=True, exist_ok=True)
    (PAGES / "record-book.docx").write_bytes(data)  # for a person to open
    paragraphs, tables = _docx_text(data)
    assert paragraphs[0] == "第一党支部组织生活记录本"
    assert "记录期间：2026年1月1日至2026年12月3日" in paragraphs
    assert "□ 2. 6月10日 党课：七一专题党课（2026年6月10日 09:00—10:30）" in paragraphs
    assert "1. 3月5日 支部党员大会：学习新修订的党章" in paragraphs
    minutes = paragraphs.index("1. 3月5日 支部党员大会：学习新修订的党章")
    assert paragraphs[minutes + 1 : minutes + 5] == [
        "会议记录",
        "王书记领学党章第一章。",
        "张三、王书记作交流发言。",
        "会议决议",
    ]
    front, general = tables[0], tables[1]
    assert front[0] == ["会议类型", "频率", "应召开", "已达标", "已召开", "未召开的期间"]
    assert [
        "支部党员大会",
        "每季度",
        "4",
        "1",
        "1",
        "第2、3季度；第4季度进行中",
    ] in front
    committee_row = next(row for row in front if row[0] == "支部委员会会议")
    assert committee_row[-1] == "1—10月；12月进行中"
    fields = dict(general)
    assert fields["地点"] == "党员活动室" and fields["记录人"] == "张三"
    assert (fields["应到人数"], fields["实到人数"]) == ("4 人", "2 人")
    assert fields["出席人员"] == "王书记、张三"
    assert fields["请假人员（事由）"] == "李四（出差）"
    assert fields["缺席人员"] == "王五"
    committee = dict(tables[3])
    assert committee["出席人员"] == "王书记、=1+1"  # a name is text in a document, never run
    assert committee["会议主题"] == "（未填写）"


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: scripts/browser-deps.sh installs poppler-utils"
    return path


def test_pdf_renders_chinese_text_and_pages_to_look_at(conn, settings):
    br, _, _ = build()
    book = record_book(None, 2026, branch_id=br.id, settings=settings, now=NOW)
    data = pdf_bytes(book, settings)
    assert data.startswith(b"%PDF-") and data == pdf_bytes(book, settings)
    PAGES.mkdir(parents=True, exist_ok=True)
    pdf = PAGES / "record-book.pdf"
    pdf.write_bytes(data)
    text = subprocess.run(
        [_poppler("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = "".join(text.split())  # pdftotext spaces CJK runs; compare without whitespace
    for expected in (
        "第一党支部组织生活记录本",
        "会议要求完成情况",
        "待补充会议记录的会议",
        "□2.6月10日党课：七一专题党课",
        "1.3月5日支部党员大会：学习新修订的党章",
        "李四（出差）",
        "王书记领学党章第一章。",
        "通过2026年发展党员计划。",
        "张三（请假待审批）",
        "第1页",
    ):
        assert expected in flat, expected
    for old in PAGES.glob("record-book-*.png"):
        old.unlink()
    subprocess.run(
        [_poppler("pdftoppm"), "-png", "-r", "60", str(pdf), str(PAGES / "record-book")],
        check=True,
    )
    shots = sorted(PAGES.glob("record-book-*.png"))
    assert len(shots) >= 2 and all(s.stat().st_size > 5000 for s in shots)


def test_pdf_without_a_cjk_font_says_what_to_install(conn, settings, tmp_path):
    br, _, _ = build()
    book = record_book(None, 2026, branch_id=br.id, settings=settings, now=NOW)
    settings.reports.pdf_font = str(tmp_path / "none.ttf")
    with pytest.raises(DomainError, match="fonts-noto-cjk"):
        book_bytes(book, "pdf", settings)
    assert book_bytes(book, ".DOCX", settings).startswith(b"PK")


def test_cli_writes_docx_and_pdf_and_refuses_what_it_cannot(app, tmp_path):
    with app.app_context(), db.connection_context():
        build()
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    runner = app.test_cli_runner()
    with time_machine.travel(NOW, tick=False):
        out = tmp_path / "记录本.docx"
        done = runner.invoke(
            args=["report", "book", "2026", "--branch", "第一党支部", "--out", str(out)]
        )
        assert done.exit_code == 0, done.output
        assert f"第一党支部2026年组织生活记录本已写入 {out}" in done.output
        assert "共 3 次会议；1 次会议缺少会议记录，见首页。" in done.output
        assert _docx_text(out.read_bytes())[0][0] == "第一党支部组织生活记录本"
        pdf = tmp_path / "记录本.pdf"
        done = runner.invoke(
            args=["report", "book", "2026", "--branch", "第一党支部", "--out", str(pdf)]
        )
        assert done.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF-")
        again = runner.invoke(
            args=["report", "book", "2026", "--branch", "第一党支部", "--out", str(pdf)]
        )
        assert again.exit_code == 1 and "已存在" in again.output
        for args, says in (
            (
                ["2026", "--branch", "第一党支部", "--out", str(tmp_path / "a.txt")],
                ".docx 或 .pdf",
            ),
            (["2027", "--branch", "第一党支部", "--out", str(tmp_path / "b.docx")], "还没有到"),
            (["2026", "--branch", "第九党支部", "--out", str(tmp_path / "c.docx")], "第九党支部"),
        ):
            refused = runner.invoke(args=["report", "book", *args])
            assert refused.exit_code == 1 and says in refused.output, refused.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["记录本.docx", "记录本.pdf"]
        with app.app_context(), db.connection_context():
            assert Meeting.select().count() == 6  # reading wrote nothing


# ---- the API and the console -----------------------------------------------------------------

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_api_downloads_the_book_with_a_chinese_file_name(env):
    a = env.branches["A"]
    path = "/api/v1/reports/book"
    sec = env.token("sec")
    got = env.api.get(path, token=sec)  # this year (the suite clock's), the secretary's branch
    assert got.status_code == 200 and got.headers["Content-Type"].startswith(DOCX)
    name = quote(f"{a.name}2026年组织生活记录本.docx")
    assert "filename*=UTF-8''" + name in got.headers["Content-Disposition"]
    assert got.headers["Cache-Control"] == "no-store"
    assert _docx_text(got.content)[0][0] == f"{a.name}组织生活记录本"
    pdf = env.api.get(path, token=sec, params={"year": 2026, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    admin = env.api.get(path, token=env.token("admin"), params={"branch_id": a.id})
    assert admin.status_code == 200
    member = env.api.get(path, token=env.token("m1"))
    assert (member.status_code, member.json()["errcode"]) == (403, "forbidden")
    other = env.api.get(path, token=env.token("secb"), params={"branch_id": a.id})
    assert (other.status_code, other.json()["errcode"]) == (403, "forbidden")
    later = env.api.get(path, token=sec, params={"year": 2027})
    assert later.status_code == 400 and "还没有到" in later.json()["errmsg"]
    wrong = env.api.get(path, token=sec, params={"format": "txt"})
    assert wrong.status_code == 400


def test_console_meetings_page_links_the_book(app):
    with app.app_context(), db.connection_context():
        br, _, people = build()
        other_sec = f.member("钱书记", f.branch("第二党支部", br.committee), roles="secretary")
    with time_machine.travel(NOW, tick=False):
        client = login(app, people["sec"])
        page = client.get(f"/console/branch/{br.id}/meetings")
        assert "组织生活记录本" in page.text
        assert f"/console/branch/{br.id}/book/2026?format=pdf" in page.text
        assert f"/console/branch/{br.id}/book/2025" in page.text
        docx = client.get(f"/console/branch/{br.id}/book/2026")
        assert docx.status_code == 200 and docx.mimetype == DOCX
        assert quote("第一党支部2026年组织生活记录本.docx") in docx.headers["Content-Disposition"]
        paragraphs, _ = _docx_text(docx.data)
        assert "1. 3月5日 支部党员大会：学习新修订的党章" in paragraphs
        pdf = client.get(f"/console/branch/{br.id}/book/2026?format=pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
        wrong = client.get(f"/console/branch/{br.id}/book/2026?format=txt")
        assert wrong.status_code == 400 and ".docx 或 .pdf" in wrong.text
        stranger = login(app, other_sec)
        refused = stranger.get(f"/console/branch/{br.id}/book/2026")
        assert refused.status_code == 403 and not refused.data.startswith(b"PK")
