"""The console's member pages: a member's record, printable binding codes, roster upload."""

from __future__ import annotations

import io
import os
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.clock import utcnow
from handlers.errors import Forbidden
from handlers.roster import RosterError
from handlers.roster.preview import import_for, preview_roster
from models.base import db
from models.org import Member
from models.study import StudyCheckin
from models.wechat import BindCode, WechatBinding
from tests import factories as f
from tests.support.console import csrf_token, login, post
from tests.support.meetings import meet
from web.members import UPLOAD_DIR

SH = ZoneInfo("Asia/Shanghai")
HEADER = "姓名,手机号,支部,党小组,党员状态,职务,入党日期,转正日期"
CARD = re.compile(r'<article class="code-card">(.*?)</article>', re.S)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        other = f.branch("外单位支部", f.committee("外单位党委"))
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "secb": f.member("李书记", b, roles="secretary", phone="13800000002"),
            "admin": f.member("赵管理员", a, roles="committee_admin", phone="13800000003"),
            "zhang": f.member("张党员", a, phone="13812345678", joined_on=date(2010, 7, 1)),
            "liu": f.member("刘党员", a, phone="13812340000"),
            "gone": f.member("停籍者", a, status="out", phone="13812340001"),
            "inb": f.member("二支部党员", b, phone="13822220000"),
            "outsider": f.member("外单位党员", other, phone="13833330000"),
        }
        f.bound(people["sec"], "openid-sec")
    return {"a": a, "b": b, "other": other, **people}


def _members_url(org: dict[str, Any], branch: str = "a") -> str:
    return f"/console/branch/{org[branch].id}/members"


# ---- a member's page -------------------------------------------------------------------------


def test_a_members_page_shows_study_meetings_and_dues(app, org):
    zhang, a = org["zhang"], org["a"]
    now = utcnow()
    today = now.astimezone(SH).date()
    with app.app_context(), db.connection_context():
        for back in (0, 1, 2, 8):  # today, yesterday, the day before, and last week
            StudyCheckin.create(member=zhang, day=today - timedelta(days=back))
        meet(a, "general", now - timedelta(days=30), present=[zhang])
        meet(a, "lesson", now - timedelta(days=10), present=[], absent=[zhang])
        meet(a, "theme_day", now + timedelta(days=3), present=[], absent=[zhang])
        meet(a, "general", datetime(today.year - 1, 6, 1, 9, tzinfo=SH), present=[zhang])
        f.assess(zhang, base_fen=300000, from_month=date(today.year, 1, 1))
        f.pay(zhang, date(today.year, 1, 1), date(today.year, 2, 1), amount_fen=1500)
    client = login(app, org["sec"])
    page = client.get(f"{_members_url(org)}/{zhang.id}")
    assert page.status_code == 200, page.text
    text = page.text
    # The full number: this page is for the managers of the member's branch (lists mask it).
    assert "张党员" in text and "<td>13812345678</td>" in text
    assert "学习打卡（近 8 周）" in text and "累计打卡</th><td>4 次" in text
    assert "连续打卡</th><td>3 天" in text
    assert "应参加并已召开 2 次，出席 1 次" in text
    assert "出席" in text and "缺席" in text and "未开始" in text
    assert f"{today.year - 1}-06-01" not in text  # last year's meeting is not listed
    assert f"{today.year}年1月、{today.year}年2月" in text  # months paid
    assert "欠交" in text and "个月，共" in text  # March onwards owed
    assert "交纳记录" in text and "30.00" in text


def test_a_members_page_is_for_that_branchs_managers(app, org):
    zhang, inb = org["zhang"], org["inb"]
    other_manager = login(app, org["secb"])
    refused = other_manager.get(f"{_members_url(org)}/{zhang.id}")
    assert refused.status_code == 403 and "没有权限" in refused.text
    sec = login(app, org["sec"])
    unknown = sec.get(f"{_members_url(org)}/999999")
    elsewhere = sec.get(f"{_members_url(org)}/{org['outsider'].id}")
    another_branch = sec.get(f"{_members_url(org)}/{inb.id}")
    assert unknown.status_code == elsewhere.status_code == another_branch.status_code == 404
    message = "请求的资源不存在，或您无权查看。"
    assert message in unknown.text and message in elsewhere.text and message in another_branch.text
    assert "外单位党员" not in elsewhere.text
    admin = login(app, org["admin"])  # the committee admin sees every branch of the committee
    assert admin.get(f"{_members_url(org, 'b')}/{inb.id}").status_code == 200
    list_page = sec.get(_members_url(org))
    assert f'href="{_members_url(org)}/{zhang.id}"' in list_page.text


# ---- binding codes ---------------------------------------------------------------------------


