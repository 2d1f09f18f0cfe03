"""Rectification lists in process: raising items with per-branch numbers, owners (a member or
a role), done, verified or sent back, every refusal's words; the owners' reminders on their
pinned days; the overdue lines of the secretary's and the committee admin's digests."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import rectification as r
from handlers import reminders
from handlers.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from handlers.outbox import enqueue_many
from models.audit import AuditEntry
from models.outbox import OutboxMessage
from models.rectification import RectificationItem, RectificationNote
from tests import factories as f
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 1, 10, 0, tzinfo=SH)
DEADLINE = date(2026, 9, 30)


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=SH)


@pytest.fixture
def org(conn: Any) -> dict[str, Any]:
    committee = f.committee("测试党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    return {
        "a": a,
        "b": b,
        "sec": f.member("王书记", a, roles="secretary"),
        "org": f.member("李组织", a, roles="organizer"),
        "org2": f.member("周组织", a, roles="organizer,propaganda"),
        "m1": f.member("张党员", a),
        "m2": f.member("刘党员", a),
        "secb": f.member("赵书记", b, roles="secretary"),
        "orgb": f.member("孙组织", b, roles="organizer"),
        "admin": f.member("钱管理员", b, roles="committee_admin"),
    }


def raise_item(org: dict[str, Any], settings: Any, who: str = "sec", **fields: Any) -> r.ItemView:
    values = {
        "kind": "problem",
        "source": "life_meeting",
        "problem": "学习制度执行不严格",
        "measure": "修订学习制度，每月检查",
        "owner_id": org["m1"].id,
        "deadline": DEADLINE,
        **fields,
    }
    branch_id = values.pop("branch_id", org["a"].id)
    return r.create_item(org[who], branch_id, now=NOW, settings=settings, **values)


def refusal(expected: type[DomainError], fn: Any, /, *args: Any, **kw: Any) -> DomainError:
    with pytest.raises(expected) as caught:
        fn(*args, **kw)
    return caught.value


# ---- raising items ---------------------------------------------------------------------------


def test_items_are_numbered_per_branch_and_recorded_in_the_audit_log(org, settings):
    first = raise_item(org, settings).item
    second = raise_item(org, settings, kind="task", owner_id=None, owner_role="organizer").item
    other = raise_item(org, settings, who="secb", branch_id=org["b"].id, owner_id=org["orgb"].id)
    assert (first.number, second.number, other.item.number) == (1, 2, 1)
    assert (first.status, first.raised_by, first.owner_role) == ("open", "branch", "")
    entry = AuditEntry.select().where(AuditEntry.target == f"rectification:{first.id}").get()
    assert entry.action == "rectification.create" and entry.actor_id == org["sec"].id
    assert entry.summary == "新增整改事项：【编号1】问题清单：学习制度执行不严格"
    assert json.loads(entry.after)["deadline"] == "2026-09-30"


def test_a_committee_admin_raises_items_for_the_committee(org, settings):
    view = raise_item(org, settings, who="admin")
    assert view.item.raised_by == "committee" and view.item.branch_id == org["a"].id
    # A branch manager may not change it; the committee admin may.
    message = refusal(
        Forbidden,
        r.change_item,
        org["sec"],
        view.item.id,
        deadline=date(2026, 10, 9),
        now=NOW,
        settings=settings,
    ).message
    assert message == "这项整改由党委提出，只能由党委管理员修改。"
    changed = r.change_item(
        org["admin"], view.item.id, deadline=date(2026, 10, 9), now=NOW, settings=settings
    )
    assert changed.item.deadline == date(2026, 10, 9)


@pytest.mark.parametrize(
    ("fields", "kind", "message"),
    [
        ({"problem": "  "}, Invalid, "请填写问题。"),
        ({"problem": "问" * 501}, Invalid, "问题最多 500 字，本次 501 字，未保存。"),
        ({"measure": "措" * 1001}, Invalid, "整改措施最多 1000 字，本次 1001 字，未保存。"),
        ({"kind": "plan"}, Invalid, "清单类别应为以下之一：问题清单、任务清单、责任清单。"),
        ({"source": "x"}, Invalid, "来源应为以下之一：上级检查、巡察、组织生活会、自查。"),
        (
            {"owner_id": None},
            Invalid,
            "请指定责任人：本支部的一名党员，或一个职务（如书记、组织委员）。",
        ),
        ({"owner_role": "secretary"}, Invalid, "责任人只能是一名党员或一个职务，不能同时指定。"),
        ({"owner_id": None, "owner_role": "committee_admin"}, Invalid, "责任职务应为以下之一"),
    ],
)
def test_a_bad_field_is_refused_saying_which(org, settings, fields, kind, message):
    assert message in refusal(kind, raise_item, org, settings, **fields).message
    assert RectificationItem.select().count() == 0


def test_an_owner_from_another_branch_and_a_plain_member_are_refused(org, settings):
    wrong = refusal(DomainError, raise_item, org, settings, owner_id=org["secb"].id)
    assert wrong.errcode == "owner_not_in_branch"
    assert wrong.message.startswith(f"第一党支部没有编号为 {org['secb'].id} 的党员")
    assert (
        refusal(Forbidden, raise_item, org, settings, who="m1").message == "没有权限进行此操作。"
    )
    other = refusal(Forbidden, raise_item, org, settings, who="secb")
    assert other.message == "没有权限进行此操作。"
    settings.rectification.problem_max_chars = 10
    assert (
        "问题最多 10 字" in refusal(Invalid, raise_item, org, settings, problem="问" * 11).message
    )
    assert RectificationItem.select().count() == 0


# ---- done, verified, sent back ---------------------------------------------------------------


def test_the_owner_marks_done_and_the_secretary_verifies(org, settings):
    item = raise_item(org, settings).item
    done = r.mark_done_by_number(org["m1"], 1, "已修订制度并公示", now=NOW, settings=settings)
    assert (done.item.status, done.item.done_on) == ("done", NOW.date())
    organizer = refusal(
        Forbidden, r.verify_item, org["org"], item.id, True, now=NOW, settings=settings
    )
    assert organizer.message == "只有支部书记可以验收本支部提出的整改事项。"
    verified = r.verify_item(org["sec"], item.id, True, now=NOW, settings=settings)
    assert verified.item.status == "verified" and verified.verified_by.name == "王书记"
    notes = [(n.kind, n.text) for n in RectificationNote.select().order_by(RectificationNote.id)]
    assert notes == [("done", "已修订制度并公示"), ("verified", "验收通过")]
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert actions == ["rectification.create", "rectification.verify"]  # the owner's act is not


def test_a_refused_verification_sends_the_item_back_with_its_reason(org, settings):
    item = raise_item(org, settings).item
    r.mark_done(org["m1"], item.id, "已修订制度", now=NOW, settings=settings)
    no_reason = refusal(
        Invalid, r.verify_item, org["sec"], item.id, False, now=NOW, settings=settings
    )
    assert no_reason.message == "请写明验收未通过的原因，以便责任人继续整改。"
    back = r.verify_item(org["sec"], item.id, False, "未见公示材料", now=NOW, settings=settings)
    assert (back.item.status, back.item.done_on, back.item.done_at) == ("in_progress", None, None)
    entry = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert entry.action == "rectification.refuse"
    assert json.loads(entry.after) == {"status": "in_progress", "reason": "未见公示材料"}
    assert json.loads(entry.before) == {"status": "done"}
    detail = r.item_detail(org["m1"], item.id, now=NOW, settings=settings)
    assert [(n.note.kind, n.note.text) for n in detail.notes][-1] == ("refused", "未见公示材料")
    again = r.mark_done(org["m1"], item.id, "已补充公示照片", now=NOW, settings=settings)
    assert again.item.status == "done"


def test_the_owner_is_told_when_the_item_comes_back_and_why(org, settings):
    named = raise_item(org, settings).item
    by_role = raise_item(org, settings, owner_id=None, owner_role="organizer").item
    r.mark_done(org["m1"], named.id, "已修订制度", now=NOW, settings=settings)
    r.move_status(org["sec"], by_role.id, "done", "已整理台账", now=NOW, settings=settings)
    r.verify_item(org["sec"], named.id, True, now=NOW, settings=settings)
    assert not OutboxMessage.select().where(OutboxMessage.kind == "rectification_refused").count()
    later = NOW + timedelta(hours=2)
    r.verify_item(org["sec"], by_role.id, False, "台账缺少签字", now=later, settings=settings)
    sent = list(
        OutboxMessage.select()
        .where(OutboxMessage.kind == "rectification_refused")
        .order_by(OutboxMessage.target_id)
    )
    # every organizer of the branch, no one of the other branch, nobody else
    assert [(m.target_type, m.target_id) for m in sent] == [
        ("member", org["org"].id),
        ("member", org["org2"].id),
    ]
    text = json.loads(sent[0].payload)["text"]
    assert text.startswith("李组织同志，您负责的整改事项【编号2】问题清单未通过支部书记验收")
    assert "原因：台账缺少签字" in text and "完成 2 完成情况" in text


def test_a_send_back_that_is_refused_tells_nobody(org, settings):
    item = raise_item(org, settings).item  # not done yet: nothing to send back
    no = refusal(
        DomainError, r.verify_item, org["sec"], item.id, False, "理由", now=NOW, settings=settings
    )
    assert no.errcode == "not_done"
    assert not OutboxMessage.select().count()


def test_a_committee_item_is_verified_by_a_committee_admin_only(org, settings):
    item = raise_item(org, settings, who="admin").item
    r.mark_done(org["m1"], item.id, "已整改", now=NOW, settings=settings)
    sec = refusal(Forbidden, r.verify_item, org["sec"], item.id, True, now=NOW, settings=settings)
    assert sec.message == "这项整改由党委提出，须由党委管理员验收。"
    assert r.verify_item(org["admin"], item.id, True, now=NOW, settings=settings).item.closed


def test_every_refusal_of_done_and_verify_says_what_is_wrong(org, settings):
    item = raise_item(org, settings).item
    role_item = raise_item(org, settings, owner_id=None, owner_role="organizer").item
    missing = refusal(
        NotFound, r.mark_done_by_number, org["m1"], 9, "x", now=NOW, settings=settings
    )
    assert missing.message == "本支部没有编号为 9 的整改事项。"
    assert "发送“清单”" in missing.chat_hint
    not_mine = refusal(
        Forbidden, r.mark_done_by_number, org["m2"], 1, "x", now=NOW, settings=settings
    )
    assert not_mine.message == (
        "编号 1 的整改事项不由您负责（责任人：张党员），只有责任人可以标记完成。"
    )
    assert not_mine.errcode == "not_owner"
    no_note = refusal(
        Invalid, r.mark_done_by_number, org["m1"], 1, " ", now=NOW, settings=settings
    )
    assert no_note.message == "请写明完成情况：做了什么，有哪些材料可以佐证。"
    not_done = refusal(
        DomainError, r.verify_item, org["sec"], item.id, True, now=NOW, settings=settings
    )
    assert not_done.message == "编号 1 的整改事项待整改，责任人标记完成后才能验收。"
    # Any organizer of the branch owns the role's item; another branch's organizer does not.
    r.mark_done_by_number(org["org2"], role_item.number, "已完成", now=NOW, settings=settings)
    twice = refusal(
        Conflict, r.mark_done_by_number, org["org"], 2, "再次", now=NOW, settings=settings
    )
    assert twice.message == "编号 2 的整改事项已于 2026年9月1日 标记完成，等待支部书记验收。"
    assert twice.errcode == "already_done"
    r.verify_item(org["sec"], role_item.id, True, now=NOW, settings=settings)
    closed = refusal(
        Conflict, r.mark_done_by_number, org["org"], 2, "x", now=NOW, settings=settings
    )
    assert closed.message == "编号 2 的整改事项已验收，无需再处理。"
    verified = refusal(
        Conflict, r.verify_item, org["sec"], role_item.id, True, now=NOW, settings=settings
    )
    assert verified.message == "编号 2 的整改事项已验收。"
    note = refusal(
        Conflict, r.add_note, org["sec"], role_item.id, "补充", now=NOW, settings=settings
    )
    assert note.message == "编号 2 的整改事项已验收，不能再添加记录。"
    hidden = refusal(NotFound, r.item_detail, org["secb"], item.id, now=NOW, settings=settings)
    assert hidden.message == "请求的资源不存在，或您无权查看。"


def test_the_rest_of_the_refusals_say_what_is_wrong(org, settings):
    item = raise_item(org, settings).item
    moved = refusal(
        Invalid, r.move_status, org["sec"], item.id, "verified", now=NOW, settings=settings
    )
    assert moved.message == "状态只能改为：整改中（in_progress）或已完成（done）。"
    note = refusal(
        Forbidden, r.add_note, org["m2"], item.id, "我来补充", now=NOW, settings=settings
    )
    assert note.message == "没有权限进行此操作。"
    detail = refusal(Forbidden, r.item_detail, org["m2"], item.id, now=NOW, settings=settings)
    assert detail.message == "没有权限进行此操作。"
    assert (
        r.add_note(org["m1"], item.id, "已起草", now=NOW, settings=settings).author.name
        == "张党员"
    )
    too_long = refusal(
        Invalid, r.add_note, org["m1"], item.id, "记" * 501, now=NOW, settings=settings
    )
    assert too_long.message == "说明最多 500 字，本次 501 字，未保存。"
    r.mark_done(org["m1"], item.id, "已完成", now=NOW, settings=settings)
    r.verify_item(org["sec"], item.id, True, "材料齐全", now=NOW, settings=settings)
    changed = refusal(
        Conflict, r.change_item, org["sec"], item.id, measure="再改", now=NOW, settings=settings
    )
    assert changed.message == "编号 1 的整改事项已验收，不能再修改。"
    started = refusal(
        Conflict, r.move_status, org["sec"], item.id, "in_progress", now=NOW, settings=settings
    )
    assert started.message == "编号 1 的整改事项已验收，无需再处理。"
    assert RectificationNote.select().where(RectificationNote.kind == "verified").get().text == (
        "材料齐全"
    )


def test_of_two_people_acting_at_once_the_second_is_told(org, settings, monkeypatch):
    from handlers.rectification import base

    item = raise_item(org, settings, owner_id=None, owner_role="organizer").item
    stale = base.find_item(item.id)  # read before the other organizer's 完成 commits
    r.mark_done(org["org"], item.id, "已完成", now=NOW, settings=settings)
    monkeypatch.setattr(base, "find_item", lambda _id: stale)
    late = refusal(
        Conflict, r.mark_done, org["org2"], item.id, "我也完成了", now=NOW, settings=settings
    )
    assert late.message == "编号 1 的整改事项刚刚已被他人处理，请刷新后查看。"
    assert RectificationNote.select().count() == 1


def test_managers_move_items_on_and_members_see_their_own(org, settings):
    mine = raise_item(org, settings).item
    raise_item(org, settings, owner_id=org["m2"].id)
    role_item = raise_item(org, settings, owner_id=None, owner_role="organizer").item
    started = r.move_status(
        org["org"], mine.id, "in_progress", "已开始", now=NOW, settings=settings
    )
    assert started.item.status == "in_progress"
    again = refusal(
        Conflict, r.move_status, org["sec"], mine.id, "in_progress", now=NOW, settings=settings
    )
    assert again.message == "编号 1 的整改事项已在整改中。"
    member = refusal(
        Forbidden, r.move_status, org["m1"], mine.id, "done", "x", now=NOW, settings=settings
    )
    assert member.message.startswith("只有支部书记、副书记、组织委员或党委管理员")
    page = r.my_items(org["m1"], now=NOW, settings=settings, limit=20, offset=0)
    assert [v.item.number for v in page.items] == [1] and page.items[0].days_left == 29
    holders = r.my_items(org["org2"], now=NOW, settings=settings, limit=20, offset=0)
    assert [v.item.id for v in holders.items] == [role_item.id]
    assert r.my_items(org["orgb"], now=NOW, settings=settings, limit=20, offset=0).total == 0


def test_the_committee_counts_open_overdue_and_closed_on_time_per_branch(org, settings):
    late = raise_item(org, settings, deadline=date(2026, 8, 20)).item
    on_time = raise_item(org, settings).item
    raise_item(org, settings)
    r.mark_done(org["m1"], on_time.id, "按期完成", now=NOW, settings=settings)
    counts = r.committee_counts(org["a"].committee_id, NOW.date())
    assert counts[org["a"].id] == r.BranchCounts(org["a"].id, 2, 1, 1, 0)
    assert counts[org["b"].id] == r.BranchCounts(org["b"].id, 0, 0, 0, 0)
    r.mark_done(org["m1"], late.id, "逾期完成", now=NOW, settings=settings)
    assert r.committee_counts(org["a"].committee_id, NOW.date())[org["a"].id].closed_late == 1


# ---- reminders on their days -----------------------------------------------------------------


def reminded(settings: Any, day: date) -> list[Any]:
    return reminders.rectification_reminders(at_nine(day), settings)


def test_owners_are_reminded_7_days_and_1_day_before_and_on_no_other_day(org, settings):
    item = raise_item(org, settings).item
    days = {}
    for n in range(-2, 12):
        day = DEADLINE - timedelta(days=n)
        days[n] = [(x.target_id, x.period) for x in reminded(settings, day)]
    assert days[7] == [(org["m1"].id, f"{item.id}:2026-09-23")]
    assert days[1] == [(org["m1"].id, f"{item.id}:2026-09-29")]
    assert all(not rows for n, rows in days.items() if n not in (7, 1)), days
    (row,) = reminded(settings, date(2026, 9, 29))
    text = row.payload["text"]
    assert text.startswith(
        "张党员同志，您负责的整改事项【编号1】问题清单将于明天（2026年9月30日）"
    )
    assert "完成后请发送“完成 1 完成情况”，由书记验收。" in text
    assert "7 天后" in reminded(settings, date(2026, 9, 23))[0].payload["text"]


def test_a_role_owned_item_reminds_every_holder_in_the_branch_once_a_day(org, settings):
    item = raise_item(org, settings, owner_id=None, owner_role="organizer").item
    day = date(2026, 9, 23)
    rows = reminded(settings, day)
    assert sorted(x.target_id for x in rows) == sorted([org["org"].id, org["org2"].id])
    assert enqueue_many(rows, now=at_nine(day)) == 2
    assert enqueue_many(reminded(settings, day), now=at_nine(day)) == 0  # a second run that day
    assert OutboxMessage.select().where(OutboxMessage.kind == "rectification_due").count() == 2
    r.mark_done(org["org"], item.id, "已完成", now=NOW, settings=settings)
    assert reminded(settings, date(2026, 9, 29)) == []  # not after done


def test_the_reminder_days_are_settings(org, settings):
    raise_item(org, settings)
    settings.rectification.remind_first_days = 3
    settings.rectification.remind_last_days = 2
    assert reminded(settings, date(2026, 9, 23)) == []
    assert len(reminded(settings, date(2026, 9, 27))) == 1
    assert len(reminded(settings, date(2026, 9, 28))) == 1


# ---- the digests -----------------------------------------------------------------------------


def lines_of(settings: Any, branch_id: int, day: date) -> list[str]:
    found = reminders.secretary_alerts(at_nine(day), settings, branch_id=branch_id)
    alerts = found.get(branch_id) or reminders.BranchAlerts(branch_id)
    return [x for x in reminders.digest_lines(alerts, day, settings) if x.startswith("整改")]


def test_an_overdue_item_is_a_line_in_the_secretarys_digest(org, settings):
    item = raise_item(org, settings).item
    raise_item(org, settings, owner_id=org["m2"].id, deadline=date(2026, 12, 1))
    assert lines_of(settings, org["a"].id, DEADLINE) == []  # due today: not overdue yet
    day = date(2026, 10, 3)
    assert lines_of(settings, org["a"].id, day) == [
        "整改：【编号1】问题清单已逾期 3 天（截止 9月30日），请督促责任人完成"
    ]
    digests = {
        x.target_id: x.payload["text"] for x in reminders.secretary_digests(at_nine(day), settings)
    }
    assert "整改：【编号1】问题清单已逾期 3 天" in digests[org["sec"].id]
    assert "整改" not in digests.get(org["secb"].id, "")
    r.mark_done(org["m1"], item.id, "已完成", now=at_nine(day), settings=settings)
    assert lines_of(settings, org["a"].id, day) == [  # no longer overdue: now to verify
        "整改验收：编号1共 1 项已标记完成，等待您验收（控制台“整改清单”）"
    ]


def test_done_items_waiting_for_verification_are_a_line_in_the_secretarys_digest(org, settings):
    first = raise_item(org, settings, deadline=date(2026, 12, 1)).item
    second = raise_item(org, settings, owner_id=org["m2"].id, deadline=date(2026, 12, 1)).item
    raise_item(org, settings, who="admin", owner_id=org["m1"].id, deadline=date(2026, 12, 1))
    day = date(2026, 9, 10)
    assert lines_of(settings, org["a"].id, day) == []
    r.mark_done(org["m2"], second.id, "已完成", now=at_nine(date(2026, 9, 3)), settings=settings)
    r.mark_done(org["m1"], first.id, "已完成", now=at_nine(date(2026, 9, 5)), settings=settings)
    r.mark_done_by_number(org["m1"], 3, "已完成", now=at_nine(day), settings=settings)
    # the committee's item waits on the committee, not on the secretary
    assert lines_of(settings, org["a"].id, day) == [
        "整改验收：编号2、编号1共 2 项已标记完成，等待您验收（控制台“整改清单”）"
    ]
    r.verify_item(org["sec"], first.id, True, now=at_nine(day), settings=settings)
    r.verify_item(org["sec"], second.id, False, "缺材料", now=at_nine(day), settings=settings)
    assert lines_of(settings, org["a"].id, day) == []


def test_more_than_five_overdue_items_are_counted_after_the_fifth(org, settings):
    for _ in range(7):
        raise_item(org, settings, deadline=date(2026, 9, 2))
    lines = lines_of(settings, org["a"].id, date(2026, 9, 10))
    assert len(lines) == 6 and lines[-1] == "整改：另有 2 项整改事项逾期未完成"


def committee_lines(settings: Any, day: date) -> dict[int, list[str]]:
    rows = reminders.committee_digests(at_nine(day), settings)
    return {
        x.target_id: [ln for ln in x.payload["text"].splitlines() if "整改" in ln] for x in rows
    }


def test_the_committee_admin_hears_of_items_overdue_14_days_as_counts_per_branch(org, settings):
    raise_item(org, settings)
    raise_item(org, settings, owner_id=org["m2"].id)
    raise_item(org, settings, who="secb", branch_id=org["b"].id, owner_id=org["orgb"].id)
    assert committee_lines(settings, date(2026, 10, 13)).get(org["admin"].id, []) == []
    lines = committee_lines(settings, date(2026, 10, 14))[org["admin"].id]
    assert lines == [
        "· 整改：第一党支部 2 项、第二党支部 1 项整改事项逾期 14 天以上未完成，请督促"
    ]
    assert "张党员" not in lines[0] and "孙组织" not in lines[0]
    settings.rectification.committee_overdue_days = 20
    assert committee_lines(settings, date(2026, 10, 14)).get(org["admin"].id, []) == []


def test_the_digest_reads_overdue_items_in_a_constant_number_of_queries(
    org, settings, monkeypatch
):
    def count(n: int) -> int:
        for i in range(n):
            branch = f.branch(f"支部{n}-{i}", org["a"].committee)
            sec = f.member(f"书记{n}-{i}", branch, roles="secretary")
            r.create_item(
                sec,
                branch.id,
                kind="task",
                source="patrol",
                problem="问题",
                owner_id=sec.id,
                deadline=date(2026, 9, 2),
                now=NOW,
                settings=settings,
            )
        with counting_queries(monkeypatch) as seen:
            reminders.secretary_digests(at_nine(date(2026, 9, 10)), settings)
            reminders.committee_digests(at_nine(date(2026, 9, 20)), settings)
            reminders.rectification_reminders(at_nine(date(2026, 9, 1)), settings)
        return len(seen)

    assert count(2) == count(12)


# ---- the demo ---------------------------------------------------------------------------------


def test_the_demo_branch_has_one_item_of_each_list_one_overdue(conn, settings):
    from handlers.demo import DEMO_PHONE, seed
    from models.org import Member

    seed(settings)
    seed(settings)  # idempotent
    today = datetime.now(SH).date()
    rows = list(RectificationItem.select().order_by(RectificationItem.number))
    assert [(x.number, x.kind) for x in rows] == [(1, "problem"), (2, "task"), (3, "duty")]
    assert {x.branch.name for x in rows} == {"第一党支部"}
    assert [x.deadline < today for x in rows] == [False, False, True]
    assert rows[1].owner_id == Member.get(Member.phone == DEMO_PHONE).id
    assert rows[0].owner_role == "organizer"
    demo = Member.get(Member.phone == DEMO_PHONE)
    mine = r.my_items(demo, now=datetime.now(SH), settings=settings, limit=20, offset=0)
    assert [v.item.number for v in mine.items] == [2]
