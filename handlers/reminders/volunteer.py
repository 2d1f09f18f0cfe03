"""The Saturday volunteer-service prompt."""

from __future__ import annotations

from datetime import datetime

from core.clock import local_day
from core.config import Settings
from handlers.outbox import Outgoing
from handlers.reminders.common import channelled_branches, local_zone


def volunteer_prompts(now: datetime, settings: Settings) -> list[Outgoing]:
    """Saturday's 扶贫日 / volunteer-service prompt, where the branch turned it on."""
    day = local_day(now, local_zone(settings))
    return [
        Outgoing(
            "volunteer_prompt",
            "branch",
            b.id,
            day.isoformat(),
            {
                "text": "【周六扶贫日】今天是周六扶贫日，欢迎参加党员志愿服务，"
                "服务后请向支部报告服务时长。",
                "title": "志愿服务提醒",
            },
            b.id,
        )
        for b in channelled_branches("volunteer_enabled")
    ]