def _codes(client: Any, org: dict[str, Any], data: dict[str, Any], csrf: bool = True) -> Any:
    path = f"/console/branch/{org['a'].id}/codes"
    if not csrf:
        return client.post(path, data=data)
    return post(client, path, data, page=_members_url(org))


def test_console_codes_print_one_card_each_and_bind_through_the_bot(app, org, wechat):
    client = login(app, org["sec"])
    ids = [org["zhang"].id, org["liu"].id, org["sec"].id, org["gone"].id]
    sheet = _codes(client, org, {"member_id": [str(i) for i in ids], "scope": "selected"})
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["Cache-Control"] == "no-store"
    cards = CARD.findall(sheet.text)
    assert len(cards) == 2 and all("<svg" in card for card in cards)
    assert "张党员" in cards[0] and "刘党员" in cards[1] and "第一党支部" in cards[0]
    code = re.search(r'<p class="code-value">([A-Z0-9]{4}-[A-Z0-9]{4})</p>', cards[0]).group(1)
    assert f"关注公众号后发送：<strong>绑定 {code}</strong>" in cards[0] and "有效期至" in cards[0]
    assert "绑定码只显示这一次" in sheet.text
    assert "王书记：已绑定微信" in sheet.text and "停籍者：已停止党籍" in sheet.text
    with app.app_context(), db.connection_context():
        assert BindCode.select().count() == 2
        assert all(code.replace("-", "") not in row.code_hash for row in BindCode.select())
    reply = wechat.send_text("openid-zhang", f"绑定 {code}").reply
    assert reply.startswith("绑定成功") and "张党员" in reply
    with app.app_context(), db.connection_context():
        bound = WechatBinding.get(WechatBinding.openid == "openid-zhang")
        assert bound.member_id == org["zhang"].id


def test_all_unbound_members_get_codes_and_an_empty_choice_is_refused_by_the_buttons(app, org):
    client = login(app, org["sec"])
    refused = _codes(client, org, {"scope": "selected"})
    assert refused.status_code == 400
    assert 'id="codes-error"' in refused.text and "请至少勾选一名党员" in refused.text
    sheet = _codes(client, org, {"scope": "unbound"})
    names = [re.search(r'code-name">([^<]+)<', c).group(1) for c in CARD.findall(sheet.text)]
    # Not the bound secretary, not the member whose membership stopped, not the committee
    # admin (a power the secretary lacks), nor anyone of another branch.
    assert names == ["张党员", "刘党员"]
    assert "赵管理员：担任您所没有的职务" in sheet.text
    other = _codes(client, org, {"member_id": [str(org["inb"].id)], "scope": "selected"})
    assert other.status_code == 404  # a member outside the branch: nothing issued
    with app.app_context(), db.connection_context():
        assert {c.member_id for c in BindCode.select()} == {org["zhang"].id, org["liu"].id}


def test_the_codes_form_needs_its_csrf_token(app, org):
    client = login(app, org["sec"])
    refused = _codes(client, org, {"scope": "unbound"}, csrf=False)
    assert refused.status_code == 400 and "页面已过期" in refused.text
    with app.app_context(), db.connection_context():
        assert BindCode.select().count() == 0


# ---- roster upload -----------------------------------------------------------------------------


