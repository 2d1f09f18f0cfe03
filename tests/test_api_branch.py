"""Branch managers, committee admins and subscribe credits over /api/v1.

Real HTTP to a live app whose WeChat API is the local fake; every answer is checked against
/api/v1/openapi.json by tests.api_contract. The figures are checked against rows written here
and against what the secretary's digest says for the same moment.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import outbox, reminders
from handlers.dues import monthly_amount
from models.api import ApiSession
from models.org import Member
from models.outbox import OutboxMessage, SubscribeCredit
from models.study import StudyCheckin
from models.wechat import BindCode, WechatBinding
from tests import factories as f
from tests.support.api import Env
from tests.support.apps import make_driver
from tests.support.meetings import meet
from tests.support.outbox import drain_at
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # a Thursday, 4 days left in November
# The branches and members are set up three weeks before NOW (not lost contact by NOW).
pytestmark = pytest.mark.clock(NOW - timedelta(days=21))
NOV = date(2026, 11, 1)
TEMPLATE = "tpl-subscribe-01"
BASE_FEN = 800000  # 8,000.00 yuan after tax


def err(r, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["errcode"] == errcode, body
    return body["errmsg"]


def names(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [item["name"] for item in r.json()["items"]]


def dead_row(br: Any, period: str) -> None:
    OutboxMessage.create(
        kind="study_prompt",
        target_type="branch",
        target_id=br.id,
        period=period,
        payload='{"text": "t"}',
        branch=br,
        status="dead",
        next_attempt_at=NOW,
    )


def busy_branch(env: Env) -> dict[str, Any]:
    """Branch A on NOW: meetings held and missed, study, dues and every kind of alert.

    A has been in the system since 1 October: October is judged (nothing for 主题党日 or the
    party group → overdue), the earlier quarter and year are not.
    """
    a, b = env.branches["A"], env.branches["B"]
    people = env.people
    a.created_at = datetime(2026, 10, 1, tzinfo=SH)
    a.save()
    group = f.group(a, "第一党小组")
    Member.update(party_group=group).where(Member.id == people["m1"].id).execute()
    # With a quorum: the secretary, the one voter on their list, came.
    meet(a, "committee", datetime(2026, 10, 12, 9, tzinfo=SH), present=[people["sec"]])
    meet(a, "committee", datetime(2026, 11, 9, 9, tzinfo=SH), present=[people["sec"]])
    meet(a, "general", datetime(2026, 11, 16, 14, tzinfo=SH), present=[people["sec"]])
    meet(a, "lesson", datetime(2026, 12, 10, 14, tzinfo=SH))  # planned, later this quarter
    meet(b, "theme_day", datetime(2026, 11, 2, 9, tzinfo=SH))  # another branch's
    for who, day in (("m1", 3), ("m1", 20), ("m2", 25)):
        StudyCheckin.create(member=people[who], day=date(2026, 11, day))
    StudyCheckin.create(member=people["sec"], day=date(2026, 10, 30))  # last month
    activist = f.member("积极分子甲", a, status="activist")
    StudyCheckin.create(member=activist, day=date(2026, 11, 4))  # not a party member
    StudyCheckin.create(member=people["mb"], day=date(2026, 11, 4))  # branch B
    f.assess(people["m1"], base_fen=BASE_FEN, from_month=NOV)
    f.assess(people["m2"], base_fen=BASE_FEN, from_month=NOV)
    amount = monthly_amount("in_service", BASE_FEN, None, env.settings)
    f.pay(people["m2"], NOV, amount_fen=amount)
    behind = f.member("老欠费", a)
    f.assess(behind, base_fen=BASE_FEN, from_month=date(2026, 5, 1))
    quiet = f.member("久未联系", a, created_at=NOW - timedelta(days=200))
    f.member("预备党员", a, status="probationary", joined_on=date(2025, 12, 10))
    f.member("外支部失联", b, created_at=NOW - timedelta(days=200))
    dead_row(a, "x")
    return {"group": group, "amount": amount, "behind": behind, "quiet": quiet}


# ---- overview -------------------------------------------------------------------------------


def test_overview_figures_and_alerts_match_the_digest(env: Env):
    with env.ctx():
        made = busy_branch(env)
    with time_machine.travel(NOW, tick=False):
        r = env.api.get("/api/v1/branch/overview", token=env.token("sec"))
        assert r.status_code == 200, r.text
        view = r.json()
        with env.ctx():
            digests = {
                row.target_id: row.payload["text"]
                for row in reminders.secretary_digests(NOW, env.settings)
            }
    assert view["branch"] == {"id": env.branches["A"].id, "name": "第一党支部"}
    assert view["as_of"] == "2026-11-26"
    # Party members of A: sec, m1, m2, new, admin, 老欠费, 久未联系, 预备党员 (not the activist).
    assert view["study"] == {
        "first": "2026-11-01",
        "last": "2026-11-26",
        "members": 8,
        "participants": 2,
        "checkins": 3,
        "rate": 0.25,
    }
    kinds = {k["kind"]: k for k in view["meetings"]}
    assert set(kinds) == {
        "general",
        "committee",
        "group",
        "lesson",
        "theme_day",
        "life_meeting",
        "appraisal",
    }
    assert kinds["committee"] | {"period": None} == {
        "kind": "committee",
        "kind_label": "支部委员会会议",
        "frequency": "month",
        "period": None,
        "required": 1,
        "satisfied": 1,
        "held": 1,
        "held_without_quorum": 0,
        "planned": 0,
        "next_planned_at": None,
        "due_by": None,
        "days_left": 4,
        "status": "ok",
        "overdue": False,
        "previous_missed": False,
    }
    assert kinds["committee"]["period"] == {
        "label": "2026年11月",
        "start": "2026-11-01",
        "end": "2026-11-30",
    }
    assert kinds["theme_day"]["status"] == "overdue" and kinds["theme_day"]["overdue"] is True
    assert kinds["theme_day"]["held"] == 0 and kinds["theme_day"]["due_by"] == "2026-11-30"
    assert kinds["group"]["required"] == 1 and kinds["group"]["status"] == "overdue"
    assert kinds["general"]["held"] == 1 and kinds["general"]["frequency"] == "quarter"
    lesson = kinds["lesson"]
    assert lesson["status"] == "planned" and lesson["planned"] == 1 and lesson["held"] == 0
    assert lesson["next_planned_at"] == "2026-12-10T14:00:00+08:00"
    assert lesson["due_by"] == "2026-12-31" and lesson["days_left"] == 35
    assert kinds["life_meeting"]["status"] == "open"

    amount = made["amount"]
    assert view["dues"] == {
        "month": "2026-11",
        "expected_fen": 3 * amount,  # m1, m2 and 老欠费 owe November
        "expected_text": f"{3 * amount // 100}.{3 * amount % 100:02d}元",
        "collected_fen": amount,
        "collected_text": f"{amount // 100}.{amount % 100:02d}元",
        "rate": round(1 / 3, 4),
        "members_due": 3,
        "members_paid": 1,
        "members_exempt": 0,
        "members_unset": 5,
    }

    alerts = view["alerts"]
    owing = alerts["dues_owing"]
    assert owing["count"] == 2 and owing["total_fen"] == 8 * amount  # 7 months + 1 month
    assert [(m["name"], m["months"]) for m in owing["members"]] == [("老欠费", 7), ("党员丙", 1)]
    six = alerts["six_month_rule"]
    assert six["count"] == 1 and six["levels"] == [{"level": 6, "count": 1}]
    (lapse,) = six["members"]
    assert lapse["id"] == made["behind"].id and lapse["reason"] == "dues"
    assert lapse["months"] == 6 and lapse["since"] == "2026-05"
    assert alerts["lost_contact"] == {
        "count": 1,
        "days": 90,
        "members": [{"id": made["quiet"].id, "name": "久未联系"}],
    }
    assert [m["name"] for m in alerts["probation_ending"]["members"]] == ["预备党员"]
    assert alerts["probation_ending"]["members"][0]["ends_on"] == "2026-12-10"
    due = alerts["meetings_due"]["items"]
    assert sorted((d["kind"], d["status"]) for d in due) == [
        ("group", "overdue"),
        ("theme_day", "overdue"),
    ]
    assert [d["group"] for d in due if d["kind"] == "group"] == [
        {"id": made["group"].id, "name": "第一党小组"}
    ]
    assert alerts["dead_messages"] == 1 and alerts["study_plan_missing"] is True
    assert alerts["count"] == 2 + 1 + 1 + 1 + 2 + 1 + 1

    # The digest says the same things for the same moment.
    text = digests[env.people["sec"].id]
    assert "党费：2 人未交清" in text and "（最长 老欠费 7 个月）" in text
    assert "六个月规定：老欠费" in text and "失联：久未联系" in text
    assert "转正：预备党员" in text and "消息：1 条通知未能送达" in text
    assert "学习计划：未来 7 天没有学习主题" in text
    assert text.count("会议：") == 2 and "外支部失联" not in text


def test_overview_access(env: Env):
    a, b = env.branches["A"], env.branches["B"]
    get = env.api.get
    path = "/api/v1/branch/overview"
    assert get(path, token=env.token("sec")).json()["branch"]["id"] == a.id
    err(get(path, token=env.token("m1")), 403, "forbidden")
    err(get(path, token=env.token("mini-stranger")), 403, "not_bound")
    err(get(path), 401, "unauthorized")
    admin = env.token("admin")
    assert get(path, token=admin).json()["branch"]["id"] == a.id
    r = get(path, token=admin, params={"branch_id": b.id})
    assert r.status_code == 200 and r.json()["branch"]["name"] == "第二党支部"
    err(get(path, token=admin, params={"branch_id": env.branches["X"].id}), 403, "forbidden")
    err(get(path, token=admin, params={"branch_id": 99999}), 403, "forbidden")
    err(get(path, token=env.token("secb"), params={"branch_id": a.id}), 403, "forbidden")
    assert "branch_id" in err(
        get(path, token=admin, params={"branch_id": "B"}), 400, "invalid_field"
    )
    assert "month" in err(
        get(path, token=admin, params={"month": "2026-11"}), 400, "unknown_field"
    )


def test_quiet_branch_overview_is_all_zeroes_but_the_missing_study_plan(env: Env):
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=SH), tick=False):  # 20 days left
        r = env.api.get("/api/v1/branch/overview", token=env.token("secx"))
    view = r.json()
    assert view["branch"]["name"] == "外单位党支部"
    assert view["study"]["participants"] == 0 and view["study"]["members"] == 2
    assert view["dues"]["expected_fen"] == 0 and view["dues"]["rate"] is None
    assert view["dues"]["members_unset"] == 2
    assert view["alerts"]["count"] == 1 and view["alerts"]["dues_owing"]["members"] == []
    assert view["alerts"]["study_plan_missing"] is True  # the only item: no study plan
    assert {k["status"] for k in view["meetings"]} == {"open"}


# ---- members --------------------------------------------------------------------------------


def test_member_list_filters_and_pages(env: Env):
    a, b = env.branches["A"], env.branches["B"]
    with env.ctx():
        group = f.group(a, "第一党小组")
        other_group = f.group(b, "二支部小组")
        f.member("积极分子甲", a, status="activist")
        Member.update(party_group=group, last_active_at=NOW).where(
            Member.id == env.people["m1"].id
        ).execute()
    token = env.token("sec")

    def members(**params: Any):
        return env.api.get("/api/v1/branch/members", token=token, params=params)

    everyone = members()
    assert names(everyone) == ["书记甲", "党员丙", "党员丁", "新党员", "党委管理员", "积极分子甲"]
    body = everyone.json()
    assert (body["total"], body["limit"], body["offset"]) == (6, 20, 0)
    sec, m1 = body["items"][0], body["items"][1]
    assert sec["roles"] == [
        {"code": "organizer", "label": "组织委员"},
        {"code": "secretary", "label": "书记"},
    ]
    assert sec["phone"].count("*") == 4 and env.people["sec"].phone not in everyone.text
    assert sec["bound"] is True and sec["group"] is None and sec["last_active_on"] is None
    assert m1["group"] == {"id": group.id, "name": "第一党小组"}
    assert m1["last_active_on"] == "2026-11-26" and m1["status_label"] == "正式党员"
    assert names(members(status="activist")) == ["积极分子甲"]
    assert names(members(bound="false")) == ["新党员", "积极分子甲"]
    assert names(members(bound="true")) == ["书记甲", "党员丙", "党员丁", "党委管理员"]
    assert names(members(q="党员")) == ["党员丙", "党员丁", "新党员"]
    assert names(members(q="%")) == []  # a wildcard is a character, not a pattern
    assert names(members(group_id=group.id)) == ["党员丙"]
    assert names(members(bound="false", q="新")) == ["新党员"]
    page = members(limit=2, offset=1).json()
    assert [i["name"] for i in page["items"]] == ["党员丙", "党员丁"]
    assert (page["total"], page["limit"], page["offset"]) == (6, 2, 1)
    assert members(status="full", limit=1).json()["total"] == 5

    err(members(group_id=other_group.id), 404, "not_found")
    assert "status" in err(members(status="boss"), 400, "invalid_field")
    assert "bound" in err(members(bound="yes"), 400, "invalid_field")
    assert "limit" in err(members(limit=0), 400, "invalid_field")
    assert "limit" in err(members(limit=101), 400, "invalid_field")
    assert "q" in err(members(q="字" * 51), 400, "invalid_field")
    assert "sort" in err(members(sort="name"), 400, "unknown_field")


def test_member_list_scope(env: Env):
    path = "/api/v1/branch/members"
    b, x = env.branches["B"], env.branches["X"]
    err(env.api.get(path, token=env.token("m1")), 403, "forbidden")
    assert names(env.api.get(path, token=env.token("secx"))) == ["书记丙", "党员己"]
    admin = env.token("admin")
    assert names(env.api.get(path, token=admin, params={"branch_id": b.id})) == [
        "书记乙",
        "党员戊",
    ]
    err(env.api.get(path, token=admin, params={"branch_id": x.id}), 403, "forbidden")
    err(env.api.get(path, token=env.token("secb"), params={"group_id": 1}), 404, "not_found")


# ---- binding codes --------------------------------------------------------------------------


def test_binding_codes_bind_through_the_bot_and_the_api(env: Env):
    a = env.branches["A"]
    with env.ctx():
        newer = f.member("新党员二", a)
        gone = f.member("停籍者", a, status="out")
    path = "/api/v1/branch/binding-codes"
    ids = [env.people["new"].id, env.people["m1"].id, gone.id, newer.id]
    before = datetime.now(SH)
    r = env.api.post(path, token=env.token("sec"), json={"member_ids": ids})
    assert r.status_code == 200, r.text
    answer = r.json()
    issued = {i["member"]["name"]: i for i in answer["issued"]}
    assert list(issued) == ["新党员", "新党员二"]
    assert answer["refused"] == [
        {
            "member": {"id": env.people["m1"].id, "name": "党员丙"},
            "reason": "already_bound",
            "message": "已绑定微信，无需绑定码；如需更换微信，请先解除绑定。",
        },
        {
            "member": {"id": gone.id, "name": "停籍者"},
            "reason": "not_party_member",
            "message": "已停止党籍，不发放绑定码。",
        },
    ]
    first = issued["新党员"]
    assert first["code_display"].replace("-", "") == first["code"]
    expires = datetime.fromisoformat(first["expires_at"])
    ttl = timedelta(days=env.settings.binding.code_ttl_days)
    assert before + ttl - timedelta(seconds=5) <= expires <= before + ttl + timedelta(seconds=5)
    with env.ctx():
        rows = list(BindCode.select().order_by(BindCode.member))
        assert sorted(row.member_id for row in rows) == sorted([env.people["new"].id, newer.id])
        assert all(first["code"] not in row.code_hash for row in rows)  # only a hash is kept

    driver = make_driver(env.settings, env.server.url)
    reply = driver.send_text("oa-new", f"绑定 {first['code_display']}").reply
    assert reply.startswith("绑定成功") and "新党员" in reply
    token = env.token("mini-newer")
    r = env.api.post("/api/v1/bind", token=token, json={"code": issued["新党员二"]["code"]})
    assert r.status_code == 200 and r.json()["member"]["id"] == newer.id
    with env.ctx():
        bound = {(b.openid, b.member_id) for b in WechatBinding.select()}
    assert ("oa-new", env.people["new"].id) in bound and ("mini-newer", newer.id) in bound
    # Bound now: a second request refuses both.
    again = env.api.post(
        path, token=env.token("sec"), json={"member_ids": [env.people["new"].id, newer.id]}
    ).json()
    assert again["issued"] == [] and {x["reason"] for x in again["refused"]} == {"already_bound"}


def test_binding_codes_scope_and_validation(env: Env):
    path = "/api/v1/branch/binding-codes"
    b, x = env.branches["B"], env.branches["X"]
    with env.ctx():
        in_b = f.member("二支部新人", b)
        in_x = f.member("外单位新人", x)
    sec = env.token("sec")
    new = env.people["new"].id
    err(env.api.post(path, token=sec, json={"member_ids": [new, in_b.id]}), 404, "not_found")
    err(env.api.post(path, token=sec, json={"member_ids": [999999]}), 404, "not_found")
    err(env.api.post(path, token=env.token("m1"), json={"member_ids": [new]}), 403, "forbidden")
    assert "member_ids" in err(env.api.post(path, token=sec, json={}), 400, "missing_field")
    for bad in ([], ["1"], [0], [True], "1"):
        r = env.api.post(path, token=sec, json={"member_ids": bad})
        assert "member_ids" in err(r, 400, "invalid_field")
    r = env.api.post(path, token=sec, json={"member_ids": [new], "ttl": 1})
    assert "ttl" in err(r, 400, "unknown_field")
    with env.ctx():
        assert BindCode.select().count() == 0  # nothing issued by a refused request

    admin = env.token("admin")
    r = env.api.post(path, token=admin, json={"member_ids": [in_b.id], "branch_id": b.id})
    assert [i["member"]["name"] for i in r.json()["issued"]] == ["二支部新人"]
    r = env.api.post(path, token=admin, json={"member_ids": [in_x.id], "branch_id": x.id})
    err(r, 403, "forbidden")
    err(env.api.post(path, token=admin, json={"member_ids": [in_b.id]}), 404, "not_found")
    with env.ctx():
        assert [c.member_id for c in BindCode.select()] == [in_b.id]


def test_a_new_code_retires_the_earlier_one(env: Env):
    path = "/api/v1/branch/binding-codes"
    sec = env.token("sec")
    body = {"member_ids": [env.people["new"].id]}
    old = env.api.post(path, token=sec, json=body).json()["issued"][0]["code"]
    new = env.api.post(path, token=sec, json=body).json()["issued"][0]["code"]
    token = env.token("mini-new")
    err(env.api.post("/api/v1/bind", token=token, json={"code": old}), 400, "bind_code_invalid")
    assert env.api.post("/api/v1/bind", token=token, json={"code": new}).status_code == 200


# ---- unbind ---------------------------------------------------------------------------------


def test_unbind_removes_bindings_and_kills_tokens(env: Env):
    m1, m2 = env.people["m1"], env.people["m2"]
    m1_token = env.token("m1")
    other = env.token("m1")  # a second session of the same account
    assert env.api.get("/api/v1/me", token=m1_token).status_code == 200
    sec = env.token("sec")
    r = env.api.post(f"/api/v1/branch/members/{m1.id}/unbind", token=sec)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "member": {"id": m1.id, "name": "党员丙"},
        "bindings_removed": 1,
        "sessions_revoked": 2,
    }
    err(env.api.get("/api/v1/me", token=m1_token), 401, "token_revoked")
    err(env.api.get("/api/v1/study/me", token=other), 401, "token_revoked")
    with env.ctx():
        assert WechatBinding.select().where(WechatBinding.member == m1.id).count() == 0
        assert ApiSession.select().where(ApiSession.revoked_at.is_null(False)).count() == 2
    # Logging in again finds no member: the account must bind anew.
    assert env.login("mini-m1")["bound"] is False
    assert env.api.get("/api/v1/me", token=sec).status_code == 200  # others keep theirs

    # The official-account binding of m2 goes too: the bot asks them to bind.
    driver = make_driver(env.settings, env.server.url)
    assert driver.send_text("oa-m2", "学习 读党章").reply.startswith("学习打卡成功")
    r = env.api.post(f"/api/v1/branch/members/{m2.id}/unbind", token=sec)
    assert r.json()["bindings_removed"] == 1 and r.json()["sessions_revoked"] == 0
    assert "尚未绑定" in driver.send_text("oa-m2", "学习 又读党章").reply
    # Unbinding again changes nothing.
    r = env.api.post(f"/api/v1/branch/members/{m2.id}/unbind", token=sec)
    assert r.json()["bindings_removed"] == 0


def test_unbind_scope(env: Env):
    people = env.people

    def unbind(who: str, target: str | int, **kw: Any):
        member_id = target if isinstance(target, int) else people[target].id
        return env.api.post(
            f"/api/v1/branch/members/{member_id}/unbind", token=env.token(who), **kw
        )

    err(unbind("m1", "m2"), 403, "forbidden")
    err(unbind("secx", "m1"), 404, "not_found")
    err(unbind("secb", "m1"), 404, "not_found")
    err(unbind("admin", "mx"), 404, "not_found")
    err(unbind("sec", 999999), 404, "not_found")
    err(unbind("sec", "sec"), 422, "cannot_unbind_self")
    assert "force" in err(unbind("sec", "m1", json={"force": True}), 400, "unknown_field")
    with env.ctx():
        assert WechatBinding.select().count() == 8  # nothing removed so far
    assert unbind("admin", "mb").json()["bindings_removed"] == 1  # B: same committee
    with env.ctx():
        assert WechatBinding.select().where(WechatBinding.member == people["mb"].id).count() == 0


# ---- committee ------------------------------------------------------------------------------


def test_committee_branches_headlines_match_the_overview(env: Env):
    with env.ctx():
        busy_branch(env)
    path = "/api/v1/committee/branches"
    with time_machine.travel(NOW, tick=False):
        admin = env.token("admin")
        page = env.api.get(path, token=admin).json()
        a_view = env.api.get("/api/v1/branch/overview", token=admin).json()
        b_view = env.api.get(
            "/api/v1/branch/overview", token=admin, params={"branch_id": env.branches["B"].id}
        ).json()
        one = env.api.get(path, token=admin, params={"limit": 1, "offset": 1}).json()
    assert (page["total"], page["month"], page["as_of"]) == (2, "2026-11", "2026-11-26")
    assert [i["branch"]["name"] for i in page["items"]] == ["第一党支部", "第二党支部"]
    for item, view in zip(page["items"], (a_view, b_view), strict=True):
        assert item["study"] == {k: view["study"][k] for k in ("members", "participants", "rate")}
        assert item["alert_count"] == view["alerts"]["count"]
        for key in ("expected_fen", "expected_text", "collected_fen", "collected_text", "rate"):
            assert item["dues"][key] == view["dues"][key]
        kinds = view["meetings"]
        assert item["meetings"] == {
            "required": sum(k["required"] for k in kinds),
            "satisfied": sum(k["satisfied"] for k in kinds),
            "held": sum(k["held"] for k in kinds),
            "due": len(view["alerts"]["meetings_due"]["items"]),
            "overdue": sum(
                1 for d in view["alerts"]["meetings_due"]["items"] if d["status"] == "overdue"
            ),
        }
    a = page["items"][0]
    assert a["alert_count"] == 9 and a["meetings"]["held"] == 2 and a["study"]["rate"] == 0.25
    assert page["items"][1]["study"]["participants"] == 1  # 党员戊 checked in
    assert [i["branch"]["name"] for i in one["items"]] == ["第二党支部"] and one["total"] == 2


def test_committee_branches_access(env: Env):
    path = "/api/v1/committee/branches"
    for who in ("sec", "m1", "secx"):
        err(env.api.get(path, token=env.token(who)), 403, "forbidden")
    err(env.api.get(path, token=env.token("mini-stranger")), 403, "not_bound")
    admin = env.token("admin")
    r = env.api.get(path, token=admin, params={"branch_id": env.branches["X"].id})
    assert "branch_id" in err(r, 400, "unknown_field")
    assert "offset" in err(
        env.api.get(path, token=admin, params={"offset": -1}), 400, "invalid_field"
    )
    assert "外单位党支部" not in env.api.get(path, token=admin).text


def test_committee_branches_use_a_constant_number_of_queries(env: Env, monkeypatch):
    comm = env.branches["A"].committee
    made = 0

    def grow(total: int) -> None:
        nonlocal made
        with env.ctx():
            while 2 + made < total:  # A and B are there already
                made += 1
                br = f.branch(f"支部{made:02d}", comm)
                sec = f.member(f"书记{made}", br, roles="secretary")
                f.assess(sec, base_fen=500000, from_month=date(2026, 5, 1))
                m = f.member(f"党员{made}", br, created_at=NOW - timedelta(days=200))
                f.member(f"预备{made}", br, status="probationary", joined_on=date(2025, 12, 1))
                f.group(br, f"小组{made}")
                StudyCheckin.create(member=m, day=date(2026, 11, 2))
                meet(br, "committee", datetime(2026, 11, 3, 9, tzinfo=SH), present=[sec])
                dead_row(br, f"d{made}")

    def count() -> tuple[int, dict[str, Any]]:
        with time_machine.travel(NOW, tick=False):
            token = env.token("admin")
            with counting_queries(monkeypatch) as seen:
                r = env.api.get("/api/v1/committee/branches", token=token)
            assert r.status_code == 200, r.text
            return len(seen), r.json()

    grow(3)
    small, page = count()
    assert page["total"] == 3 and page["items"][2]["alert_count"] > 0
    grow(12)
    large, page = count()
    assert page["total"] == 12 and all(i["alert_count"] >= 4 for i in page["items"][2:])
    assert small == large, (small, large)


# ---- subscribe credits ----------------------------------------------------------------------


def test_subscribe_credit_lets_one_reminder_through(make_env):
    env = make_env(channels={"subscribe_template_id": TEMPLATE})
    m1 = env.people["m1"]
    token = env.token("m1")
    path = "/api/v1/subscribe/credits"
    assert env.api.get(path, token=token).json() == {"template_id": TEMPLATE, "credits": 0}
    # WeChat counts what the member accepted; give it room for two so only ours can stop one.
    env.fake.add_subscribe_credit("mini-m1", TEMPLATE, 2)
    r = env.api.post(path, token=token, json={"accepted": ["tpl-other", TEMPLATE, TEMPLATE]})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "template_id": TEMPLATE,
        "recorded": 1,
        "ignored": ["tpl-other"],
        "credits": 1,
    }
    with env.ctx():
        (row,) = SubscribeCredit.select()
        assert (row.openid, row.template_id, row.credits) == ("mini-m1", TEMPLATE, 1)
        outbox.enqueue("dues_personal", "member", m1.id, "first", {"text": "请交党费"},
                       branch_id=m1.branch_id, now=datetime.now(SH))  # fmt: skip
        assert drain_at(env.settings, max_seconds=2).sent == 1
        sent = OutboxMessage.get(OutboxMessage.period == "first")
        assert (sent.status, sent.channel) == ("sent", "subscribe")
    (message,) = env.fake.messages("subscribe", "mini-m1")
    assert message["body"]["template_id"] == TEMPLATE
    assert env.api.get(path, token=token).json()["credits"] == 0

    with env.ctx():
        outbox.enqueue("dues_personal", "member", m1.id, "second", {"text": "再交党费"},
                       branch_id=m1.branch_id, now=datetime.now(SH))  # fmt: skip
        report = drain_at(env.settings, max_seconds=2)
        assert report.sent == 0 and report.skipped == 1
        second = OutboxMessage.get(OutboxMessage.period == "second")
        assert second.status == "skipped" and "额度" in second.last_error
    assert len(env.fake.messages("subscribe", "mini-m1")) == 1
    assert env.fake.subscribe_credits("mini-m1", TEMPLATE) == 1  # WeChat would have allowed it


def test_subscribe_report_validation_and_access(make_env):
    env = make_env(channels={"subscribe_template_id": TEMPLATE})
    path = "/api/v1/subscribe/credits"
    token = env.token("m1")
    post = env.api.post
    assert "accepted" in err(post(path, token=token, json={}), 400, "missing_field")
    for bad in ("x", [1], [""], ["x" * 129], ["t"] * 21, {"a": 1}):
        assert "accepted" in err(
            post(path, token=token, json={"accepted": bad}), 400, "invalid_field"
        )
    assert "n" in err(post(path, token=token, json={"accepted": [], "n": 3}), 400, "unknown_field")
    err(post(path, token=token, data=b"nope"), 400, "invalid_json")
    err(
        post(path, token=env.token("mini-stranger"), json={"accepted": [TEMPLATE]}),
        403,
        "not_bound",
    )
    err(post(path, json={"accepted": [TEMPLATE]}), 401, "unauthorized")
    err(env.api.get(path, token=token, params={"all": "1"}), 400, "unknown_field")
    r = post(path, token=token, json={"accepted": []})  # all rejected: nothing to record
    assert r.json() == {"template_id": TEMPLATE, "recorded": 0, "ignored": [], "credits": 0}
    with env.ctx():
        assert SubscribeCredit.select().count() == 0
    # Each report adds one: the member accepted again.
    for expected in (1, 2):
        assert post(path, token=token, json={"accepted": [TEMPLATE]}).json()["credits"] == expected
    other = env.token("sec")
    assert env.api.get(path, token=other).json()["credits"] == 0  # credits are the member's own


def test_subscribe_report_without_a_configured_template_records_nothing(env: Env):
    path = "/api/v1/subscribe/credits"
    token = env.token("m1")
    r = env.api.post(path, token=token, json={"accepted": ["tpl-any"]})
    assert r.json() == {"template_id": None, "recorded": 0, "ignored": ["tpl-any"], "credits": 0}
    assert env.api.get(path, token=token).json() == {"template_id": None, "credits": 0}
    with env.ctx():
        assert SubscribeCredit.select().count() == 0
