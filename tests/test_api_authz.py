"""Who may call what: every documented /api/v1 operation, walked over real HTTP as each caller.

The table ``ROUTES`` names, for every operation of the OpenAPI document, a request aimed at
branch A's resources (valid ids and a valid body, made afresh through the handlers the other
tests use) and its audience. Each test walks every route as one caller and checks:

- no token or a forged, expired or revoked token → 401 on every route but the public ones;
- an account not bound to a member → 403 not_bound (binding itself is open to it);
- a caller outside the audience → 403 or 404 (or the route's own refusal), never 2xx, and the
  database is exactly as before (every table but the rate counters), and the row the call
  would change is unchanged;
- a caller who cannot see branch A gets the same answer for an A id as for an id that does
  not exist (404: existence does not leak); a branch_id naming a branch the caller may not act
  for answers 403;
- a caller inside the audience gets a 2xx, and the row the call changes did change;
- no answer names a branch or a person the caller may not see.

A route added to the document without an entry here fails
test_every_documented_operation_is_in_the_table.

Tokens (missing, forged, expired, revoked) are walked as callers; tests/test_api.py checks the
token of an account that binds afterwards. The last tests check that a branch manager cannot
unbind, or issue a binding code for, a member holding powers the manager lacks: with such a
code a second WeChat account of the manager would act with those powers.
"""

from __future__ import annotations

import csv
import io
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from docx import Document
from itsdangerous import URLSafeTimedSerializer
from openpyxl import load_workbook

from api.auth import TOKEN_SALT
from api.openapi import document
from handlers import development as d
from handlers import meetings as h
from handlers import rectification as r
from handlers import volunteer as v
from handlers.dues import add_months, record_payment, report_payment
from handlers.membership import leave_member
from handlers.pay import book_transaction, request_payment
from handlers.reports.roster import roster_rows
from handlers.sessions import revoke_member_sessions
from handlers.study.editing import add_topic
from models.api import ApiSession
from models.development import DevelopmentRecord
from models.dues import DuesPayment, DuesReport
from models.meetings import Attendance, Meeting
from models.org import Member
from models.organization import BranchTerm, ContactOutcome
from models.outbox import SubscribeCredit
from models.pay import PayOrder, PayRefund
from models.privacy import ExportLink
from models.rectification import RectificationItem, RectificationNote
from models.registry import ALL_MODELS
from models.study import StudyCheckin, StudyTopic
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from models.wechat import BindCode, RateEvent, WechatBinding
from tests import factories as f
from tests.support.api import CAST, Env
from tests.support.pay import merchant

SH = ZoneInfo("Asia/Shanghai")
TEMPLATE = "tpl-authz"
GHOST = 999_999  # an id no row has
BASE_FEN = 800_000  # 8,000.00 a month in service: 120.00 of dues
MONTHLY = 12_000
PREFIX = "/api/v1"

# The callers each walk runs as. "admin_via_x" is the committee admin naming branch X (another
# committee) in branch_id: it walks only the routes that take a branch_id.
CALLERS = (
    "anonymous",
    "garbage",
    "foreign_key",
    "expired",
    "revoked",
    "stranger",
    "m1",
    "mb",
    "secb",
    "secx",
    "org",
    "collector",
    "admin",
    "sec",
    "admin_via_x",
)
# Besides the cast of tests/support/api.py, two members of A with a single role each: an organizer
# (manages meetings and the branch, not dues) and a dues collector (dues only).
EXTRA = {"org": ("组织委员甲", "organizer"), "collector": ("收缴员甲", "dues_collector")}
# The branches (tests/support/api.py keys) whose names and people each caller may see.
SEES = {
    "stranger": "A",  # once it binds to a member of A
    "m1": "A",
    "org": "A",
    "collector": "A",
    "sec": "A",
    "admin": "AB",
    "admin_via_x": "AB",
    "mb": "B",
    "secb": "B",
    "secx": "X",
}
IN_A = ("m1", "org", "collector", "sec", "admin")
# Who is inside each manager audience (models.org.BRANCH_MANAGERS / handlers.dues.DUES_ROLES,
# and the committee admin for every branch of the committee).
ALLOWED = {
    "manager_of_a": ("org", "sec", "admin"),
    "collector_of_a": ("collector", "sec", "admin"),
    "secretary_of_a": ("sec", "admin"),
    "owner_m1": ("m1",),
    "own_managers_of_a": ("org", "sec"),
}


# ---- the world each walk starts from --------------------------------------------------------


@dataclass
class Call:
    """One request, when to send it, and how to tell whether it changed what it aims at."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    at: datetime | None = None  # default: the walk's NOW
    # Reads (inside a DB context) the rows the call changes when it is allowed.
    effect: Callable[[], Any] | None = None
    # Checks a 2xx answer: (body, the caller's member id or None).
    check: Callable[[Any, int | None], None] | None = None
    # The same call naming ids that do not exist (for routes addressed by id).
    ghost: Call | None = None


class World:
    """A live env plus data builders; every builder goes through the handlers."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.settings = env.settings
        self.people = dict(env.people)
        self.a, self.b, self.x = (env.branches[k] for k in "ABX")
        self.sec = env.people["sec"]
        self.now = (datetime.now(SH) + timedelta(minutes=2)).replace(second=0, microsecond=0)
        first = date(self.now.year, self.now.month, 1)
        self.month0 = add_months(first, -3)  # every party member owes from here on
        self.month0_text = f"{self.month0:%Y-%m}"
        self._slots = itertools.count()
        self._seq = itertools.count(1)
        with env.ctx():
            for key, (name, roles) in EXTRA.items():
                self.people[key] = f.member(name, self.a, roles=roles)
                f.bound(self.people[key], f"mini-{key}", app="mini")
            for person in self.people.values():
                f.assess(person, base_fen=BASE_FEN, from_month=self.month0)

    # time and the database

    def at(self, moment: datetime | None = None) -> Any:
        return time_machine.travel(moment or self.now, tick=False)

    def read(self, fn: Callable[[], Any]) -> Any:
        with self.env.ctx():
            return fn()

    def db_state(self) -> dict[str, list[str]]:
        """Every row of every table but the rate counters (a refused sign-in code is counted)."""
        with self.env.ctx():
            return {
                m._meta.table_name: sorted(repr(row) for row in m.select().tuples())
                for m in ALL_MODELS
                if m is not RateEvent
            }

    def send(self, call: Call, token: str | None) -> requests.Response:
        kw: dict[str, Any] = {}
        if call.params is not None:
            kw["params"] = call.params
        if call.json is not None:
            kw["json"] = call.json
        with self.at(call.at):
            return self.env.api.call(call.method, call.path, token=token, **kw)

    # builders

    def slot(self) -> datetime:
        """A meeting start no other meeting's sign-in window comes near."""
        return self.now + timedelta(days=1, hours=4 * next(self._slots))

    def meeting(self, *, opened: bool = False) -> tuple[Meeting, datetime]:
        """A lesson of branch A scheduled by its secretary (sign-in code opened at its start)."""
        start = self.slot()
        with self.env.ctx():
            meeting = h.create_meeting(
                self.sec,
                kind="lesson",
                start=start,
                end=None,
                title="学习党章",
                place="三楼会议室",
                branch=self.a,
                now=self.now,
                settings=self.settings,
            )
            if opened:
                meeting = h.open_signin(self.sec, meeting.id, now=start, settings=self.settings)
        return meeting, start

    def leave(self, meeting: Meeting) -> Attendance:
        with self.env.ctx():
            return h.ask_leave(
                self.people["m1"], "出差在外", meeting.id, now=self.now, settings=self.settings
            )

    def subject(self, *, bound: bool = False) -> tuple[Member, str | None]:
        """A fresh party member of A who owes dues from month0 (bound to a mini openid)."""
        n = next(self._seq)
        openid = f"mini-subject-{n}" if bound else None
        with self.env.ctx():
            person = f.member(f"对象{n}号", self.a)
            f.assess(person, base_fen=BASE_FEN, from_month=self.month0)
            if openid:
                f.bound(person, openid, app="mini")
        return person, openid

    def report(self, person: Member) -> DuesReport:
        with self.env.ctx():
            report, _ = report_payment(
                person, MONTHLY, [self.month0], now=self.now, settings=self.settings
            )
        return report

    def payment(self, person: Member) -> DuesPayment:
        with self.env.ctx():
            return record_payment(
                self.sec, person, MONTHLY, [self.month0], now=self.now, settings=self.settings
            ).payment

    def wx_payment(self, person: Member) -> DuesPayment:
        """A payment of month0 made with WeChat Pay: paid at the fake, booked as notified."""
        fake = self.env.fake
        with self.env.ctx():
            no = request_payment(
                person, f"mini-wx-{person.id}", [self.month0], now=self.now,
                settings=self.settings,
            ).order.out_trade_no  # fmt: skip
        fake.pay(no, notify=False)
        data = fake.transaction(fake.pay_order(no))
        with self.env.ctx():
            booked = book_transaction(no, data, now=self.now, settings=self.settings)
        assert booked.payment is not None
        return booked.payment

    def token(self, who: str, at: datetime | None = None) -> str:
        with self.at(at):
            return self.env.token(who)


