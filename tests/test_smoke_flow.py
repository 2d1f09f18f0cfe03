"""A member binds, checks in, sees their week: through signed, encrypted HTTP callbacks."""

from __future__ import annotations

from datetime import timedelta

from core.clock import local_now
from models.base import db
from models.study import StudyCheckin
from tests import factories as f


def test_bind_then_check_in_then_mine(app, settings, wechat):
    with app.app_context(), db.connection_context():
        br = f.branch()
        m = f.member("张三", br)
        code = f.code_for(m, settings)
        f.topic(local_now(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date(), "学习党章总纲")
    d = wechat.send_event("new-user", "subscribe")
    assert d.status == 200 and "绑定" in d.reply
    d = wechat.send_text("new-user", "学习 读书")
    assert "尚未绑定" in d.reply
    d = wechat.send_text("new-user", f"绑定 {code[:4]}-{code[4:].lower()}")
    assert d.reply.startswith("绑定成功！张三同志"), d.reply
    d = wechat.send_text("new-user", "学习：今天读了党章第一章")
    assert "学习打卡成功" in d.reply and "《学习党章总纲》" in d.reply, d.reply
    d = wechat.send_text("new-user", "打卡 补充一点心得")
    assert "已用这次的内容更新学习心得" in d.reply, d.reply
    d = wechat.send_text("new-user", "我的")
    assert "本周学习打卡：1 天" in d.reply and "连续学习：1 天" in d.reply, d.reply
    with app.app_context(), db.connection_context():
        rows = list(StudyCheckin.select())
        assert [r.reflection for r in rows] == ["补充一点心得"]
    assert timedelta(0) is not None
