"""The Saturday volunteer-service prompt (周六扶贫日)."""

from __future__ import annotations

from datetime import datetime

from core.clock import local_day
from core.config import Settings
from handlers.outbox import Outgoing
from handlers.reminders.common import channelled_branches, local_zone


def prompt_text(settings: Settings) -> str:
    """What the branch group reads: the day, and how to log the service afterwards."""
    page = settings.volunteer.miniprogram_page
    where = f"或在小程序“{page}”页面登记" if page else "或在小程序中登记"
    return (
        "【周六扶贫日】今天是周六扶贫日，欢迎参加党员志愿服务。"
        f"服务后请向公众号发送“志愿 2小时 服务内容”（如：志愿 2小时 社区清扫），{where}，"
        "支部书记确认后计入服务时长。"
    )


def volunteer_prompts(now: datetime, settings: Settings) -> list[Outgoing]:
    """Saturday's 扶贫日 / volunteer-service prompt, where the branch turned it on (and the
    deployment did not turn it off: ``volunteer.prompt_enabled``)."""
    if not settings.volunteer.prompt_enabled:
        return []
    day = local_day(now, local_zone(settings))
    text = prompt_text(settings)
    return [
        Outgoing(
            "volunteer_prompt",
            "branch",
            b.id,
            day.isoformat(),
            {"text": text, "title": "志愿服务提醒"},
            b.id,
        )
        for b in channelled_branches("volunteer_enabled")
    ]