# ---- reading rows and answers ---------------------------------------------------------------


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


def _attendance(meeting_id: int) -> list[tuple[Any, ...]]:
    return sorted(
        Attendance.select(Attendance.member, Attendance.status, Attendance.leave_status)
        .where(Attendance.meeting == meeting_id)
        .tuples()
    )


def _meeting_field(meeting_id: int, name: str) -> Callable[[], Any]:
    return lambda: getattr(Meeting.get_by_id(meeting_id), name)


def _is(expected: Any, *path: str) -> Callable[[Any, int | None], None]:
    """A check that body[path...] equals expected."""

    def check(body: Any, _me: int | None) -> None:
        for key in path:
            body = body[key]
        assert body == expected, (path, body, expected)

    return check


def _lists(expected: int, key: str = "items") -> Callable[[Any, int | None], None]:
    def check(body: Any, _me: int | None) -> None:
        assert expected in _ids(body[key]), (expected, body[key])

    return check


def _mine(*path: str) -> Callable[[Any, int | None], None]:
    """The answer is about the caller: body[path...] is their member id."""

    def check(body: Any, me: int | None) -> None:
        for key in path:
            body = body[key]
        assert body == me, (path, body, me)

    return check


# ---- the table: one builder per documented operation ----------------------------------------


def login(w: World, _b: int) -> Call:
    code = w.env.fake.issue_js_code(f"mini-walker-{next(w._seq)}")
    return Call("POST", f"{PREFIX}/login", json={"code": code}, check=_is(False, "bound"))


