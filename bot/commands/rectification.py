"""Bot commands for rectification lists: 清单 (my items) and 完成 编号 说明 (mark one done)."""

from __future__ import annotations

import re

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command
from handlers import rectification as r
from handlers.errors import Invalid

LIST_MAX = 10  # items 清单 shows; the mini-program shows them all
EXAMPLE = "完成 1 已修订学习制度并在支部公示"


def _on_list(ctx: Context) -> str:
    page = r.my_items(ctx.member, now=ctx.now, settings=ctx.settings, limit=LIST_MAX, offset=0)
    if not page.items:
        return "您目前没有负责的整改事项。"
    lines = [f"您负责的整改事项（{page.total} 项）："]
    for view in page.items:
        item = view.item
        lines += [
            f"【编号{item.number}】{item.kind_label} · {item.status_label}",
            f"问题：{r.short(item.problem)}",
            r.deadline_state(item, view.today),
        ]
    if page.total > len(page.items):
        lines.append(f"……共 {page.total} 项，其余请在小程序中查看。")
    if any(not v.item.closed for v in page.items):
        lines.append(f"完成后请发送“完成 编号 完成情况”，例如：{EXAMPLE}")
    return "\n".join(lines)


def _on_done(ctx: Context) -> str:
    match = re.match(r"^(?:编号|#|No\.?)?\s*(\d{1,9})(?:\s+|$)(.*)$", ctx.args, re.S)
    if match is None:
        raise Invalid(
            f"请写明整改事项的编号和完成情况，例如：{EXAMPLE}",
            errcode="missing_field",
            chat_hint="\n发送“清单”可查看您负责的事项和编号。",
        )
    number, note = int(match.group(1)), match.group(2).strip()
    view = r.mark_done_by_number(ctx.member, number, note, now=ctx.now, settings=ctx.settings)
    who = "党委管理员" if view.item.raised_by == "committee" else "支部书记"
    return (
        f"已标记完成：{r.describe(view.item)}\n完成情况：{note}\n"
        f"等待{who}验收；如验收未通过，会退回继续整改。"
    )


def register(dispatcher: Dispatcher) -> None:
    """Bind 清单 and 完成."""
    commands = [
        ("rectification_list", ("清单", "整改清单"), _on_list, "清单 — 查看我负责的整改事项"),
        ("rectification_done", ("完成",), _on_done, "完成 编号 完成情况 — 报告整改事项已完成"),
    ]
    for name, words, callback, help_text in commands:
        dispatcher.add(
            Handler(name, Bound() & Command(*words), callback, help=help_text, audience="member"),
            GROUP_MEMBER,
        )
