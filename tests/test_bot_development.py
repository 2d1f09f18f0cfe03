"""发展 through signed, encrypted callbacks: a branch manager's pipeline, a member's own record,
and nobody else's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.base import db
from models.development import DevelopmentRecord
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 10, 10, 0, tzinfo=SH)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        a, b = f.branch("第一党支部"), f.branch("第二党支部")
        people = {
            "sec": f.member("王书记", a, roles="secretary"),
            "appl": f.member("申请人甲", a, status="applicant"),
            "act": f.member("积极分子乙", a, status="activist"),
            "m1": f.member("张党员", a),
            "secb": f.member("赵书记", b, roles="secretary"),
        }
        DevelopmentRecord.create(member=people["appl"], applied_on=date(2026, 8, 1))
        DevelopmentRecord.create(
            member=people["act"],
            applied_on=date(2025, 5, 1),
            activist_on=date(2026, 6, 1),
            contacts_on=date(2026, 6, 1),
        )
        openids = {key: f.bound(p, f"oid-{key}") for key, p in people.items()}
    return {"openid": openids, **people}


def say(wechat: Any, org: dict[str, Any], who: str, text: str) -> str:
    with time_machine.travel(NOW, tick=False):
        return wechat.send_text(org["openid"][who], text).reply


def test_the_secretary_sees_the_branchs_pipeline(wechat, org):
    assert say(wechat, org, "sec", "发展").splitlines() == [
        "本支部发展党员（2 人，1 人有步骤逾期）：",
        "申请人甲（入党申请人）入党谈话已逾期 9 天（应于 2026年9月1日 前）",
        "积极分子乙（入党积极分子）培养考察应于 2026年12月1日 前（还剩 82 天）",
        "登记步骤请在控制台“发展党员”页面或小程序中进行。",
    ]
    assert say(wechat, org, "secb", "发展党员").startswith("本支部目前没有发展中的人员")


def test_a_member_sees_only_their_own_record(wechat, org):
    own = say(wechat, org, "act", "发展")
    assert own.splitlines() == [
        "您目前是入党积极分子。",
        "递交入党申请：2025年5月1日",
        "确定为入党积极分子：2026年6月1日",
        "指定培养联系人：2026年6月1日",
        "下一步：确定为发展对象（最早 2027年6月1日）",
    ]
    assert "申请人甲" not in own
    plain = say(wechat, org, "m1", "发展")
    assert plain == "您目前是正式党员。" and "积极分子乙" not in plain