def openapi(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/openapi.json", check=_is("3.1.0", "openapi"))


def bind(w: World, _b: int) -> Call:
    person, _ = w.subject()
    code = w.read(lambda: f.code_for(person, w.settings))
    return Call(
        "POST",
        f"{PREFIX}/bind",
        json={"code": code},
        effect=lambda: sorted(
            b.openid for b in WechatBinding.select().where(WechatBinding.member == person.id)
        ),
        check=_is(person.id, "member", "id"),
    )


def me(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/me", check=_mine("id"))


def study_today(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/study/today")


def study_checkin(w: World, _b: int) -> Call:
    return Call(
        "POST",
        f"{PREFIX}/study/checkins",
        json={"reflection": "学习体会"},
        effect=lambda: StudyCheckin.select().count(),
        check=_is(True, "created"),
    )


def study_me(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/study/me")


def meetings_list(w: World, branch_id: int) -> Call:
    meeting, _ = w.meeting()
    return Call(
        "GET",
        f"{PREFIX}/meetings",
        params={"branch_id": branch_id},
        check=_lists(meeting.id),
    )


def meeting_create(w: World, branch_id: int) -> Call:
    start = w.slot()
    return Call(
        "POST",
        f"{PREFIX}/meetings",
        json={
            "kind": "lesson",
            "title": "支部学习",
            "starts_at": start.isoformat(),
            "branch_id": branch_id,
        },
        effect=lambda: Meeting.select().count(),
        check=_is(w.a.id, "branch_id"),
    )


def _meeting_call(method: str, suffix: str, meeting: Meeting, **kw: Any) -> Call:
    call = Call(method, f"{PREFIX}/meetings/{meeting.id}{suffix}", **kw)
    call.ghost = Call(method, f"{PREFIX}/meetings/{GHOST}{suffix}", json=call.json, at=call.at)
    return call


def meeting_detail(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    return _meeting_call("GET", "", meeting, check=_is(meeting.id, "id"))


def meeting_edit(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    return _meeting_call(
        "PATCH",
        "",
        meeting,
        json={"place": "党群服务中心"},
        effect=_meeting_field(meeting.id, "place"),
        check=_is("党群服务中心", "place"),
    )


def meeting_signin(w: World, _b: int) -> Call:
    meeting, start = w.meeting(opened=True)
    return Call(
        "POST",
        f"{PREFIX}/meetings/signin",
        json={"code": meeting.signin_code},
        at=start,
        effect=lambda: _attendance(meeting.id),
        check=_is(meeting.id, "meeting", "id"),
    )


def meeting_leave(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    return _meeting_call(
        "POST",
        "/leave",
        meeting,
        json={"reason": "出差在外"},
        effect=lambda: _attendance(meeting.id),
        check=_is("pending", "attendance", "leave_status"),
    )


def meetings_mine(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/meetings/attendance")


def meeting_cancel(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    return _meeting_call(
        "POST",
        "/cancel",
        meeting,
        effect=_meeting_field(meeting.id, "status"),
        check=_is("cancelled", "status"),
    )


def meeting_open_signin(w: World, _b: int) -> Call:
    meeting, start = w.meeting()
    return _meeting_call(
        "POST",
        "/signin-code",
        meeting,
        at=start,
        effect=_meeting_field(meeting.id, "signin_code"),
        check=_is(meeting.id, "meeting", "id"),
    )


def meeting_report(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    return _meeting_call("GET", "/attendance", meeting, check=_is(meeting.id, "meeting", "id"))


def meeting_mark(w: World, _b: int) -> Call:
    meeting, start = w.meeting()
    return _meeting_call(
        "POST",
        "/attendance",
        meeting,
        json={"member_ids": [w.people["m2"].id]},
        at=start,
        effect=lambda: _attendance(meeting.id),
        check=_is(meeting.id, "meeting", "id"),
    )


def meeting_leaves(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    asked = w.leave(meeting)
    return _meeting_call("GET", "/leaves", meeting, check=_lists(asked.id, "pending"))


def meeting_decide(w: World, _b: int) -> Call:
    meeting, _ = w.meeting()
    asked = w.leave(meeting)

    def decided() -> tuple[str, int | None]:
        row = Attendance.get_by_id(asked.id)
        return row.leave_status, row.decided_by_id

    return Call(
        "POST",
        f"{PREFIX}/meetings/leaves/{asked.id}/decision",
        json={"approve": True},
        effect=decided,
        check=_is("approved", "status"),
        ghost=Call("POST", f"{PREFIX}/meetings/leaves/{GHOST}/decision", json={"approve": True}),
    )


def dues_me(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/dues/me", check=_mine("member", "id"))


def dues_report(w: World, _b: int) -> Call:
    return Call(
        "POST",
        f"{PREFIX}/dues/reports",
        json={"months": [w.month0_text], "amount_fen": MONTHLY},
        effect=lambda: DuesReport.select().count(),
        check=_mine("report", "member", "id"),
    )


def dues_pay_online(w: World, _b: int) -> Call:
    return Call(
        "POST",
        f"{PREFIX}/dues/pay",
        json={"months": [w.month0_text]},
        effect=lambda: PayOrder.select().count(),
        check=_is(MONTHLY, "order", "amount_fen"),
    )


def dues_reports(w: World, branch_id: int) -> Call:
    person, _ = w.subject()
    report = w.report(person)
    return Call(
        "GET",
        f"{PREFIX}/dues/reports",
        params={"branch_id": branch_id},
        check=_lists(report.id),
    )


def _report_state(report_id: int, member_id: int) -> Callable[[], Any]:
    return lambda: (
        DuesReport.get_by_id(report_id).status,
        DuesPayment.select().where(DuesPayment.member == member_id).count(),
    )


def dues_confirm(w: World, _b: int) -> Call:
    person, _ = w.subject()
    report = w.report(person)
    return Call(
        "POST",
        f"{PREFIX}/dues/reports/{report.id}/confirm",
        effect=_report_state(report.id, person.id),
        check=_is("confirmed", "report", "status"),
        ghost=Call("POST", f"{PREFIX}/dues/reports/{GHOST}/confirm"),
    )


def dues_reject(w: World, _b: int) -> Call:
    person, _ = w.subject()
    report = w.report(person)
    body = {"reason": "金额与转账记录不符"}
    return Call(
        "POST",
        f"{PREFIX}/dues/reports/{report.id}/reject",
        json=body,
        effect=_report_state(report.id, person.id),
        check=_is("rejected", "report", "status"),
        ghost=Call("POST", f"{PREFIX}/dues/reports/{GHOST}/reject", json=body),
    )


def dues_branch(w: World, branch_id: int) -> Call:
    return Call(
        "GET",
        f"{PREFIX}/dues/branch",
        params={"branch_id": branch_id},
        check=_is(w.a.id, "branch", "id"),
    )


def dues_payments(w: World, branch_id: int) -> Call:
    person, _ = w.subject()
    payment = w.payment(person)
    return Call(
        "GET",
        f"{PREFIX}/dues/payments",
        params={"branch_id": branch_id, "member_id": person.id},
        check=_lists(payment.id),
    )


def dues_pay(w: World, _b: int) -> Call:
    person, _ = w.subject()

    def body(member_id: int) -> dict[str, Any]:
        return {"member_id": member_id, "months": [w.month0_text], "amount_fen": MONTHLY}

    return Call(
        "POST",
        f"{PREFIX}/dues/payments",
        json=body(person.id),
        effect=lambda: DuesPayment.select().where(DuesPayment.member == person.id).count(),
        check=_is(person.id, "payment", "member", "id"),
        ghost=Call("POST", f"{PREFIX}/dues/payments", json=body(GHOST)),
    )


def dues_reverse(w: World, _b: int) -> Call:
    person, _ = w.subject()
    payment = w.payment(person)
    body = {"reason": "月份登记错误"}
    return Call(
        "POST",
        f"{PREFIX}/dues/payments/{payment.id}/reverse",
        json=body,
        effect=lambda: DuesPayment.select().where(DuesPayment.reverses == payment.id).count(),
        check=_is(payment.id, "original", "id"),
        ghost=Call("POST", f"{PREFIX}/dues/payments/{GHOST}/reverse", json=body),
    )


def dues_refund(w: World, _b: int) -> Call:
    person, _ = w.subject()
    payment = w.wx_payment(person)
    body = {"reason": "重复交纳"}
    return Call(
        "POST",
        f"{PREFIX}/dues/payments/{payment.id}/refund",
        json=body,
        effect=lambda: (
            PayRefund.select().join(PayOrder).where(PayOrder.payment == payment.id).count()
        ),  # fmt: skip
        check=_is("processing", "refund", "state"),
        ghost=Call("POST", f"{PREFIX}/dues/payments/{GHOST}/refund", json=body),
    )


def branch_overview(w: World, branch_id: int) -> Call:
    return Call(
        "GET",
        f"{PREFIX}/branch/overview",
        params={"branch_id": branch_id},
        check=_is(w.a.id, "branch", "id"),
    )


def branch_members(w: World, branch_id: int) -> Call:
    return Call(
        "GET",
        f"{PREFIX}/branch/members",
        params={"branch_id": branch_id},
        check=_lists(w.people["m1"].id),
    )


def branch_binding_codes(w: World, branch_id: int) -> Call:
    person, _ = w.subject()

    def check(body: Any, _me: int | None) -> None:
        assert [i["member"]["id"] for i in body["issued"]] == [person.id], body

    return Call(
        "POST",
        f"{PREFIX}/branch/binding-codes",
        json={"member_ids": [person.id], "branch_id": branch_id},
        effect=lambda: BindCode.select().where(BindCode.member == person.id).count(),
        check=check,
    )


def branch_unbind(w: World, _b: int) -> Call:
    person, openid = w.subject(bound=True)
    assert openid is not None
    w.token(openid)  # a live session the unbinding must end

    def state() -> tuple[int, int]:
        bindings = WechatBinding.select().where(WechatBinding.member == person.id).count()
        live = (
            ApiSession.select()
            .where(ApiSession.openid == openid, ApiSession.revoked_at.is_null())
            .count()
        )
        return bindings, live

    return Call(
        "POST",
        f"{PREFIX}/branch/members/{person.id}/unbind",
        effect=state,
        check=_is(1, "bindings_removed"),
        ghost=Call("POST", f"{PREFIX}/branch/members/{GHOST}/unbind"),
    )


def member_leave(w: World, _b: int) -> Call:
    person, openid = w.subject(bound=True)
    assert openid is not None
    w.token(openid)  # a live session leaving must end
    body = {"reason": "transfer_out", "left_on": w.now.date().isoformat()}

    def state() -> tuple[str, int, int]:
        live = (
            ApiSession.select()
            .where(ApiSession.openid == openid, ApiSession.revoked_at.is_null())
            .count()
        )
        bindings = WechatBinding.select().where(WechatBinding.member == person.id).count()
        return Member.get_by_id(person.id).status, bindings, live

    return Call(
        "POST",
        f"{PREFIX}/branch/members/{person.id}/leave",
        json=body,
        effect=state,
        check=_is(person.id, "member", "id"),
        ghost=Call("POST", f"{PREFIX}/branch/members/{GHOST}/leave", json=body),
    )


def member_transfer(w: World, _b: int) -> Call:
    person, _ = w.subject()
    body = {"to_branch_id": w.b.id, "moved_on": w.now.date().isoformat()}
    return Call(
        "POST",
        f"{PREFIX}/branch/members/{person.id}/transfer",
        json=body,
        effect=lambda: Member.get_by_id(person.id).branch_id,
        check=_is(w.b.id, "to_branch", "id"),
        ghost=Call("POST", f"{PREFIX}/branch/members/{GHOST}/transfer", json=body),
    )


def member_return(w: World, _b: int) -> Call:
    person, _ = w.subject()
    with w.env.ctx(), w.at():
        leave_member(
            None,
            person.id,
            reason="transfer_out",
            left_on=w.now.date(),
            now=w.now,
            settings=w.settings,
        )
    phone = f"139{person.id:08d}"
    body = {"phone": phone, "returned_on": w.now.date().isoformat()}
    return Call(
        "POST",
        f"{PREFIX}/branch/members/{person.id}/return",
        json=body,
        effect=lambda: Member.get_by_id(person.id).status,
        check=_is(person.id, "member", "id"),
        ghost=Call("POST", f"{PREFIX}/branch/members/{GHOST}/return", json=body),
    )


def branch_study_plan(w: World, branch_id: int) -> Call:
    return Call(
        "GET",
        f"{PREFIX}/branch/study-plan",
        params={"branch_id": branch_id},
        check=_is(w.a.id, "branch", "id"),
    )


def branch_study_add(w: World, branch_id: int) -> Call:
    day = w.now.date() + timedelta(days=next(w._seq))
    return Call(
        "POST",
        f"{PREFIX}/branch/study-topics",
        json={
            "day": day.isoformat(),
            "title": "学习党章",
            "category": "charter",
            "branch_id": branch_id,
        },
        effect=lambda: StudyTopic.select().where(StudyTopic.branch == w.a.id).count(),
        check=_is("branch", "level"),
    )


def _study_topic_call(w: World, method: str, **kw: Any) -> Call:
    """A call on a new topic of branch A (added by its secretary through the handler)."""
    day = w.now.date() + timedelta(days=next(w._seq))
    with w.env.ctx():
        topic = add_topic(
            w.sec,
            None,
            day=day,
            title="学习党章",
            category="charter",
            settings=w.settings,
            now=w.now,
        )
    call = Call(
        method,
        f"{PREFIX}/branch/study-topics/{topic.id}",
        effect=lambda: [row.title for row in StudyTopic.select().where(StudyTopic.id == topic.id)],
        **kw,
    )
    call.ghost = Call(method, f"{PREFIX}/branch/study-topics/{GHOST}", json=call.json)
    return call


def branch_study_edit(w: World, _b: int) -> Call:
    return _study_topic_call(
        w, "PATCH", json={"title": "学习党章第二章"}, check=_is("学习党章第二章", "title")
    )


def branch_study_delete(w: World, _b: int) -> Call:
    return _study_topic_call(w, "DELETE", check=_is(True, "deleted"))


def _rectification(w: World, owner: str = "new", *, done: bool = False) -> RectificationItem:
    """An item of branch A raised by its secretary, owned by ``owner`` (marked done by them)."""
    with w.env.ctx():
        view = r.create_item(
            w.sec,
            w.a.id,
            kind="problem",
            source="self_check",
            problem="学习制度执行不严格",
            owner_id=w.people[owner].id,
            deadline=w.now.date() + timedelta(days=30),
            now=w.now,
            settings=w.settings,
        )
        if done:
            r.mark_done(w.people[owner], view.item.id, "已整改", now=w.now, settings=w.settings)
    return view.item


def _item_field(item_id: int, name: str) -> Callable[[], Any]:
    return lambda: getattr(RectificationItem.get_by_id(item_id), name)


def _rectification_call(method: str, suffix: str, item: RectificationItem, **kw: Any) -> Call:
    call = Call(method, f"{PREFIX}/rectifications/{item.id}{suffix}", **kw)
    call.ghost = Call(method, f"{PREFIX}/rectifications/{GHOST}{suffix}", json=call.json)
    return call


def rectification_list(w: World, branch_id: int) -> Call:
    item = _rectification(w)
    return Call(
        "GET", f"{PREFIX}/rectifications", params={"branch_id": branch_id}, check=_lists(item.id)
    )


def rectification_create(w: World, branch_id: int) -> Call:
    body = {
        "kind": "task",
        "source": "patrol",
        "problem": "整改台账不完整",
        "owner_id": w.people["new"].id,
        "deadline": (w.now.date() + timedelta(days=20)).isoformat(),
        "branch_id": branch_id,
    }
    return Call(
        "POST",
        f"{PREFIX}/rectifications",
        json=body,
        effect=lambda: RectificationItem.select().count(),
        check=_is(w.a.id, "branch_id"),
    )


def rectification_detail(w: World, _b: int) -> Call:
    item = _rectification(w)
    return _rectification_call("GET", "", item, check=_is(item.id, "id"))


def rectification_edit(w: World, _b: int) -> Call:
    item = _rectification(w)
    return _rectification_call(
        "PATCH",
        "",
        item,
        json={"measure": "每月检查学习记录"},
        effect=_item_field(item.id, "measure"),
        check=_is("每月检查学习记录", "measure"),
    )


def rectification_note(w: World, _b: int) -> Call:
    item = _rectification(w)
    return _rectification_call(
        "POST",
        "/notes",
        item,
        json={"text": "已召开专题会议"},
        effect=lambda: RectificationNote.select().where(RectificationNote.item == item.id).count(),
        check=_is(item.id, "item_id"),
    )


def rectification_status(w: World, _b: int) -> Call:
    item = _rectification(w)
    return _rectification_call(
        "POST",
        "/status",
        item,
        json={"status": "in_progress"},
        effect=_item_field(item.id, "status"),
        check=_is("in_progress", "status"),
    )


def rectification_verify(w: World, _b: int) -> Call:
    item = _rectification(w, done=True)
    return _rectification_call(
        "POST",
        "/verification",
        item,
        json={"approve": True},
        effect=_item_field(item.id, "status"),
        check=_is("verified", "status"),
    )


def rectification_mine(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/me/rectifications")


def rectification_done(w: World, _b: int) -> Call:
    item = _rectification(w, owner="m1")
    body = {"note": "已修订学习制度"}
    return Call(
        "POST",
        f"{PREFIX}/me/rectifications/{item.id}/done",
        json=body,
        effect=_item_field(item.id, "status"),
        check=_is("done", "status"),
        ghost=Call("POST", f"{PREFIX}/me/rectifications/{GHOST}/done", json=body),
    )


def _volunteer_entry(w: World) -> VolunteerEntry:
    """A waiting entry of branch A, logged by m2 through the handler the bot's 志愿 calls."""
    with w.env.ctx():
        return v.log_service(
            w.people["m2"],
            minutes=120,
            description=f"社区清扫{next(w._seq)}",
            day=None,
            source="bot",
            now=w.now,
            settings=w.settings,
        ).entry


def _entry_status(entry_id: int) -> Callable[[], Any]:
    return lambda: VolunteerEntry.get_by_id(entry_id).status


def volunteer_log(w: World, _b: int) -> Call:
    return Call(
        "POST",
        f"{PREFIX}/me/volunteer",
        json={"minutes": 90, "description": "周六扶贫日入户走访"},
        effect=lambda: VolunteerEntry.select().count(),
        check=_mine("entry", "member", "id"),
    )


def volunteer_mine(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/me/volunteer")


def training_mine(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/me/training")


def _link_is_mine(body: Any, me: int | None) -> None:
    assert f"/export/{me}/" in body["url"], (body, me)


def export_link(w: World, _b: int) -> Call:
    return Call(
        "GET",
        f"{PREFIX}/me/export",
        effect=lambda: ExportLink.select().count(),
        check=_link_is_mine,
    )


def volunteer_list(w: World, branch_id: int) -> Call:
    entry = _volunteer_entry(w)
    return Call(
        "GET", f"{PREFIX}/volunteer", params={"branch_id": branch_id}, check=_lists(entry.id)
    )


def volunteer_confirm(w: World, _b: int) -> Call:
    entry = _volunteer_entry(w)
    return Call(
        "POST",
        f"{PREFIX}/volunteer/{entry.id}/confirm",
        effect=_entry_status(entry.id),
        check=_is("confirmed", "status"),
        ghost=Call("POST", f"{PREFIX}/volunteer/{GHOST}/confirm"),
    )


def volunteer_reject(w: World, _b: int) -> Call:
    entry = _volunteer_entry(w)
    body = {"reason": "当天未组织该活动"}
    return Call(
        "POST",
        f"{PREFIX}/volunteer/{entry.id}/reject",
        json=body,
        effect=_entry_status(entry.id),
        check=_is("rejected", "status"),
        ghost=Call("POST", f"{PREFIX}/volunteer/{GHOST}/reject", json=body),
    )


def training_list(w: World, branch_id: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        assert w.people["m1"].id in [i["member"]["id"] for i in body["items"]], body

    return Call("GET", f"{PREFIX}/training", params={"branch_id": branch_id}, check=check)


def training_create(w: World, branch_id: int) -> Call:
    body = {
        "member_ids": [w.people["m2"].id],
        "title": "县委党校专题培训班",
        "day": w.now.date().isoformat(),
        "minutes": 180,
        "branch_id": branch_id,
    }
    return Call(
        "POST",
        f"{PREFIX}/training",
        json=body,
        effect=lambda: TrainingRecord.select().count(),
        check=_is(1, "count"),
    )


def _applicant(w: World) -> Member:
    """A fresh 入党申请人 of branch A, with no development record yet."""
    with w.env.ctx():
        return f.member(f"申请人{next(w._seq)}号", w.a, status="applicant")


def development_list(w: World, branch_id: int) -> Call:
    person = _applicant(w)

    def check(body: Any, _me: int | None) -> None:
        assert person.id in [i["member"]["id"] for i in body["items"]], body

    return Call("GET", f"{PREFIX}/development", params={"branch_id": branch_id}, check=check)


def development_detail(w: World, _b: int) -> Call:
    person = _applicant(w)
    call = Call("GET", f"{PREFIX}/development/{person.id}", check=_is(person.id, "member", "id"))
    call.ghost = Call("GET", f"{PREFIX}/development/{GHOST}")
    return call


def development_step(w: World, _b: int) -> Call:
    person = _applicant(w)
    body = {"step": "apply", "on": w.now.date().isoformat()}
    return Call(
        "POST",
        f"{PREFIX}/development/{person.id}/steps",
        json=body,
        effect=lambda: [
            r.applied_on
            for r in DevelopmentRecord.select().where(DevelopmentRecord.member == person.id)
        ],
        check=_is(w.now.date().isoformat(), "steps", 0, "on"),
        ghost=Call("POST", f"{PREFIX}/development/{GHOST}/steps", json=body),
    )


def _applied(w: World) -> tuple[Member, date]:
    """A fresh 入党申请人 of branch A whose application is recorded, and its day."""
    person, applied = _applicant(w), w.now.date() - timedelta(days=10)
    with w.env.ctx():
        d.record_step(w.sec, person.id, "apply", on=applied, now=w.now, settings=w.settings)
    return person, applied


def _applied_on(person: Member) -> Callable[[], Any]:
    rows = DevelopmentRecord.select().where(DevelopmentRecord.member == person.id)
    return lambda: [r.applied_on for r in rows.clone()]


def development_correct(w: World, _b: int) -> Call:
    person, applied = _applied(w)
    body = {"on": (applied - timedelta(days=1)).isoformat()}
    return Call(
        "PATCH",
        f"{PREFIX}/development/{person.id}/steps/apply",
        json=body,
        effect=_applied_on(person),
        check=_is(body["on"], "steps", 0, "on"),
        ghost=Call("PATCH", f"{PREFIX}/development/{GHOST}/steps/apply", json=body),
    )


def development_remove(w: World, _b: int) -> Call:
    person, _applied_day = _applied(w)
    body = {"reason": "登记有误"}
    return Call(
        "DELETE",
        f"{PREFIX}/development/{person.id}/steps/apply",
        json=body,
        effect=_applied_on(person),
        check=_is(None, "steps", 0, "on"),
        ghost=Call("DELETE", f"{PREFIX}/development/{GHOST}/steps/apply", json=body),
    )


def development_mine(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/me/development", check=_mine("member", "id"))


def committee_branches(w: World, _b: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        assert sorted(i["branch"]["id"] for i in body["items"]) == [w.a.id, w.b.id], body

    return Call("GET", f"{PREFIX}/committee/branches", check=check)


def branch_term(w: World, branch_id: int) -> Call:
    return Call(
        "GET",
        f"{PREFIX}/branch/term",
        params={"branch_id": branch_id},
        check=_is(w.a.id, "branch", "id"),
    )


def branch_term_record(w: World, branch_id: int) -> Call:
    started = w.now.date() - timedelta(days=1000 - next(w._seq))  # after the last one recorded
    return Call(
        "POST",
        f"{PREFIX}/branch/term",
        json={"started_on": started.isoformat(), "branch_id": branch_id},
        effect=lambda: BranchTerm.select().where(BranchTerm.branch == w.a.id).count(),
        check=_is(started.isoformat(), "current", "started_on"),
    )


def _out_of_touch(w: World) -> Member:
    """A party member of A for long, who has not been in touch since (flagged as lost)."""
    with w.env.ctx():
        return f.member(f"久未联系{next(w._seq)}号", w.a, created_at=w.now - timedelta(days=400))


def lost_contact_cases(w: World, branch_id: int) -> Call:
    person = _out_of_touch(w)

    def check(body: Any, _me: int | None) -> None:
        assert person.id in [i["member"]["id"] for i in body["items"]], body

    return Call(
        "GET", f"{PREFIX}/branch/lost-contact", params={"branch_id": branch_id}, check=check
    )


def lost_contact_outcome(w: World, _b: int) -> Call:
    person = _out_of_touch(w)
    body = {"outcome": "lost", "happened_on": w.now.date().isoformat(), "note": "电话未接通"}
    return Call(
        "POST",
        f"{PREFIX}/branch/lost-contact/{person.id}/outcomes",
        json=body,
        effect=lambda: ContactOutcome.select().where(ContactOutcome.member == person.id).count(),
        check=_is(person.id, "member", "id"),
        ghost=Call("POST", f"{PREFIX}/branch/lost-contact/{GHOST}/outcomes", json=body),
    )


def committee_organization(w: World, _b: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        assert sorted(i["branch"]["id"] for i in body["items"]) == [w.a.id, w.b.id], body

    return Call("GET", f"{PREFIX}/committee/organization", check=check)


def committee_reads(w: World, _b: int) -> Call:
    with w.env.ctx():
        roster_rows(w.sec, branch_id=w.a.id, settings=w.settings, now=w.now, full_phones=True)

    def check(body: Any, _me: int | None) -> None:
        mine = [i for i in body["items"] if i["actor_id"] == w.sec.id and i["kind"] == "roster"]
        assert mine and mine[0]["full_phones"] and mine[0]["branch"]["id"] == w.a.id, body

    params = {"manager_id": w.sec.id, "limit": 100}
    return Call("GET", f"{PREFIX}/committee/reads", params=params, check=check)


def committee_assessment(w: World, _b: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        assert sorted(i["branch"]["id"] for i in body["items"]) == [w.a.id, w.b.id], body

    return Call("GET", f"{PREFIX}/committee/assessment", check=check)


def branch_assessment(w: World, branch_id: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        assert body["score"]["branch"] == {"id": w.a.id, "name": w.a.name}, body

    return Call("GET", f"{PREFIX}/branch/assessment", params={"branch_id": branch_id}, check=check)


def month_report(w: World, branch_id: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        sheet = load_workbook(io.BytesIO(body))["汇总"]
        assert [row[0] for row in sheet.iter_rows(values_only=True)][1:] == [w.a.name, "合计"]

    return Call("GET", f"{PREFIX}/reports/month", params={"branch_id": branch_id}, check=check)


def record_book_docx(w: World, branch_id: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        assert Document(io.BytesIO(body)).paragraphs[0].text == f"{w.a.name}组织生活记录本"

    return Call("GET", f"{PREFIX}/reports/book", params={"branch_id": branch_id}, check=check)


def roster(w: World, branch_id: int) -> Call:
    def check(body: Any, _me: int | None) -> None:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
        assert rows[0][:3] == ["姓名", "手机号", "支部"], rows[0]
        assert {row[2] for row in rows[1:]} == {w.a.name}
        assert w.sec.name in [row[0] for row in rows[1:]]

    params = {"branch_id": branch_id, "format": "csv"}
    return Call("GET", f"{PREFIX}/reports/roster", params=params, check=check)


def dues_ledger(w: World, branch_id: int) -> Call:
    person, _ = w.subject()
    payment = w.payment(person)

    def check(body: Any, _me: int | None) -> None:
        sheet = load_workbook(io.BytesIO(body))["党费收缴明细"]
        rows = list(sheet.iter_rows(values_only=True))
        assert (payment.id, person.name, w.a.name) in [row[:3] for row in rows], rows

    params = {"branch_id": branch_id, "period": f"{w.now:%Y-%m}"}
    return Call("GET", f"{PREFIX}/reports/ledger", params=params, check=check)


def subscribe_report(w: World, _b: int) -> Call:
    return Call(
        "POST",
        f"{PREFIX}/subscribe/credits",
        json={"accepted": [TEMPLATE]},
        effect=lambda: sorted(SubscribeCredit.select(SubscribeCredit.openid).tuples()),
        check=_is(1, "recorded"),
    )


def subscribe_credits(w: World, _b: int) -> Call:
    return Call("GET", f"{PREFIX}/subscribe/credits", check=_is(TEMPLATE, "template_id"))


# Audiences:
#   public         anyone, no token needed
#   session        any logged-in account (binding): the bound are told they are bound already
#   member_self    any bound member, on their own records
#   member_of_a    a bound member of branch A (or a manager of A) on an A resource
#   manager_of_a   A's secretary or organizer, and the committee admin; other members of A
#                  (the dues collector too) get 403 (the study plan's routes also admit A's
#                  宣传委员, whom tests/test_api_study_plan.py walks)
#   collector_of_a A's secretary or dues collector, and the committee admin; other members of
#                  A (the organizer too) get 403
#   secretary_of_a A's secretary and the committee admin (verifying A's own rectification
#                  items); A's organizer and others get 403
#   owner_m1       m1, the owner of the rectification item; the rest of A get 403 not_owner
#   own_managers_of_a  A's own secretary or organizer (the development pipeline): the committee
#                  admin sees counts per branch on the console only, so gets 403 like the rest of A
#   committee      committee admins only
# Scope, for callers who may not see branch A:
#   id      the resource is named by id: 404, the same answer as for an id that does not exist
#   branch  the request names branch A in branch_id: 403
#   code    a sign-in code: the route's own 422 (not_expected / wrong_code)
# gate: a role check comes before the lookup, so a member without any role gets 403 for any id.


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    audience: str
    build: Callable[[World, int], Call] = field(compare=False)
    scope: str | None = None
    gate: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _r(method: str, path: str, audience: str, build: Any, **kw: Any) -> Route:
    return Route(method, PREFIX + path, audience, build, **kw)


ROUTES: tuple[Route, ...] = (
    _r("POST", "/login", "public", login),
    _r("GET", "/openapi.json", "public", openapi),
    _r("GET", "/me", "member_self", me),
    _r("GET", "/study/today", "member_self", study_today),
    _r("POST", "/study/checkins", "member_self", study_checkin),
    _r("GET", "/study/me", "member_self", study_me),
    _r("GET", "/meetings", "member_of_a", meetings_list, scope="branch"),
    _r("POST", "/meetings", "manager_of_a", meeting_create, scope="branch"),
    _r("GET", "/meetings/{meeting_id}", "member_of_a", meeting_detail, scope="id"),
    _r("PATCH", "/meetings/{meeting_id}", "manager_of_a", meeting_edit, scope="id"),
    _r("POST", "/meetings/signin", "member_of_a", meeting_signin, scope="code"),
    _r("POST", "/meetings/{meeting_id}/leave", "member_of_a", meeting_leave, scope="id"),
    _r("GET", "/meetings/attendance", "member_self", meetings_mine),
    _r("POST", "/meetings/{meeting_id}/cancel", "manager_of_a", meeting_cancel, scope="id"),
    _r(
        "POST",
        "/meetings/{meeting_id}/signin-code",
        "manager_of_a",
        meeting_open_signin,
        scope="id",
    ),
    _r("GET", "/meetings/{meeting_id}/attendance", "manager_of_a", meeting_report, scope="id"),
    _r("POST", "/meetings/{meeting_id}/attendance", "manager_of_a", meeting_mark, scope="id"),
    _r("GET", "/meetings/{meeting_id}/leaves", "manager_of_a", meeting_leaves, scope="id"),
    _r(
        "POST",
        "/meetings/leaves/{leave_id}/decision",
        "manager_of_a",
        meeting_decide,
        scope="id",
    ),
    _r("GET", "/dues/me", "member_self", dues_me),
    _r("POST", "/dues/reports", "member_self", dues_report),
    _r("POST", "/dues/pay", "member_self", dues_pay_online),
    _r("GET", "/dues/reports", "collector_of_a", dues_reports, scope="branch", gate=True),
    _r(
        "POST",
        "/dues/reports/{report_id}/confirm",
        "collector_of_a",
        dues_confirm,
        scope="id",
        gate=True,
    ),
    _r(
        "POST",
        "/dues/reports/{report_id}/reject",
        "collector_of_a",
        dues_reject,
        scope="id",
        gate=True,
    ),
    _r("GET", "/dues/branch", "collector_of_a", dues_branch, scope="branch", gate=True),
    _r("GET", "/dues/payments", "collector_of_a", dues_payments, scope="branch", gate=True),
    _r("POST", "/dues/payments", "collector_of_a", dues_pay, scope="id", gate=True),
    _r(
        "POST",
        "/dues/payments/{payment_id}/reverse",
        "collector_of_a",
        dues_reverse,
        scope="id",
        gate=True,
    ),
    _r(
        "POST",
        "/dues/payments/{payment_id}/refund",
        "collector_of_a",
        dues_refund,
        scope="id",
        gate=True,
    ),
    _r("GET", "/branch/overview", "manager_of_a", branch_overview, scope="branch"),
    _r("GET", "/branch/members", "manager_of_a", branch_members, scope="branch"),
    _r("POST", "/branch/binding-codes", "manager_of_a", branch_binding_codes, scope="branch"),
    _r(
        "POST",
        "/branch/members/{member_id}/unbind",
        "manager_of_a",
        branch_unbind,
        scope="id",
        gate=True,
    ),
    _r("POST", "/branch/members/{member_id}/leave", "committee", member_leave, scope="id"),
    _r(
        "POST",
        "/branch/members/{member_id}/transfer",
        "committee",
        member_transfer,
        scope="id",
    ),
    _r("POST", "/branch/members/{member_id}/return", "committee", member_return, scope="id"),
    _r("GET", "/branch/study-plan", "manager_of_a", branch_study_plan, scope="branch"),
    _r("POST", "/branch/study-topics", "manager_of_a", branch_study_add, scope="branch"),
    _r(
        "PATCH",
        "/branch/study-topics/{topic_id}",
        "manager_of_a",
        branch_study_edit,
        scope="id",
    ),
    _r(
        "DELETE",
        "/branch/study-topics/{topic_id}",
        "manager_of_a",
        branch_study_delete,
        scope="id",
    ),
    _r("GET", "/committee/branches", "committee", committee_branches),
    _r("GET", "/committee/assessment", "committee", committee_assessment),
    _r("GET", "/branch/assessment", "manager_of_a", branch_assessment, scope="branch"),
    _r("GET", "/rectifications", "manager_of_a", rectification_list, scope="branch"),
    _r("POST", "/rectifications", "manager_of_a", rectification_create, scope="branch"),
    _r("GET", "/rectifications/{item_id}", "manager_of_a", rectification_detail, scope="id"),
    _r("PATCH", "/rectifications/{item_id}", "manager_of_a", rectification_edit, scope="id"),
    _r("POST", "/rectifications/{item_id}/notes", "manager_of_a", rectification_note, scope="id"),
    _r(
        "POST",
        "/rectifications/{item_id}/status",
        "manager_of_a",
        rectification_status,
        scope="id",
    ),
    _r(
        "POST",
        "/rectifications/{item_id}/verification",
        "secretary_of_a",
        rectification_verify,
        scope="id",
    ),
    _r("GET", "/me/rectifications", "member_self", rectification_mine),
    _r("POST", "/me/rectifications/{item_id}/done", "owner_m1", rectification_done, scope="id"),
    _r("GET", "/branch/term", "manager_of_a", branch_term, scope="branch"),
    _r("POST", "/branch/term", "manager_of_a", branch_term_record, scope="branch"),
    _r("GET", "/branch/lost-contact", "manager_of_a", lost_contact_cases, scope="branch"),
    _r(
        "POST",
        "/branch/lost-contact/{member_id}/outcomes",
        "manager_of_a",
        lost_contact_outcome,
        scope="id",
        gate=True,
    ),
    _r("GET", "/committee/organization", "committee", committee_organization),
    _r("GET", "/committee/reads", "committee", committee_reads),
    _r("POST", "/me/volunteer", "member_self", volunteer_log),
    _r("GET", "/me/volunteer", "member_self", volunteer_mine),
    _r("GET", "/me/training", "member_self", training_mine),
    _r("GET", "/me/export", "member_self", export_link),
    _r("GET", "/volunteer", "manager_of_a", volunteer_list, scope="branch"),
    _r("POST", "/volunteer/{entry_id}/confirm", "manager_of_a", volunteer_confirm, scope="id"),
    _r("POST", "/volunteer/{entry_id}/reject", "manager_of_a", volunteer_reject, scope="id"),
    _r("GET", "/training", "manager_of_a", training_list, scope="branch"),
    _r("POST", "/training", "manager_of_a", training_create, scope="branch"),
    _r("GET", "/development", "own_managers_of_a", development_list, scope="branch"),
    _r(
        "GET",
        "/development/{member_id}",
        "own_managers_of_a",
        development_detail,
        scope="id",
    ),
    _r(
        "POST",
        "/development/{member_id}/steps",
        "own_managers_of_a",
        development_step,
        scope="id",
    ),
    _r(
        "PATCH",
        "/development/{member_id}/steps/{step}",
        "own_managers_of_a",
        development_correct,
        scope="id",
    ),
    _r(
        "DELETE",
        "/development/{member_id}/steps/{step}",
        "own_managers_of_a",
        development_remove,
        scope="id",
    ),
    _r("GET", "/me/development", "member_self", development_mine),
    _r("GET", "/reports/month", "manager_of_a", month_report, scope="branch"),
    _r("GET", "/reports/book", "manager_of_a", record_book_docx, scope="branch"),
    _r("GET", "/reports/roster", "manager_of_a", roster, scope="branch"),
    _r("GET", "/reports/ledger", "manager_of_a", dues_ledger, scope="branch"),
    _r("POST", "/subscribe/credits", "member_self", subscribe_report),
    _r("GET", "/subscribe/credits", "member_self", subscribe_credits),
    # Last: it turns the stranger into a member, which the routes above must not see.
    _r("POST", "/bind", "session", bind),
)
TABLE = {route.key: route for route in ROUTES}
AUDIENCES = (
    "public",
    "session",
    "member_self",
    "member_of_a",
    "manager_of_a",
    "collector_of_a",
    "secretary_of_a",
    "owner_m1",
    "own_managers_of_a",
    "committee",
)


# ---- what each caller must get --------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    ok: bool
    status: int = 0
    errcodes: tuple[str, ...] = ()
    hidden: bool = False  # the caller may not see A: an A id must answer as a missing id does


OK = Expect(True)


def refuse(status: int, *errcodes: str, hidden: bool = False) -> Expect:
    return Expect(False, status, errcodes, hidden)


TOKEN_ERRORS = {
    "anonymous": "unauthorized",
    "garbage": "token_invalid",
    "foreign_key": "token_invalid",
    "expired": "token_expired",
    "revoked": "token_revoked",
}


def _outsider(route: Route, caller: str) -> Expect:
    """A bound caller who may not see branch A, on a route aimed at A."""
    if route.gate and caller == "mb":
        return refuse(403, "forbidden", hidden=True)
    if route.scope == "id":
        return refuse(404, "not_found", hidden=True)
    if route.scope == "branch":
        return refuse(403, "forbidden")
    assert route.scope == "code", route.name
    return refuse(422, "not_expected", "wrong_code")


def expect(route: Route, caller: str) -> Expect:
    audience = route.audience
    if audience == "public":
        return OK
    if caller in TOKEN_ERRORS:
        return refuse(401, TOKEN_ERRORS[caller])
    if caller == "stranger":
        return OK if audience == "session" else refuse(403, "not_bound")
    if audience == "session":
        return refuse(409, "already_bound")
    if audience == "member_self":
        return OK
    if caller == "admin_via_x":
        return refuse(403, "forbidden")
    if audience == "committee":
        return OK if caller == "admin" else refuse(403, "forbidden")
    if audience == "member_of_a":
        return OK if caller in IN_A else _outsider(route, caller)
    if caller in ALLOWED[audience]:
        return OK
    if caller in IN_A:
        return refuse(403, "not_owner" if audience == "owner_m1" else "forbidden")
    return _outsider(route, caller)


def walks(caller: str) -> list[Route]:
    if caller == "admin_via_x":
        return [r for r in ROUTES if r.scope == "branch"]
    return list(ROUTES)


# ---- names a caller must never be shown -----------------------------------------------------


def unseen_names(env: Env, caller: str) -> list[str]:
    """Branch, committee and people names of the branches the caller may not see.

    The committee admin's name (党委管理员) is left out: it is also the name of the role, which
    refusals rightly mention.
    """
    sees = SEES.get(caller, "")
    names: list[str] = []
    for key in "ABX":
        if key in sees:
            continue
        names.append(env.branches[key].name)
        names += [n for n, where, _ in CAST.values() if where == key and n != "党委管理员"]
        if key == "A":
            names += [name for name, _ in EXTRA.values()]
    if "X" not in sees:
        names.append("其他党委")
    if not set(sees) & set("AB"):
        names.append("测试党委")
    return names


# ---- the walk -------------------------------------------------------------------------------


@pytest.fixture
def env(make_env, fake, tmp_path) -> Env:
    # Every caller logs in inside one frozen minute: lift the per-address login limit.
    # WeChat Pay is configured (a merchant with keys made now, known to the fake).
    return make_env(
        api={"login_rate_per_minute": 1000},
        channels={"subscribe_template_id": TEMPLATE},
        pay=merchant(fake, tmp_path / "pay").settings(fake),
    )


def caller_token(w: World, caller: str) -> str | None:
    if caller == "anonymous":
        return None
    if caller == "garbage":
        return "not-a-token." + secrets.token_urlsafe(32)
    if caller == "foreign_key":
        real = w.token("m1")
        sid = w.read(lambda: ApiSession.select().order_by(ApiSession.id.desc()).get().id)
        with w.at():
            assert w.env.api.get(f"{PREFIX}/me", token=real).status_code == 200
            return URLSafeTimedSerializer("another-secret-key", salt=TOKEN_SALT).dumps(
                {"sid": sid}
            )
    if caller == "expired":
        ttl = w.settings.api.session_ttl_seconds
        return w.token("m1", at=w.now - timedelta(seconds=ttl + 60))
    if caller == "revoked":
        token = w.token("m1")
        with w.at():
            assert w.env.api.get(f"{PREFIX}/me", token=token).status_code == 200
        assert w.read(lambda: revoke_member_sessions(w.people["m1"].id, w.now)) >= 1
        return token
    if caller == "admin_via_x":
        return w.token("admin")
    return w.token(f"mini-{caller}")


def _naming_branch(call: Call, branch_id: int) -> Call:
    """The same call with branch_id (in the query or the body) set to another id."""
    params, body = call.params, call.json
    if params and "branch_id" in params:
        params = {**params, "branch_id": branch_id}
    elif isinstance(body, dict) and "branch_id" in body:
        body = {**body, "branch_id": branch_id}
    else:
        raise AssertionError(f"{call.method} {call.path} names no branch_id")
    return Call(call.method, call.path, params=params, json=body, at=call.at)


def walk_one(w: World, route: Route, caller: str, token: str | None, me_id: int | None) -> None:
    branch_id = w.x.id if caller == "admin_via_x" else w.a.id
    call = route.build(w, branch_id)
    want = expect(route, caller)
    db_before = None if want.ok else w.db_state()
    before = w.read(call.effect) if call.effect else None
    r = w.send(call, token)
    body = r.json() if r.headers["Content-Type"].startswith("application/json") else r.content
    if want.ok:
        assert 200 <= r.status_code < 300, (r.status_code, r.text[:300])
        if call.effect:
            assert w.read(call.effect) != before, "allowed, but the rows it aims at are unchanged"
        if call.check:
            call.check(body, me_id)
    else:
        errcode = body.get("errcode") if isinstance(body, dict) else None
        assert r.status_code == want.status and errcode in want.errcodes, (
            f"want {want.status} {'/'.join(want.errcodes)}, got {r.status_code} {r.text[:300]}"
        )
        if call.effect:
            assert w.read(call.effect) == before, "refused, but the rows it aims at changed"
        assert w.db_state() == db_before, "refused, but the database changed"
        ghost = call.ghost
        if route.scope == "branch" and r.status_code == 403 and errcode == "forbidden":
            # branch_for answers a branch that does not exist as one the caller may not act for.
            ghost = _naming_branch(call, GHOST)
        elif not want.hidden:
            ghost = None
        if ghost is not None:
            again = w.send(ghost, token)
            assert (again.status_code, again.json()) == (r.status_code, body), (
                "an existing id answers unlike a missing one",
                again.status_code,
                again.text[:200],
            )
    if route.audience != "public":
        leaked = [name for name in unseen_names(w.env, caller) if name in r.text]
        assert not leaked, f"the answer names {leaked}: {r.text[:300]}"


@pytest.mark.parametrize("caller", CALLERS)
def test_walk_every_route(env: Env, caller: str):
    """Every documented operation as one caller; a failure names each route that went wrong."""
    w = World(env)
    token = caller_token(w, caller)
    who = "admin" if caller == "admin_via_x" else caller
    me_id = w.people[who].id if who in w.people else None
    failures: list[str] = []
    walked = walks(caller)
    for route in walked:
        try:
            walk_one(w, route, caller, token, me_id)
        except Exception as exc:  # noqa: BLE001 - collected, so every failing route is named
            failures.append(f"{route.name} as {caller}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} of {len(walked)} routes:\n" + "\n".join(failures)


# ---- the table stays complete ---------------------------------------------------------------


def _has_branch_id(operation: dict[str, Any], doc: dict[str, Any]) -> bool:
    if any(p["name"] == "branch_id" for p in operation.get("parameters", [])):
        return True
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return "branch_id" in schema.get("properties", {})


def test_every_documented_operation_is_in_the_table():
    doc = document()
    documented = {
        (method.upper(), path): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    missing = sorted(set(documented) - set(TABLE))
    assert not missing, f"add these operations to ROUTES in {__name__}: {missing}"
    assert not set(TABLE) - set(documented), "ROUTES names operations the document does not have"
    assert len(ROUTES) == len(TABLE)
    for key, op in documented.items():
        route = TABLE[key]
        assert route.audience in AUDIENCES, route
        # Public in the table exactly when the document asks for no token.
        assert (route.audience == "public") == (op.get("security") == []), route.name
        # A route taking branch_id is walked by the admin naming another committee's branch.
        assert _has_branch_id(op, doc) == (route.scope == "branch"), route.name
        if "{" in route.path:
            assert route.scope == "id", route.name
        if route.audience in ("member_of_a", *ALLOWED):
            assert route.scope in ("id", "branch", "code"), route.name


def test_expectations_cover_every_caller_and_route():
    """The matrix itself: 2xx only inside the audience, never for a token error."""
    for route in ROUTES:
        for caller in CALLERS:
            want = expect(route, caller)
            if route.audience != "public" and caller in TOKEN_ERRORS:
                assert want == refuse(401, TOKEN_ERRORS[caller])
            if want.ok and route.audience in ALLOWED:
                assert caller in ALLOWED[route.audience], (route.name, caller)
            if want.ok and route.audience == "committee":
                assert caller == "admin", (route.name, caller)
            if not want.ok:
                assert want.status in (401, 403, 404, 409, 422), (route.name, caller)


# ---- managers and the accounts of those with more powers -------------------------------------

# (manager, member whose powers the manager lacks): a branch secretary and the committee admin
# of the committee; a branch organizer and the branch secretary (who collects dues).
OVER = [("sec", "admin"), ("org", "sec")]


@pytest.mark.parametrize(("manager", "target"), OVER)
def test_a_manager_cannot_unbind_an_account_with_powers_they_lack(
    env: Env, manager: str, target: str
):
    w = World(env)
    person = w.people[target]
    with w.at():
        target_token = env.token(f"mini-{target}")
        r = env.api.post(
            f"{PREFIX}/branch/members/{person.id}/unbind", token=env.token(f"mini-{manager}")
        )
        still_in = env.api.get(f"{PREFIX}/me", token=target_token).status_code
    bindings = w.read(
        lambda: WechatBinding.select().where(WechatBinding.member == person.id).count()
    )
    assert (r.status_code, r.json().get("errcode")) == (403, "forbidden"), (
        f"{manager} unbound {target} ({'/'.join(person.role_set)}): {r.status_code} {r.text}"
    )
    assert bindings == 1 and still_in == 200


@pytest.mark.parametrize(("manager", "target"), OVER)
def test_a_manager_cannot_issue_a_binding_code_for_powers_they_lack(
    env: Env, manager: str, target: str
):
    """A code for a member with more powers would let the manager bind a second WeChat account
    as that member and act with their powers."""
    w = World(env)
    roles = w.people[target].roles
    with env.ctx():
        person = f.member("新任负责人", w.a, roles=roles)  # not bound yet
    with w.at():
        r = env.api.post(
            f"{PREFIX}/branch/binding-codes",
            token=env.token(f"mini-{manager}"),
            json={"member_ids": [person.id]},
        )
        reach = []
        if r.status_code == 200 and r.json()["issued"]:
            second = env.token(f"mini-{manager}-second-phone")
            code = r.json()["issued"][0]["code"]
            assert env.api.post(f"{PREFIX}/bind", token=second, json={"code": code}).ok
            for path, params in (
                ("/committee/branches", None),
                ("/dues/branch", {"branch_id": w.b.id}),
                ("/dues/branch", None),
            ):
                if env.api.get(PREFIX + path, token=second, params=params).ok:
                    reach.append(f"GET {path} {params or ''}".strip())
    codes = w.read(lambda: BindCode.select().where(BindCode.member == person.id).count())
    assert (r.status_code, r.json().get("errcode")) == (403, "forbidden"), (
        f"{manager} got a binding code for a member with roles {roles!r}; bound to a second "
        f"account of theirs it reaches: {reach}"
    )
    assert codes == 0
