"""Everything zhibu keeps about one member, as one structure: the JSON and the workbook of
我的数据 are two renderings of it.

Each section is a list of rows (dicts) read straight from the member's own records. A row
never carries another member: columns pointing at a member (who recorded, who decided, who
vouched) are left out, and so is everything about other members. Secrets are left out
(token hashes, prepay ids); WeChat ids are shown masked.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, ForeignKeyField, Model
from playhouse.shortcuts import model_to_dict

from core.clock import local_day
from core.config import Settings
from core.tabular import Sheet, write_workbook
from handlers.membership import membership_history
from models.development import DevelopmentRecord
from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesRelief, DuesReport
from models.meetings import Attendance, Meeting
from models.org import ROLES, Member
from models.organization import ContactOutcome
from models.outbox import MemberContact, OutboxMessage, mask_target
from models.pay import PayOrder
from models.rectification import RectificationItem
from models.study import StudyCheckin, StudyTopic
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from models.wechat import WechatBinding

# Section keys and their sheet titles, in the order both are shown.
SECTIONS: dict[str, str] = {
    "member": "名册信息",
    "bindings": "微信绑定",
    "checkins": "学习打卡",
    "attendance": "参会与请假",
    "dues_assessments": "党费核定",
    "dues_reliefs": "党费减免",
    "dues_reports": "党费自报",
    "dues_payments": "党费缴纳",
    "dues_months": "党费月度",
    "pay_orders": "微信支付订单",
    "volunteer": "志愿服务",
    "training": "培训学时",
    "development": "发展记录",
    "rectification": "整改事项",
    "contact": "联系记录",
    "messages": "收到的消息",
    "transfers": "组织关系转接",
    "departure": "离开",
    "returns": "转回",
}


@dataclass(frozen=True)
class MemberData:
    member_id: int
    name: str
    day: date  # the export's local day, for the file name
    sections: dict[str, list[dict[str, Any]]]

    def as_json(self) -> dict[str, Any]:
        return {"member_id": self.member_id, "exported_on": self.day.isoformat(), **self.sections}

    @property
    def filename(self) -> str:
        """张三的数据2026年12月7日.xlsx"""
        d = self.day
        return f"{self.name}的数据{d.year}年{d.month}月{d.day}日.xlsx"

    @property
    def ascii_filename(self) -> str:
        return f"my-data-{self.day.isoformat()}.xlsx"


def _value(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(
    query: Iterable[Model], tz: ZoneInfo, *, drop: tuple[str, ...] = (), extra: Any = None
) -> list[dict[str, Any]]:
    """Rows as dicts of their own columns, without the columns naming a member or ``drop``;
    ``extra(row)`` adds columns."""
    out = []
    for row in query:
        people = [
            f.name
            for f in row._meta.sorted_fields
            if isinstance(f, ForeignKeyField) and f.rel_model is Member
        ]
        data = model_to_dict(row, recurse=False, exclude=[getattr(type(row), n) for n in people])
        for name in drop:
            data.pop(name, None)
        if extra is not None:
            data.update(extra(row))
        out.append({k: _value(v, tz) for k, v in data.items()})
    return out


def _member_row(m: Member) -> dict[str, Any]:
    roles = "、".join(ROLES.get(r, r) for r in sorted(m.role_set))
    group = m.party_group.name if m.party_group_id else ""
    return {"branch_name": m.branch.name, "party_group_name": group, "roles_label": roles}


def _message_row(row: OutboxMessage) -> dict[str, Any]:
    data = row.data
    return {"title": data.get("title", ""), "text": data.get("text", "")}


def member_data(member: Member, *, settings: Settings, now: datetime) -> MemberData:
    """Everything kept about ``member``, theirs alone (see the module's docstring)."""
    tz = ZoneInfo(settings.app.timezone)
    mid = member.id
    masked = {"openid": mask_target, "unionid": mask_target}

    def mask(row: Any) -> dict[str, Any]:
        return {k: f(getattr(row, k)) for k, f in masked.items() if hasattr(row, k)}

    checkins = (
        StudyCheckin.select(StudyCheckin, StudyTopic)
        .join(StudyTopic, on=StudyCheckin.topic == StudyTopic.id, join_type=JOIN.LEFT_OUTER)
        .where(StudyCheckin.member == mid)
        .order_by(StudyCheckin.day, StudyCheckin.id)
    )
    attendance = (
        Attendance.select(Attendance, Meeting)
        .join(Meeting)
        .where(Attendance.member == mid)
        .order_by(Meeting.starts_at, Attendance.id)
    )
    messages = OutboxMessage.select().where(
        OutboxMessage.target_type == "member", OutboxMessage.target_id == mid
    )
    mine = {
        "member": _rows([member], tz, drop=("version",), extra=_member_row),
        "bindings": _rows(member.bindings.order_by(WechatBinding.id), tz, extra=mask),
        "checkins": _rows(
            checkins, tz, extra=lambda c: {"topic_title": c.topic.title if c.topic_id else ""}
        ),
        "attendance": _rows(
            attendance,
            tz,
            extra=lambda a: {
                "meeting_title": a.meeting.title,
                "meeting_starts_at": a.meeting.starts_at,
            },
        ),
    }
    by_member: list[tuple[str, Any, tuple[str, ...]]] = [
        ("dues_assessments", DuesAssessment, ()),
        ("dues_reliefs", DuesRelief, ()),
        ("dues_reports", DuesReport, ()),
        ("dues_payments", DuesPayment, ()),
        ("dues_months", DuesMonth, ()),
        ("pay_orders", PayOrder, ("prepay_id", "open_member")),
        ("volunteer", VolunteerEntry, ()),
        ("training", TrainingRecord, ()),
        ("development", DevelopmentRecord, ()),
        ("contact", ContactOutcome, ()),
    ]
    for key, model, drop in by_member:
        query = model.select().where(model.member == mid).order_by(model.id)
        mine[key] = _rows(query, tz, drop=drop, extra=mask)
    mine["contact"] += _rows(
        MemberContact.select().where(MemberContact.member == mid),
        tz,
        extra=lambda c: {"wecom_userid": mask_target(c.wecom_userid)},
    )
    mine["rectification"] = _rows(
        RectificationItem.select()
        .where(RectificationItem.owner == mid)
        .order_by(RectificationItem.id),
        tz,
    )
    mine["messages"] = _rows(
        messages.order_by(OutboxMessage.id), tz, drop=("payload",), extra=_message_row
    )
    mine.update(_membership(mid, tz))
    sections = {key: mine[key] for key in SECTIONS}
    return MemberData(mid, member.name, local_day(now, tz), sections)


def _membership(member_id: int, tz: ZoneInfo) -> dict[str, list[dict[str, Any]]]:
    """The member's transfers, departure and returns, with the branches' names (never who
    recorded them, nor the keyed hash of their old number)."""
    history = membership_history(member_id)
    transfers = [
        {
            "from_branch_name": m.from_branch,
            "to_branch_name": m.to_branch,
            "moved_on": m.moved_on,
            "source": m.source_label,
            "recorded_at": m.recorded_at,
        }
        for m in history.moves
    ]
    gone = history.departure
    departure = []
    if gone is not None:
        departure.append(
            {
                "reason": gone.reason,
                "reason_label": gone.reason_label,
                "left_on": gone.left_on,
                "branch_name": gone.branch,
                "recorded_at": gone.recorded_at,
            }
        )
    returns = [
        {
            "left_on": b.left_on,
            "left_reason_label": b.left_reason_label,
            "left_branch_name": b.left_branch,
            "returned_on": b.returned_on,
            "to_branch_name": b.to_branch,
            "recorded_at": b.recorded_at,
        }
        for b in history.returns
    ]
    return {
        "transfers": [{k: _value(v, tz) for k, v in row.items()} for row in transfers],
        "departure": [{k: _value(v, tz) for k, v in row.items()} for row in departure],
        "returns": [{k: _value(v, tz) for k, v in row.items()} for row in returns],
    }


def _sheet(title: str, rows: list[dict[str, Any]]) -> Sheet:
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    body = [[_cell(row.get(k)) for k in header] for row in rows]
    return Sheet(title, header or ["（无记录）"], body, widths=[16] * max(len(header), 1))


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float)) else str(value)


def export_bytes(data: MemberData, *, created: datetime) -> bytes:
    """The workbook of the member's data: one sheet per section, every cell formula-safe."""
    out = io.BytesIO()
    sheets = [_sheet(title, data.sections[key]) for key, title in SECTIONS.items()]
    write_workbook(out, sheets, created=created.astimezone(UTC).replace(tzinfo=None))
    return out.getvalue()
