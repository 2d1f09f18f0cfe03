"""The roster (名册) and the dues ledger (党费收缴明细) as downloads: /api/v1/reports/roster and
/api/v1/reports/ledger over real HTTP, and the console's links on the branch home and the
committee page through the Flask test client.

Each file is opened with openpyxl (or the csv module) and its rows checked against records made
here: a member named like a formula in a group named like one, and dues entries this month,
earlier this year and last year. Refusals follow the handlers' rule (a branch's managers; a
committee admin any branch of the committee, or the committee).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from handlers.reports.ledger import LEDGER_HEADER
from handlers.reports.roster import ROSTER_HEADER
from handlers.roster import import_roster
from models.base import db
from models.dues import DuesMonth, DuesPayment
from models.org import Member, mask_phone
from tests import factories as f
from tests.support.console import login

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 15, 10, 0, tzinfo=SH)
pytestmark = pytest.mark.clock(NOW)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROSTER = "/api/v1/reports/roster"
LEDGER = "/api/v1/reports/ledger"


def _pay(member, amount_fen, at, *, month=None, by=None):
    """A dues entry recorded at ``at`` (for the month ``month`` when given)."""
    payment = DuesPayment.create(
        member=member,
        kind="dues" if month else "voluntary",
        amount_fen=amount_fen,
        source="collector" if by else "import",
        recorded_by=by,
        recorded_at=at,
    )
    if month:
        DuesMonth.create(payment=payment, member=member, month=month, amount_fen=amount_fen)
    return payment


def add_records(branch, other, sec):
    """In ``branch``: a member named =1+1 in the group +86组, -王, and dues entries this month
    (September 2026), in March and last December; in ``other``: an entry this month."""
    formula = f.member("=1+1", branch, party_group=f.group(branch, "+86组"))
    minus = f.member("-王", branch)
    f.assess(formula, base_fen=800000, from_month=date(2026, 1, 1))
    _pay(formula, 12000, datetime(2026, 9, 3, 9, tzinfo=SH), month=date(2026, 9, 1), by=sec)
    _pay(minus, 5000, datetime(2026, 3, 5, 9, tzinfo=SH))
    _pay(minus, 7000, datetime(2025, 12, 10, 9, tzinfo=SH))
    _pay(f.member("外支部党员", other), 3000, datetime(2026, 9, 4, 9, tzinfo=SH))
    return formula, minus


def rows_of(data: bytes, sheet: str | None = None):
    book = load_workbook(io.BytesIO(data))
    ws = book[sheet] if sheet else book.active
    return ws, [[c.value for c in row] for row in ws.iter_rows()]


def csv_rows(data: bytes):
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def assert_download(headers, filename: str, fallback: str) -> None:
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="{fallback}"' in disposition
    assert "filename*=UTF-8''" + quote(filename, safe="") in disposition
    assert headers["Cache-Control"] == "no-store"


def ledger_body(rows):
    """(name, branch, amount) of each entry row: between the header and the 合计 row."""
    end = next(i for i, row in enumerate(rows) if row[0] == "合计")
    return [(row[1], row[2], row[8]) for row in rows[1:end]]


# ---- the API ---------------------------------------------------------------------------------


@pytest.fixture
def cast(env):
    with env.ctx():
        add_records(env.branches["A"], env.branches["B"], env.people["sec"])
        # The import stores roles in a fixed order; the cast's factory took them as written.
        sec = env.people["sec"]
        Member.update(roles="organizer,secretary").where(Member.id == sec.id).execute()
    return env


def test_api_roster_as_xlsx_and_csv_imports_back(cast, tmp_path):
    env = cast
    sec = env.token("sec")
    got = env.api.get(ROSTER, token=sec)
    assert got.status_code == 200 and got.headers["Content-Type"] == XLSX
    assert_download(got.headers, "第一党支部名册2026年9月15日.xlsx", "roster-2026-09-15.xlsx")
    ws, rows = rows_of(got.content)
    assert tuple(rows[0]) == ROSTER_HEADER
    a_names = ["书记甲", "党员丙", "党员丁", "新党员", "党委管理员", "'=1+1", "'-王"]
    assert [r[0] for r in rows[1:]] == a_names
    assert {r[2] for r in rows[1:]} == {"第一党支部"}
    formula = next(row for row in ws.iter_rows(min_row=2) if row[0].value == "'=1+1")
    assert (formula[3].value, formula[3].data_type) == ("'+86组", "s")  # text, not a formula

    with env.ctx():
        phones = {m.name: m.phone for m in Member.select()}
    assert rows[1][1] == mask_phone(phones["书记甲"])  # masked by default
    full = env.api.get(ROSTER, token=sec, params={"full_phones": "true"})
    assert_download(
        full.headers,
        "第一党支部名册（含完整手机号）2026年9月15日.xlsx",
        "roster-full-2026-09-15.xlsx",
    )
    _, full_rows = rows_of(full.content)
    assert full_rows[1][1] == phones["书记甲"]
    assert [r[:1] + r[2:] for r in full_rows] == [r[:1] + r[2:] for r in rows]

    params = {"format": "csv", "full_phones": "true"}
    as_csv = env.api.get(ROSTER, token=sec, params=params)
    assert as_csv.status_code == 200
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert_download(
        as_csv.headers,
        "第一党支部名册（含完整手机号）2026年9月15日.csv",
        "roster-full-2026-09-15.csv",
    )
    table = csv_rows(as_csv.content)
    assert table[0] == list(ROSTER_HEADER)
    assert [[cell or None for cell in row] for row in table[1:]] == full_rows[1:]

    for name, data in (("名册.xlsx", full.content), ("名册.csv", as_csv.content)):
        path = tmp_path / name
        path.write_bytes(data)
        with env.ctx():
            members = list(Member.select().order_by(Member.id).dicts())
            report = import_roster(path, "测试党委", now=NOW, settings=env.settings)
            assert (report.created, report.updated, report.unchanged) == (0, 0, 7), name
            assert list(Member.select().order_by(Member.id).dicts()) == members
            assert {"=1+1", "-王"} <= {m["name"] for m in members}


def test_api_roster_of_the_committee_and_of_another_branch(cast):
    env = cast
    admin = env.token("admin")
    whole = env.api.get(ROSTER, token=admin, params={"scope": "committee"})
    assert whole.status_code == 200
    assert_download(whole.headers, "测试党委名册2026年9月15日.xlsx", "roster-2026-09-15.xlsx")
    _, rows = rows_of(whole.content)
    assert {r[2] for r in rows[1:]} == {"第一党支部", "第二党支部"}
    assert len(rows) == 1 + 7 + 3  # A's seven, B's three; nobody of 其他党委
    b = env.api.get(ROSTER, token=admin, params={"branch_id": env.branches["B"].id})
    assert b.status_code == 200
    _, rows = rows_of(b.content)
    assert [r[0] for r in rows[1:]] == ["书记乙", "党员戊", "外支部党员"]


def test_api_ledger_of_a_month_a_year_and_the_committee(cast):
    env = cast
    sec = env.token("sec")
    month = env.api.get(LEDGER, token=sec, params={"period": "2026-09"})
    assert month.status_code == 200 and month.headers["Content-Type"] == XLSX
    assert_download(month.headers, "第一党支部2026年9月党费收缴明细.xlsx", "ledger-2026-09.xlsx")
    _, rows = rows_of(month.content, "党费收缴明细")
    assert tuple(rows[0]) == LEDGER_HEADER
    assert ledger_body(rows) == [("'=1+1", "第一党支部", 120)]
    current = env.api.get(LEDGER, token=sec)  # no period: this month
    assert ledger_body(rows_of(current.content, "党费收缴明细")[1]) == ledger_body(rows)

    year = env.api.get(LEDGER, token=sec, params={"period": "2026"})
    assert year.status_code == 200
    assert_download(year.headers, "第一党支部2026年党费收缴明细.xlsx", "ledger-2026.xlsx")
    assert ledger_body(rows_of(year.content, "党费收缴明细")[1]) == [
        ("'-王", "第一党支部", 50),
        ("'=1+1", "第一党支部", 120),
    ]

    admin = env.token("admin")
    whole = env.api.get(LEDGER, token=admin, params={"period": "2026年9月", "scope": "committee"})
    assert whole.status_code == 200
    assert_download(whole.headers, "测试党委2026年9月党费收缴明细.xlsx", "ledger-2026-09.xlsx")
    assert ledger_body(rows_of(whole.content, "党费收缴明细")[1]) == [
        ("'=1+1", "第一党支部", 120),
        ("外支部党员", "第二党支部", 30),
    ]


@pytest.mark.parametrize("path", [ROSTER, LEDGER])
def test_api_downloads_refused(cast, path):
    env = cast
    a, x = env.branches["A"], env.branches["X"]

    def refused(who, params, status, errcode):
        token = env.token(who) if who else None
        got = env.api.get(path, token=token, params=params)
        assert (got.status_code, got.json()["errcode"]) == (status, errcode), (who, params)
        assert "Content-Disposition" not in got.headers
        return got.json()["errmsg"]

    assert refused(None, {}, 401, "unauthorized") == "请先登录。"
    assert refused("m1", {}, 403, "forbidden") == "没有权限进行此操作。"  # no manager role
    refused("secx", {"branch_id": a.id}, 403, "forbidden")  # another committee's secretary
    refused("secb", {"branch_id": a.id}, 403, "forbidden")  # another branch's secretary
    refused("admin", {"branch_id": x.id}, 403, "forbidden")  # another committee's branch
    refused("sec", {"scope": "committee"}, 403, "forbidden")  # not a committee admin
    both = refused("admin", {"scope": "committee", "branch_id": a.id}, 400, "invalid_field")
    assert "scope=committee" in both


def test_api_bad_format_and_period_answer_400_in_chinese(cast):
    env = cast
    sec = env.token("sec")
    bad = env.api.get(ROSTER, token=sec, params={"format": "pdf"})
    assert (bad.status_code, bad.json()["errmsg"]) == (400, "字段 format 格式不正确。")
    for period, words in (
        ("2026-13", "没有13月"),
        ("明年春天", "没看懂"),
        ("9999", "年份9999不对"),
        ("2027", "还没有到"),
        ("2026-10", "还没有到"),
    ):
        got = env.api.get(LEDGER, token=sec, params={"period": period})
        assert got.status_code == 400, period
        assert words in got.json()["errmsg"], (period, got.json())


# ---- the console -----------------------------------------------------------------------------


@pytest.fixture
def console(app):
    """测试党委 with 第一党支部 (a secretary, a dues collector, the committee admin) and
    第二党支部; 其他党委 with its own branch and secretary; the records of add_records."""
    with app.app_context(), db.connection_context():
        comm = f.committee("测试党委")
        a, b = f.branch("第一党支部", comm), f.branch("第二党支部", comm)
        x = f.branch("外单位党支部", f.committee("其他党委"))
        people = {
            "sec": f.member("王书记", a, roles="secretary"),
            "collector": f.member("钱收缴员", a, roles="dues_collector"),
            "admin": f.member("赵管理员", a, roles="committee_admin"),
            "secb": f.member("孙书记", b, roles="secretary"),
            "secx": f.member("李书记", x, roles="secretary"),
        }
        add_records(a, b, people["sec"])
    return {"a": a, "b": b, "x": x, **people}


def test_console_branch_home_links_download_roster_and_ledgers(app, console):
    a = console["a"]
    client = login(app, console["sec"])
    home = client.get(f"/console/branch/{a.id}").text
    for text, path in (
        ("下载名册", f"/console/branch/{a.id}/roster/export"),
        ("下载本月党费收缴明细", f"/console/branch/{a.id}/ledger/month"),
        ("下载本年党费收缴明细", f"/console/branch/{a.id}/ledger/year"),
    ):
        assert text in home and f'href="{path}"' in home, text

    roster = client.get(f"/console/branch/{a.id}/roster/export")
    assert roster.status_code == 200 and roster.mimetype == XLSX
    assert_download(roster.headers, "第一党支部名册2026年9月15日.xlsx", "roster-2026-09-15.xlsx")
    _, rows = rows_of(roster.data)
    assert tuple(rows[0]) == ROSTER_HEADER
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("王书记", None),
        ("钱收缴员", None),
        ("赵管理员", None),
        ("'=1+1", "'+86组"),
        ("'-王", None),
    ]

    month = client.get(f"/console/branch/{a.id}/ledger/month")
    assert month.status_code == 200 and month.mimetype == XLSX
    assert_download(month.headers, "第一党支部2026年9月党费收缴明细.xlsx", "ledger-2026-09.xlsx")
    _, rows = rows_of(month.data, "党费收缴明细")
    assert ledger_body(rows) == [("'=1+1", "第一党支部", 120)]
    assert rows[1][10] == "王书记"  # the collector column: who recorded it

    year = client.get(f"/console/branch/{a.id}/ledger/year")
    assert_download(year.headers, "第一党支部2026年党费收缴明细.xlsx", "ledger-2026.xlsx")
    assert ledger_body(rows_of(year.data, "党费收缴明细")[1]) == [
        ("'-王", "第一党支部", 50),
        ("'=1+1", "第一党支部", 120),
    ]


def test_console_committee_page_links_download_the_committees_files(app, console):
    client = login(app, console["admin"])
    page = client.get("/console/committee").text
    for text, path in (
        ("下载党委名册", "/console/committee/roster/export"),
        ("下载本月党费收缴明细", "/console/committee/ledger/month"),
        ("下载本年党费收缴明细", "/console/committee/ledger/year"),
    ):
        assert text in page and f'href="{path}"' in page, text
    roster = client.get("/console/committee/roster/export")
    assert roster.status_code == 200
    assert_download(roster.headers, "测试党委名册2026年9月15日.xlsx", "roster-2026-09-15.xlsx")
    _, rows = rows_of(roster.data)
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("王书记", "第一党支部"),
        ("钱收缴员", "第一党支部"),
        ("赵管理员", "第一党支部"),
        ("'=1+1", "第一党支部"),
        ("'-王", "第一党支部"),
        ("孙书记", "第二党支部"),
        ("外支部党员", "第二党支部"),
    ]
    month = client.get("/console/committee/ledger/month")
    assert_download(month.headers, "测试党委2026年9月党费收缴明细.xlsx", "ledger-2026-09.xlsx")
    assert ledger_body(rows_of(month.data, "党费收缴明细")[1]) == [
        ("'=1+1", "第一党支部", 120),
        ("外支部党员", "第二党支部", 30),
    ]
    year = client.get("/console/committee/ledger/year")
    assert_download(year.headers, "测试党委2026年党费收缴明细.xlsx", "ledger-2026.xlsx")
    assert len(ledger_body(rows_of(year.data, "党费收缴明细")[1])) == 3
    assert client.get("/console/committee/ledger/week").status_code == 404
    # The committee admin downloads any branch's of the committee, not another committee's.
    assert client.get(f"/console/branch/{console['b'].id}/roster/export").status_code == 200
    assert client.get(f"/console/branch/{console['x'].id}/roster/export").status_code == 403
    assert client.get(f"/console/branch/{console['x'].id}/ledger/year").status_code == 403


@pytest.mark.parametrize(
    ("who", "branch"),
    [
        ("collector", "a"),  # in the branch, on the console, but not one of its managers
        ("sec", "b"),  # another branch of the committee
        ("secx", "a"),  # another committee's secretary
    ],
)
def test_console_downloads_refused(app, console, who, branch):
    client = login(app, console[who])
    branch_id = console[branch].id
    for path in (
        f"/console/branch/{branch_id}/roster/export",
        f"/console/branch/{branch_id}/ledger/month",
        f"/console/branch/{branch_id}/ledger/year",
        "/console/committee/roster/export",
        "/console/committee/ledger/month",
        "/console/committee/ledger/year",
    ):
        got = client.get(path)
        assert got.status_code == 403, (who, path)
        assert got.mimetype == "text/html" and "没有权限" in got.text, (who, path)
        assert "Content-Disposition" not in got.headers


def test_console_downloads_need_a_login(app, console):
    client = app.test_client()
    roster = f"/console/branch/{console['a'].id}/roster/export"
    for path in (roster, "/console/committee/ledger/year"):
        got = client.get(path)
        assert got.status_code == 302 and "/console/login" in got.headers["Location"]