def _roster(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8")


GOOD = _roster(
    "张党员,13812345678,第一党支部,,预备党员,,2025-07-01,",  # changed: its status
    "刘党员,13812340000,第一党支部,,,,,",  # unchanged
    "新党员甲,13900001111,第一党支部,第一党小组,,,2020-07-01,2021-07-01",
    "新党员乙,13900002222,第一党支部,,,,,",
)


def _upload(client: Any, org: dict[str, Any], content: bytes, name: str = "名册.csv") -> Any:
    path = f"/console/branch/{org['a'].id}/roster"
    token = csrf_token(client.get(path).text)
    data = {"csrf_token": token, "file": (io.BytesIO(content), name)}
    return client.post(path, data=data, content_type="multipart/form-data")


def _count(app: Any) -> int:
    with app.app_context(), db.connection_context():
        return Member.select().count()


def test_a_bad_roster_lists_every_bad_row_and_writes_nothing(app, org):
    client = login(app, org["sec"])
    before = _count(app)
    bad = _roster("好人,13900001111,第一党支部", "无手机,,第一党支部", "坏号码,123,第一党支部")
    sent = _upload(client, org, bad)
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/roster/preview")
    page = client.get(sent.headers["Location"])
    assert page.status_code == 400
    assert "第3行：手机号不能为空" in page.text and "第4行：手机号“123”" in page.text
    assert 'id="roster-error"' in page.text and "确认导入" not in page.text
    assert _count(app) == before
    again = client.get(sent.headers["Location"])  # the file was discarded
    assert "没有待确认的名册" in again.text


def test_a_good_roster_is_previewed_then_imported_on_confirmation(app, org):
    client = login(app, org["sec"])
    before = _count(app)
    sent = _upload(client, org, GOOD)
    preview = client.get(sent.headers["Location"])
    assert preview.status_code == 200, preview.text
    text = preview.text
    assert 'id="count-created">2 人' in text and 'id="count-changed">1 人' in text
    assert 'id="count-unchanged">1 人' in text
    assert "党员状态：正式党员 → 预备党员" in text and "新党员甲" in text
    assert "139****1111" in text and "13900001111" not in text
    assert _count(app) == before  # nothing written by the preview
    token = re.search(r'name="token" value="([0-9a-f]+)"', text).group(1)
    confirm = f"/console/branch/{org['a'].id}/roster/confirm"
    refused = client.post(confirm, data={"token": token})  # no CSRF token
    assert refused.status_code == 400 and _count(app) == before
    done = client.post(confirm, data={"token": token, "csrf_token": csrf_token(text)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/roster/done")
    report = client.get(done.headers["Location"])
    assert "新增 2 人，更新 1 人，未变 1 人" in report.text
    with app.app_context(), db.connection_context():
        assert _count(app) == before + 2
        assert Member.get(Member.phone == "13812345678").status == "probationary"
        assert Member.get(Member.phone == "13900001111").party_group.name == "第一党小组"
    replay = client.post(confirm, data={"token": token, "csrf_token": csrf_token(text)})
    assert "没有待确认的名册" in replay.text  # the upload is gone once imported
    folder = os.path.join(tempfile.gettempdir(), UPLOAD_DIR)
    assert not any(name.startswith(token) for name in os.listdir(folder))


def test_a_branch_manager_imports_only_their_own_branch(app, org):
    client = login(app, org["sec"])
    rows = _roster(
        "新党员,13900001111,第一党支部,,,,,",
        "二支部新人,13900002222,第二党支部,,,,,",
        "二支部党员,13822220000,第一党支部,,,,,",
        "想当管理员,13900003333,第一党支部,,,党委管理员,,",
    )
    page = client.get(_upload(client, org, rows).headers["Location"])
    assert "第3行：支部“第二党支部”不是您的支部" in page.text
    assert "第4行：手机号“13822220000”已登记在“第二党支部”" in page.text
    assert "第5行：职务含有您所没有的“党委管理员”" in page.text
    assert "第2行" not in page.text
    admin = login(app, org["admin"])  # the committee admin may import every branch's rows
    preview = admin.get(_upload(admin, org, rows).headers["Location"])
    assert preview.status_code == 200 and 'id="count-created">3 人' in preview.text


def test_uploads_are_limited_by_type_and_size(app, org, settings):
    client = login(app, org["sec"])
    wrong = _upload(client, org, b"PK", name="名册.xls")
    assert wrong.status_code == 400 and "请上传 .xlsx 或 .csv" in wrong.text
    bigger = GOOD + b"\n" * 70_000  # above app.max_body_bytes, within imports.max_file_bytes
    assert len(bigger) > settings.app.max_body_bytes
    assert _upload(client, org, bigger).status_code == 302
    settings.imports.max_file_bytes = 1024
    too_big = _upload(client, org, b"x" * (200 * 1024))
    assert too_big.status_code == 413 and "imports.max_file_bytes" in too_big.text


# ---- the preview handler ------------------------------------------------------------------------


def test_preview_roster_computes_the_diff_without_writing(app, org, settings, tmp_path: Path):
    path = tmp_path / "roster.csv"
    path.write_bytes(GOOD)
    now = utcnow()
    with app.app_context(), db.connection_context():
        sec = Member.get_by_id(org["sec"].id)
        before = Member.select().count()
        preview = preview_roster(sec, path, settings=settings, now=now)
        assert [r.name for r in preview.created] == ["新党员甲", "新党员乙"]
        assert [(r.row_number, r.fields) for r in preview.changed] == [
            (2, ["党员状态：正式党员 → 预备党员", "入党日期：2010-07-01 → 2025-07-01"])
        ]
        assert preview.unchanged == 1 and preview.groups_created == ["第一党支部 / 第一党小组"]
        assert Member.select().count() == before
        report = import_for(sec, path, settings=settings, now=now)
        assert (report.created, report.updated, report.unchanged) == (2, 1, 1)
        again = preview_roster(sec, path, settings=settings, now=now)
        assert (len(again.created), len(again.changed), again.unchanged) == (0, 0, 4)
        with pytest.raises(RosterError) as refused:
            preview_roster(Member.get_by_id(org["secb"].id), path, settings=settings, now=now)
        assert [e.row_number for e in refused.value.errors] == [2, 3, 4, 5]
        with pytest.raises(Forbidden):
            preview_roster(Member.get_by_id(org["zhang"].id), path, settings=settings, now=now)
