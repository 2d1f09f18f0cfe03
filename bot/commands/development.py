"""Bot command for developing members: 发展 — a branch manager's pipeline (who is at which
stage, what is owed by when), or a member's own record."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command
from handlers import development as h

LIST_MAX = 10  # people 发展 names; the console and the mini-program show them all


def _person_line(view: h.PersonView) -> str:
    due = view.deadline
    if due is None:
        state = f"下一步：{view.next.label}" if view.next else ""
    elif view.overdue:
        state = f"{due.label}已逾期 {-view.days_left} 天（应于 {h.day_text(due.due)} 前）"
    else:
        state = f"{due.label}应于 {h.day_text(due.due)} 前（还剩 {view.days_left} 天）"
    return f"{view.member.name}（{view.stage_label}）{state}"


def _pipeline(page: h.PipelinePage) -> str:
    if not page.total:
        return "本支部目前没有发展中的人员（入党申请人、积极分子、发展对象、预备党员）。"
    late = f"，{page.overdue} 人有步骤逾期" if page.overdue else ""
    lines = [f"本支部发展党员（{page.total} 人{late}）："]
    lines += [_person_line(v) for v in page.items]
    if page.total > len(page.items):
        lines.append(f"……共 {page.total} 人，其余请在控制台“发展党员”页面查看。")
    lines.append("登记步骤请在控制台“发展党员”页面或小程序中进行。")
    return "\n".join(lines)


def _own(found: h.Detail) -> str:
    view = found.view
    done = [f"{s.label}：{h.day_text(s.on)}" for s in found.steps if s.on]
    lines = [f"您目前是{view.stage_label}。", *done]
    if view.next is not None:
        earliest = f"（最早 {h.day_text(view.next.earliest)}）" if view.next.earliest else ""
        lines.append(f"下一步：{view.next.label}{earliest}")
    return "\n".join(lines)


def _on_development(ctx: Context) -> str:
    found = h.overview(ctx.member, now=ctx.now, settings=ctx.settings, limit=LIST_MAX)
    return _pipeline(found) if isinstance(found, h.PipelinePage) else _own(found)


def register(dispatcher: Dispatcher) -> None:
    """Bind 发展."""
    dispatcher.add(
        Handler(
            "development",
            Bound() & Command("发展", "发展党员"),
            _on_development,
            help="发展 — 查看发展党员进度（书记、组织委员：本支部；党员：本人）",
            audience="member",
        ),
        GROUP_MEMBER,
    )
