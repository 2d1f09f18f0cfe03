"""The read log (查阅记录) and phone masking: every door that shows one member's detail to a
manager, and every download naming members, notes one read with who, when, the door and the
members named; the committee admin reads the log (console, API, command line), nobody else;
phones are masked in lists and exports, in full only on a member's page and in a roster asked
for with the full numbers (which is noted as such)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from docx import Document
from openpyxl import load_workbook

from handlers.dues import record_payment
from handlers.housekeeping import prune
from handlers.reports.roster import roster_bytes, roster_rows
from handlers.roster import RosterError, import_roster
from models.org import Member, mask_phone
from models.reads import ReadEntry, ReadMember
from tests import factories as f
from tests.support.api import Env
from tests.support.console import csrf_token, login
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH)  # a Monday
pytestmark = pytest.mark.clock(NOW)
MINUTE = timedelta(minutes=1)  # the suite's clock ticks from NOW
PHONE = re.compile(r"1[3-9]\d{9}")


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def w(make_env: Any) -> Env:
    """The API cast (branches A and B of 测试党委, X of another), an applicant of A, and a
    meeting of A last week with 党员丙 present and 党员丁 absent."""
    env: Env = make_env(api={"login_rate_per_minute": 1000}, read_log={"per_page": 3})
    with env.ctx():
        env.people["applicant"] = f.member("申请人甲", env.branches["A"], status="applicant")
        meet(
            env.branches["A"],
            "lesson",
            NOW - timedelta(days=7),
            present=[env.people["m1"]],
            absent=[env.people["m2"]],
        )
    return env


def reads(env: Env) -> list[tuple[ReadEntry, set[int]]]:
    """Every read noted, oldest first, with the ids of the members it named."""
    with env.ctx():
        entries = list(ReadEntry.select().order_by(ReadEntry.id))
        named: dict[int, set[int]] = {}
        for row in ReadMember.select():
            named.setdefault(row.entry_id, set()).add(row.member_id)
    return [(e, named.get(e.id, set())) for e in entries]


def members_of(env: Env, branch: str) -> set[int]:
    with env.ctx():
        return {m.id for m in Member.select().where(Member.branch == env.branches[branch].id)}


def phones(env: Env) -> list[str]:
    with env.ctx():
        return [m.phone for m in Member.select()]


def xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )


# ---- one member's detail ---------------------------------------------------------------------


def test_a_members_page_is_noted_and_shows_the_full_phone_to_the_branchs_managers(w):
    m1, a = w.people["m1"], w.branches["A"]
    page = f"/console/branch/{a.id}/members/{m1.id}"
    sec = login(w.app, w.people["sec"])
    shown = sec.get(page)
    assert shown.status_code == 200 and f"<td>{m1.phone}</td>" in shown.text
    listed = sec.get(f"/console/branch/{a.id}/members").text
    assert mask_phone(m1.phone) in listed and m1.phone not in listed
    admin = login(w.app, w.people["admin"])
    assert m1.phone in admin.get(page).text
    other = login(w.app, w.people["secb"])  # another branch's secretary: refused, not noted
    refused = other.get(page)
    assert refused.status_code == 403 and m1.phone not in refused.text
    noted = reads(w)
    assert [(e.door, e.kind, e.actor_id, e.subject) for e, _ in noted] == [
        ("console", "member", w.people["sec"].id, "党员丙"),
        ("console", "member", w.people["admin"].id, "党员丙"),
    ]
    for entry, named in noted:
        assert named == {m1.id} and entry.members == 1 and entry.branch_id == a.id
        assert entry.committee_id == a.committee_id and NOW <= entry.at < NOW + MINUTE


def test_a_development_record_is_noted_through_the_api_and_the_console(w):
    person, a = w.people["applicant"], w.branches["A"]
    got = w.api.get(f"/api/v1/development/{person.id}", token=w.token("sec"))
    assert got.status_code == 200, got.text
    refused = w.api.get(f"/api/v1/development/{person.id}", token=w.token("m1"))
    assert refused.status_code in (403, 404)
    sec = login(w.app, w.people["sec"])
    assert sec.get(f"/console/branch/{a.id}/development/{person.id}").status_code == 200
    assert [(e.door, e.kind, e.actor_id, n) for e, n in reads(w)] == [
        ("api", "development", w.people["sec"].id, {person.id}),
        ("console", "development", w.people["sec"].id, {person.id}),
    ]


# ---- files naming members ----------------------------------------------------------------------


def test_every_api_download_naming_members_is_noted_with_whom_it_names(w):
    sec, m1, a = w.people["sec"], w.people["m1"], w.branches["A"]
    with w.ctx():
        f.assess(m1, base_fen=800000, from_month=date(2026, 12, 1))
        record_payment(
            sec, m1, 12000, [date(2026, 12, 1)], now=NOW, settings=w.app.config["ZHIBU"]
        )
    token = w.token("sec")
    for path, params in (
        ("/reports/roster", {}),
        ("/reports/roster", {"full_phones": "true", "format": "csv"}),
        ("/reports/ledger", {}),
        ("/reports/book", {}),
        ("/reports/month", {}),
    ):
        got = w.api.get(f"/api/v1{path}", token=token, params=params)
        assert got.status_code == 200, (path, got.text)
    admin = w.api.get(
        "/api/v1/reports/month", token=w.token("admin"), params={"scope": "committee"}
    )
    assert admin.status_code == 200  # a committee's report names no one: not noted
    noted = reads(w)
    assert [(e.door, e.kind, e.full_phones) for e, _ in noted] == [
        ("api", "roster", False),
        ("api", "roster", True),
        ("api", "ledger", False),
        ("api", "book", False),
        ("api", "report", False),
    ]
    roster, full, ledger, book, report = noted
    assert roster[1] == full[1] == members_of(w, "A") and roster[0].members == len(roster[1])
    assert (
        roster[0].subject == "第一党支部名册"
        and full[0].subject == "第一党支部名册（含完整手机号）"
    )
    assert ledger[1] == {m1.id, sec.id} and ledger[0].subject == "第一党支部2026年12月党费收缴明细"
    assert {m1.id, w.people["m2"].id} <= book[1] and book[
        0
    ].subject == "第一党支部2026年组织生活记录本"
    assert report[0].subject == "第一党支部2026年12月月报" and report[0].branch_id == a.id
    assert {e.actor_id for e, _ in noted} == {sec.id}
    assert all(NOW <= e.at < NOW + MINUTE for e, _ in noted)


def test_every_console_download_naming_members_is_noted(w):
    a = w.branches["A"]
    admin = login(w.app, w.people["admin"])
    for path in (
        f"/console/branch/{a.id}/roster/export",
        f"/console/branch/{a.id}/roster/export?full_phones=1",
        "/console/committee/roster/export",
        f"/console/branch/{a.id}/ledger/year",
        f"/console/branch/{a.id}/book/2026",
        f"/console/branch/{a.id}/report",
        "/console/committee/report",  # names no one: not noted
    ):
        assert admin.get(path).status_code == 200, path
    noted = reads(w)
    assert [(e.door, e.kind, e.branch_id, e.full_phones) for e, _ in noted] == [
        ("console", "roster", a.id, False),
        ("console", "roster", a.id, True),
        ("console", "roster", None, False),
        ("console", "ledger", a.id, False),
        ("console", "book", a.id, False),
        ("console", "report", a.id, False),
    ]
    whole = noted[2]
    assert whole[1] == members_of(w, "A") | members_of(w, "B")
    assert whole[0].committee_id == a.committee_id and whole[0].subject == "测试党委名册"


def test_the_command_lines_full_roster_is_noted_as_the_operators(w, tmp_path):
    out = tmp_path / "名册.xlsx"
    runner = w.app.test_cli_runner()
    done = runner.invoke(
        args=["report", "roster", "--branch", "第一党支部", "--full-phones", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    ((entry, named),) = reads(w)
    assert (entry.door, entry.actor_id, entry.actor_name) == ("cli", None, "服务器操作员")
    assert entry.full_phones and named == members_of(w, "A")
    with w.ctx():
        report = import_roster(out, "测试党委", now=NOW, settings=w.app.config["ZHIBU"])
    assert (report.created, report.branches_created) == (0, 0)  # every phone matched


# ---- who reads the log --------------------------------------------------------------------------


def _three_reads(w: Env) -> None:
    """党员丙's page opened by 书记甲 on Dec 1, 党员戊's by 书记乙 on Dec 3, and the committee's
    roster downloaded by the admin on Dec 7 (naming both)."""
    with at(datetime(2026, 12, 1, 9, 0, tzinfo=SH)):
        sec = login(w.app, w.people["sec"])
        sec.get(f"/console/branch/{w.branches['A'].id}/members/{w.people['m1'].id}")
    with at(datetime(2026, 12, 3, 9, 0, tzinfo=SH)):
        secb = login(w.app, w.people["secb"])
        secb.get(f"/console/branch/{w.branches['B'].id}/members/{w.people['mb'].id}")
    admin = login(w.app, w.people["admin"])
    assert admin.get("/console/committee/roster/export").status_code == 200


def _rows(html: str) -> list[str]:
    body = html.split('<table class="reads" id="reads">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", body, re.S)


def test_the_committee_admin_reads_the_log_by_member_manager_and_days(w):
    _three_reads(w)
    with w.ctx():
        outsider = f.member("外单位书记", w.branches["X"], roles="secretary")
        roster_rows(outsider, settings=w.app.config["ZHIBU"], now=NOW)  # another committee's
    admin = login(w.app, w.people["admin"])
    home = admin.get(f"/console/branch/{w.branches['A'].id}").text
    assert "/console/reads" in home and "查阅记录" in home
    page = admin.get("/console/reads").text
    assert "共 3 条" in page and "外单位书记" not in page
    assert [who for _, who in _rows(page)] == ["党委管理员", "书记乙", "书记甲"]
    assert "测试党委名册：" in page and "全党委" in page
    by_member = admin.get("/console/reads", query_string={"member": "党员丙"}).text
    assert [who for _, who in _rows(by_member)] == [
        "党委管理员",
        "书记甲",
    ]  # the roster named them
    by_manager = admin.get("/console/reads", query_string={"manager": "书记乙"}).text
    assert [who for _, who in _rows(by_manager)] == ["书记乙"] and "党员戊" in by_manager
    days = admin.get("/console/reads", query_string={"since": "2026-12-02", "until": "2026-12-03"})
    assert [who for _, who in _rows(days.text)] == ["书记乙"]
    backwards = admin.get(
        "/console/reads", query_string={"since": "2026-12-05", "until": "2026-12-01"}
    )
    assert backwards.status_code == 400 and "起始日期不能晚于截止日期" in backwards.text
    assert admin.get("/console/reads?since=12月1日").status_code == 400


def test_the_console_log_is_paginated(w):
    _three_reads(w)
    with w.ctx():
        roster_rows(w.people["sec"], settings=w.app.config["ZHIBU"], now=NOW)
    admin = login(w.app, w.people["admin"])
    first = admin.get("/console/reads").text  # read_log.per_page is 3 here
    assert len(_rows(first)) == 3 and "共 4 条" in first and "下一页" in first
    second = admin.get("/console/reads?offset=3").text
    assert [who for _, who in _rows(second)] == ["书记甲"] and "上一页" in second


@pytest.mark.parametrize("who", ["sec", "secb", "m1"])
def test_secretaries_and_members_may_not_read_the_log(w, who):
    _three_reads(w)
    if who != "m1":  # a plain member has no console at all
        client = login(w.app, w.people[who])
        assert (
            "/console/reads" not in client.get(f"/console/branch/{w.people[who].branch_id}").text
        )
        refused = client.get("/console/reads")
        assert refused.status_code == 403 and "只有党委管理员" in refused.text
        assert "党员丙" not in refused.text
    answer = w.api.get("/api/v1/committee/reads", token=w.token(who))
    assert answer.status_code == 403 and answer.json()["errcode"] == "forbidden"
    assert "党员丙" not in answer.text


def test_the_api_answers_the_committee_admin_the_reads_naming_a_member(w):
    _three_reads(w)
    token = w.token("admin")
    m1 = w.people["m1"]
    got = w.api.get("/api/v1/committee/reads", token=token, params={"member_id": m1.id})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["total"] == 2 and body["limit"] == 20 and body["offset"] == 0
    roster, page = body["items"]
    assert (roster["kind"], roster["kind_label"], roster["branch"]) == ("roster", "名册", None)
    assert roster["members"] == len(members_of(w, "A") | members_of(w, "B"))
    assert roster["member_id"] is None and roster["door"] == "console"
    assert page["member_id"] == m1.id and page["subject"] == "党员丙"
    assert page["actor_name"] == "书记甲" and page["at"] == "2026-12-01T09:00:00+08:00"
    assert page["branch"] == {"id": w.branches["A"].id, "name": "第一党支部"}
    days = {"since": "2026-12-02", "until": "2026-12-06"}
    assert w.api.get("/api/v1/committee/reads", token=token, params=days).json()["total"] == 1
    wrong = w.api.get("/api/v1/committee/reads", token=token, params={"since": "12月"})
    assert wrong.status_code == 400 and "since" in wrong.json()["errmsg"]
    m2 = w.api.get("/api/v1/committee/reads", token="x" * 10)
    assert m2.status_code == 401


def test_the_command_line_lists_who_looked_at_a_member(w):
    _three_reads(w)
    runner = w.app.test_cli_runner()
    done = runner.invoke(
        args=["privacy", "reads", "--member", "党员丙", "--committee", "测试党委"]
    )
    assert done.exit_code == 0, done.output
    lines = done.output.strip().splitlines()
    assert lines[0] == "测试党委的查阅记录：共 2 条，显示最新 2 条。"
    assert "党委管理员  控制台  名册：测试党委名册" in lines[1]
    assert lines[2] == "2026-12-01 09:00  书记甲  控制台  党员详情：党员丙（第一党支部）"
    since = runner.invoke(
        args=["privacy", "reads", "--committee", "测试党委", "--since", "2026-12-02"]
    )
    assert "共 2 条" in since.output and "书记甲" not in since.output
    unknown = runner.invoke(args=["privacy", "reads", "--committee", "没有的党委"])
    assert unknown.exit_code == 1 and "没有名为“没有的党委”的党委" in unknown.output


def test_reads_older_than_the_retention_are_pruned_with_the_members_they_named(w):
    settings = w.app.config["ZHIBU"]
    with at(NOW - timedelta(days=1097)):
        with w.ctx():
            roster_rows(w.people["sec"], settings=settings, now=NOW - timedelta(days=1097))
    with w.ctx():
        roster_rows(w.people["sec"], settings=settings, now=NOW - timedelta(days=1095))
        first = prune(NOW, settings)
        # One read deleted: the roster of six members.
        assert (first.counts["read_entry"], first.counts["read_member"]) == (1, 6)
        again = prune(NOW, settings)
        assert (again.counts["read_entry"], again.counts["read_member"]) == (0, 0)
        (kept,) = list(ReadEntry.select())
        assert kept.at == NOW - timedelta(days=1095)
        assert {r.entry_id for r in ReadMember.select()} == {kept.id}


# ---- masking ------------------------------------------------------------------------------------


def test_lists_and_exports_mask_every_phone_by_default(w):
    sec = w.token("sec")
    everyone = phones(w)
    members = w.api.get("/api/v1/branch/members", token=sec, params={"limit": 100}).json()
    assert members["items"] and all("****" in m["phone"] for m in members["items"])
    roster = w.api.get("/api/v1/reports/roster", token=sec)
    text = xlsx_text(roster.content)
    assert mask_phone(w.people["m1"].phone) in text
    files = {
        "roster": text,
        "roster.csv": w.api.get(
            "/api/v1/reports/roster", token=sec, params={"format": "csv"}
        ).content.decode("utf-8-sig"),
        "ledger": xlsx_text(w.api.get("/api/v1/reports/ledger", token=sec).content),
        "month": xlsx_text(w.api.get("/api/v1/reports/month", token=sec).content),
        "book": "\n".join(
            p.text
            for p in Document(
                io.BytesIO(w.api.get("/api/v1/reports/book", token=sec).content)
            ).paragraphs
        ),
    }
    for name, content in files.items():
        assert not PHONE.findall(content), name
        assert not any(phone in content for phone in everyone), name
    console = login(w.app, w.people["sec"])
    listed = console.get(f"/console/branch/{w.branches['A'].id}/members").text
    assert not any(phone in listed for phone in everyone)


def test_a_masked_roster_is_refused_on_import_with_what_to_do(w, tmp_path):
    with w.ctx():
        export = roster_rows(w.people["sec"], settings=w.app.config["ZHIBU"], now=NOW)
    client = login(w.app, w.people["sec"])
    path = f"/console/branch/{w.branches['A'].id}/roster"
    data = {
        "csrf_token": csrf_token(client.get(path).text),
        "file": (io.BytesIO(roster_bytes(export)), "名册.xlsx"),
    }
    sent = client.post(path, data=data, content_type="multipart/form-data")
    preview = client.get(sent.headers["Location"])
    assert preview.status_code == 400 and "确认导入" not in preview.text
    assert "第2行：手机号“" in preview.text and "是隐藏了中间四位的号码" in preview.text
    assert "含完整手机号" in preview.text
    masked = tmp_path / "名册.csv"
    masked.write_bytes(roster_bytes(export, "csv"))
    with w.ctx(), pytest.raises(RosterError, match="--full-phones") as refused:
        import_roster(masked, "测试党委", now=NOW, settings=w.app.config["ZHIBU"])
    assert len(refused.value.errors) == len(export.rows)
