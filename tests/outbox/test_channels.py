"""Channels against the fake over real HTTP: byte limits and splitting, mentions, 93000, WeCom
app and app chat, template and subscribe messages, the resolver, secrets kept out of logs, the
CLI."""

from __future__ import annotations

import logging
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels import (
    CUT_NOTE,
    MAX_PARTS,
    ROBOT_MARKDOWN_MAX_BYTES,
    ROBOT_TEXT_MAX_BYTES,
    ChannelError,
    ConsoleChannel,
    TemplateMessage,
    WeComRobot,
    check_channel_settings,
    split_content,
    utf8_len,
)
from core.clock import utcnow
from core.config import ConfigError
from handlers import outbox
from handlers.outbox import Address, Skip
from models.base import db
from models.outbox import DEAD_NOTICE_KIND, OutboxMessage, mask_target
from models.wechat import SharedValue
from tests import factories as f
from tests.support.outbox import (
    AGENT_ID,
    CORP_SECRET,
    ROBOT,
    SECRET,
    TEMPLATE_ID,
    WEBHOOK,
    Env,
    drain_at,
    make_env,
    texts,
)

HAN = "党"  # 3 UTF-8 bytes


def strip_note(part: str) -> str:
    body, _, note = part.rpartition("\n")
    assert note.startswith("（内容较长，已分条发送 ")
    return body


# ----- splitting ---------------------------------------------------------------------------


def test_text_of_exactly_2048_bytes_is_one_message_and_2049_is_two():
    exact = HAN * 682 + "ab"  # 2,046 + 2 bytes
    assert utf8_len(exact) == ROBOT_TEXT_MAX_BYTES
    assert split_content(exact, ROBOT_TEXT_MAX_BYTES) == [exact]
    over = HAN * 683  # 2,049 bytes, one line: cut between characters
    parts = split_content(over, ROBOT_TEXT_MAX_BYTES)
    assert len(parts) == 2
    assert all(utf8_len(p) <= ROBOT_TEXT_MAX_BYTES for p in parts)
    assert "".join(strip_note(p) for p in parts) == over
    assert parts[0].endswith("（内容较长，已分条发送 1/2）")


def test_markdown_limit_is_4096_bytes():
    exact = HAN * 1365 + "a"  # 4,095 + 1
    assert split_content(exact, ROBOT_MARKDOWN_MAX_BYTES) == [exact]
    assert len(split_content(exact + "b", ROBOT_MARKDOWN_MAX_BYTES)) == 2


def test_split_prefers_line_ends():
    lines = [f"{i:02d}" + HAN * 100 for i in range(12)]  # 302 bytes a line
    parts = split_content("\n".join(lines), ROBOT_TEXT_MAX_BYTES)
    assert len(parts) == 2
    for part in parts:
        assert all(line in lines for line in strip_note(part).split("\n"))
    assert "\n".join(strip_note(p) for p in parts) == "\n".join(lines)


def test_too_long_is_cut_after_max_parts_with_a_note():
    text = "\n".join(HAN * 600 for _ in range(20))  # 36 KB
    parts = split_content(text, ROBOT_TEXT_MAX_BYTES)
    assert len(parts) == MAX_PARTS
    assert CUT_NOTE in parts[-1]
    assert all(utf8_len(p) <= ROBOT_TEXT_MAX_BYTES for p in parts)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(["党", "a", "\n", "😀", "é", " ", "𠀀", "，"]),
        min_size=1,
        max_size=3000,
    ),
    st.sampled_from([ROBOT_TEXT_MAX_BYTES, ROBOT_MARKDOWN_MAX_BYTES, 300]),
)
def test_split_never_exceeds_the_limit_and_keeps_every_character(text, limit):
    parts = split_content(text, limit, max_parts=1000)
    assert all(utf8_len(p) <= limit for p in parts)
    if len(parts) == 1:
        assert parts[0] == text
    else:
        rebuilt = "\n".join(strip_note(p) for p in parts)
        # Line ends between parts come back as "\n"; a line cut inside loses nothing either.
        assert rebuilt.replace("\n", "") == text.replace("\n", "")


# ----- the group robot against the fake ----------------------------------------------------


def robot_branch(key: str = ROBOT, **flags):
    br = f.branch()
    outbox.set_branch_channel(br.id, "wecom_robot", key, utcnow(), **flags)
    return br


def put(br, period: str = "p", **payload) -> OutboxMessage:
    outbox.enqueue("study_prompt", "branch", br.id, period, payload, branch_id=br.id,
                   now=utcnow())  # fmt: skip
    return OutboxMessage.get(OutboxMessage.period == period)


def test_robot_sends_chinese_text_at_the_byte_boundary_whole_or_split(env: Env, fake):
    br = robot_branch()
    put(br, "exact", text=HAN * 682 + "ab")
    put(br, "over", text=HAN * 683)
    report = drain_at(env.settings)
    assert report.sent == 2 and report.failed == 0
    got = texts(fake)
    assert got[0] == HAN * 682 + "ab"
    assert len(got) == 3  # the fake refuses anything over 2,048 bytes with 40058
    assert strip_note(got[1]) + strip_note(got[2]) == HAN * 683


def test_robot_mentions_by_userid_else_mobile_on_the_first_part_only(env: Env, fake):
    br = robot_branch()
    with_userid = f.member(br=br, phone="13912345678")
    outbox.set_wecom_userid(with_userid.id, "zhangsan", utcnow())
    by_phone = f.member(br=br, phone="13887654321")
    put(br, text="\n".join([HAN * 400] * 3), mention_member_ids=[with_userid.id, by_phone.id])
    drain_at(env.settings)
    first, *rest = (m["body"]["text"] for m in fake.messages("robot"))
    assert len(rest) == 2
    assert first["mentioned_list"] == ["zhangsan"]
    assert first["mentioned_mobile_list"] == ["13887654321"]
    for later in rest:
        assert "mentioned_list" not in later and "mentioned_mobile_list" not in later


def test_robot_without_mentions_and_markdown_mentions(env: Env, fake):
    quiet = robot_branch(mention=False)
    m = f.member(br=quiet)
    outbox.set_wecom_userid(m.id, "lisi", utcnow())
    put(quiet, "t", text="会议提醒", mention_member_ids=[m.id], mention_all=True)
    loud = f.branch("第二党支部")
    outbox.set_branch_channel(loud.id, "wecom_robot", ROBOT + "-b", utcnow())
    m2 = f.member(br=loud)
    outbox.set_wecom_userid(m2.id, "wangwu", utcnow())
    outbox.enqueue("meeting_reminder", "branch", loud.id, "md",
                   {"text": "**会议**", "format": "markdown", "mention_member_ids": [m2.id]},
                   branch_id=loud.id, now=utcnow())  # fmt: skip
    drain_at(env.settings)
    plain = fake.messages("robot", ROBOT)[0]["body"]["text"]
    assert plain == {"content": "会议提醒"}
    markdown = fake.messages("robot", ROBOT + "-b")[0]["body"]
    assert markdown == {"msgtype": "markdown", "markdown": {"content": "**会议**\n<@wangwu>"}}


def test_a_removed_robot_kills_its_message_at_once_and_tells_the_secretary(env: Env, fake):
    br = robot_branch("removed-robot-key-0000001")  # not "demo-": the fake answers 93000
    secretary = f.member("书记", br=br, roles="secretary")
    row = put(br, text="学习提醒")
    report = drain_at(env.settings)
    assert report.dead == 1 and fake.calls[WEBHOOK] == 1
    row = OutboxMessage.get_by_id(row.id)
    assert row.status == "dead" and row.attempts == 1 and "93000" in row.last_error
    notice = OutboxMessage.get(OutboxMessage.kind == DEAD_NOTICE_KIND)
    assert notice.target_type == "member" and notice.target_id == secretary.id
    assert "机器人已被移除或 key 无效" in notice.data["text"]
    assert "removed-robot-key" not in notice.payload


def test_robot_error_classification(env: Env, fake):
    robot = WeComRobot(env.settings)
    address = Address("wecom_robot", ROBOT, "test", lane="x", rate_bucket="robot:x")
    message = {"msgtype": "text", "text": {"content": "x"}}
    cases = [
        ({"errcode": 45009}, True, True),
        ({"errcode": 93000}, False, False),
        ({"errcode": -1}, True, False),
        ({"http_status": 503}, True, False),
        ({"body": "<html>busy</html>"}, True, False),
    ]
    for fault, retryable, rate_limited in cases:
        fake.inject(WEBHOOK, **fault)
        with pytest.raises(ChannelError) as caught:
            robot.post(message, address)
        assert caught.value.retryable is retryable, fault
        assert caught.value.rate_limited is rate_limited, fault
        assert ROBOT not in str(caught.value)
    assert caught.value.retry_after is None
    fake.inject(WEBHOOK, errcode=45009)
    with pytest.raises(ChannelError) as caught:
        robot.post(message, address)
    assert caught.value.retry_after == env.settings.outbox.robot_backoff_seconds


@pytest.fixture
def unreachable():
    """A port whose listen queue is full: a connect to it times out (its SYN goes unanswered)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for sock in (*fillers, server):
        sock.close()


def test_a_failed_connect_and_a_late_answer_are_told_apart(db_url, fake, unreachable):
    """A connect timeout sent nothing; a read timeout may follow an accepted message."""
    timeouts = {"connect_timeout_seconds": 0.3, "read_timeout_seconds": 0.5}
    env = make_env(db_url, fake, outbox=timeouts)
    message = {"msgtype": "text", "text": {"content": "x"}}
    address = Address("wecom_robot", ROBOT, "test", lane="x", rate_bucket="robot:x")
    fake.inject(WEBHOOK, hold=3.0)
    with pytest.raises(ChannelError) as late:
        WeComRobot(env.settings).post(message, address)
    assert late.value.retryable and "no answer within 0.5 s" in str(late.value)
    far = make_env(db_url, fake, outbox=timeouts, channels={"wecom_api_base_url": unreachable})
    with pytest.raises(ChannelError) as refused:
        WeComRobot(far.settings).post(message, address)
    assert refused.value.retryable
    assert "no connection within 0.3 s (nothing sent)" in str(refused.value)
    assert ROBOT not in str(late.value) + str(refused.value)
    far = make_env(db_url, fake, outbox=timeouts, wechat={"api_base_url": unreachable})
    follower = Address("template", "oUnreachable00000001", "t", lane="m", template_id=TEMPLATE_ID)
    with far.app.app_context(), db.connection_context():
        with pytest.raises(ChannelError) as token:  # the token fetch cannot connect
            TemplateMessage(far.settings).post({"template_id": TEMPLATE_ID, "data": {}}, follower)
    assert "no connection within 0.3 s (nothing sent)" in str(token.value)


# ----- WeCom app, app chat, template, subscribe, console -----------------------------------


def test_wecom_app_message_to_a_member_by_userid(env: Env, fake):
    br = f.branch()
    m = f.member(br=br)
    outbox.set_wecom_userid(m.id, "zhaoliu", utcnow())
    f.bound(m, "oAlsoFollowsTheAccount01", app="oa")  # WeCom wins over the template
    outbox.enqueue("dues_personal", "member", m.id, "2026-03", {"text": "请缴纳三月党费"},
                   branch_id=br.id, now=utcnow())  # fmt: skip
    assert drain_at(env.settings).sent == 1
    (message,) = fake.messages("wecom_app", "zhaoliu")
    assert message["body"]["agentid"] == AGENT_ID
    assert message["body"]["text"]["content"] == "请缴纳三月党费"
    assert fake.messages("template") == []
    assert OutboxMessage.get().channel == "wecom_app"


def test_wecom_app_unknown_userid_is_dead_with_a_reason(env: Env, fake):
    br = f.branch()
    f.member("书记", br=br, roles="secretary")
    m = f.member(br=br)
    outbox.set_wecom_userid(m.id, "ghost", utcnow())
    fake.wecom_users = {"zhaoliu"}  # "ghost" is not in the app's visible range
    outbox.enqueue("dues_personal", "member", m.id, "2026-03", {"text": "党费"},
                   branch_id=br.id, now=utcnow())  # fmt: skip
    assert drain_at(env.settings).dead == 1
    notice = OutboxMessage.get(OutboxMessage.kind == DEAD_NOTICE_KIND)
    assert "可见范围" in notice.data["text"]


def test_wecom_appchat_to_a_branch_group(env: Env, fake):
    br = f.branch()
    outbox.set_branch_channel(br.id, "wecom_appchat", "chat-0123456789abcdef", utcnow())
    put(br, text="今日学习：党章第二章", format="markdown")
    assert drain_at(env.settings).sent == 1
    (message,) = fake.messages("appchat", "chat-0123456789abcdef")
    assert message["body"]["msgtype"] == "markdown"
    assert message["body"]["markdown"]["content"] == "今日学习：党章第二章"


def test_template_message_and_one_token_refresh_after_revocation(env: Env, fake):
    br = f.branch()
    m = f.member(br=br)
    openid = f.bound(m, "oTemplateOpenid00000001", app="oa")
    outbox.enqueue("meeting_reminder", "member", m.id, "m1",
                   {"text": "明天15:00开会", "title": "会议提醒", "url": "https://example.org/m/1"},
                   branch_id=br.id, now=utcnow())  # fmt: skip
    assert drain_at(env.settings).sent == 1
    body = fake.messages("template", openid)[0]["body"]
    assert body["template_id"] == TEMPLATE_ID and body["url"] == "https://example.org/m/1"
    assert body["data"] == {"first": {"value": "会议提醒"}, "keyword1": {"value": "明天15:00开会"}}
    fake.revoke_tokens()  # N5: 40001 -> one refresh, one retry
    token_calls = fake.token_calls
    outbox.enqueue("meeting_reminder", "member", m.id, "m2", {"text": "一小时后开会"},
                   branch_id=br.id, now=utcnow())  # fmt: skip
    assert drain_at(env.settings).sent == 1
    assert fake.token_calls == token_calls + 1
    assert len(fake.messages("template", openid)) == 2


def test_console_channel_logs_the_message(env: Env, fake, caplog):
    br = f.branch()
    f.group_channel(br)  # console
    caplog.set_level(logging.INFO, logger="bot.channels")
    put(br, text="控制台里的学习提醒")
    assert drain_at(env.settings).sent == 1
    assert "控制台里的学习提醒" in caplog.text
    assert fake.received == []
    assert ConsoleChannel(env.settings).messages({"text": "x"}, None) == [{"content": "x"}]


def test_personal_console_fallback_for_the_demo(db_url, fake):
    env = make_env(db_url, fake, channels={"personal_fallback": "console", "template_id": ""})
    with env.app.app_context():
        from models.base import db

        with db.connection_context():
            br = f.branch()
            m = f.member(br=br)
            f.bound(m, "oNoTemplateConfigured01", app="oa")
            rows = [
                OutboxMessage.create(
                    kind="k",
                    target_type="member",
                    target_id=m.id,
                    period="p",
                    branch=br,
                    payload='{"text": "x"}',
                    next_attempt_at=utcnow(),
                )  # fmt: skip
            ]
            (address,) = outbox.resolve_addresses(rows, env.settings).values()
    assert isinstance(address, Address) and address.channel == "console"


# ----- the resolver ------------------------------------------------------------------------


def test_personal_channel_priority(env: Env):
    br = f.branch()
    both, oa_only, mini_credit, mini_none, nothing = (f.member(br=br) for _ in range(5))
    outbox.set_wecom_userid(both.id, "both", utcnow())
    f.bound(both, "oBothOa000000000000001", app="oa")
    f.bound(oa_only, "oOaOnly000000000000001", app="oa")
    f.bound(mini_credit, "oMiniCredit0000000001", app="mini")
    outbox.add_subscribe_credits("oMiniCredit0000000001", "tpl-subscribe-01", utcnow())
    f.bound(mini_none, "oMiniNone000000000001", app="mini")
    members = [both, oa_only, mini_credit, mini_none, nothing]
    rows = [
        OutboxMessage.create(kind="k", target_type="member", target_id=m.id, period="p",
                             branch=br, payload='{"text": "x"}', next_attempt_at=utcnow())
        for m in members
    ]  # fmt: skip
    got = outbox.resolve_addresses(rows, env.settings)
    kinds = [getattr(got[r.id], "channel", None) for r in rows]
    assert kinds == ["wecom_app", "template", "subscribe", None, None]
    assert "额度" in got[rows[3].id].reason and "个人通知渠道" in got[rows[4].id].reason
    assert isinstance(got[rows[4].id], Skip)


def test_resolver_uses_a_constant_number_of_queries(env: Env, caplog):
    def rows_for(n: int) -> list[OutboxMessage]:
        out = []
        for _ in range(n):
            br = f.branch(f"支部{f.member().id}")
            outbox.set_branch_channel(br.id, "wecom_robot", f"demo-{br.id}-robot-key-x", utcnow())
            m = f.member(br=br)
            out.append(put(br, f"g{br.id}", text="x", mention_member_ids=[m.id]))
            outbox.enqueue("k", "member", m.id, "p", {"text": "x"}, branch_id=br.id, now=utcnow())
            out.append(OutboxMessage.get(OutboxMessage.target_id == m.id))
        return out

    def count(rows: list[OutboxMessage]) -> int:
        caplog.set_level(logging.DEBUG, logger="peewee")
        caplog.clear()
        outbox.resolve_addresses(rows, env.settings)
        return sum(1 for r in caplog.records if r.name == "peewee")

    assert count(rows_for(2)) == count(rows_for(20))


# ----- secrets -----------------------------------------------------------------------------


def test_secrets_never_reach_logs_errors_or_cli(env: Env, fake, caplog):
    caplog.set_level(logging.DEBUG)
    good = robot_branch()
    bad_key = "removed-robot-secret-key-42"
    bad = f.branch("第二党支部")
    outbox.set_branch_channel(bad.id, "wecom_robot", bad_key, utcnow())
    f.member("书记", br=bad, roles="secretary")
    put(good, "a", text="正常发送")
    put(bad, "b", text="机器人已删除")
    m = f.member(br=good)
    f.bound(m, "oSecretsOpenid0000001", app="oa")
    w = f.member(br=good)
    outbox.set_wecom_userid(w.id, "secretsuser", utcnow())
    for member, period in ((m, "t"), (w, "w")):
        outbox.enqueue("k", "member", member.id, period, {"text": "个人"}, branch_id=good.id,
                       now=utcnow())  # fmt: skip
    fake.inject(WEBHOOK, http_status=500)  # a failure path too
    drain_at(env.settings)
    rows = list(OutboxMessage.select().where(OutboxMessage.status == "pending"))
    drain_at(env.settings, max(r.next_attempt_at for r in rows))
    assert len(fake.messages("robot")) == 1
    assert fake.messages("template") and fake.messages("wecom_app")
    tokens = [sv.value.strip('"') for sv in SharedValue.select() if "token" in sv.key]
    assert len(tokens) == 2  # the official account's and WeCom's
    runner = env.app.test_cli_runner()
    shown = runner.invoke(args=["channels", "show"]).output
    listed = runner.invoke(args=["outbox", "list"]).output
    haystacks = {
        "logs": caplog.text,
        "errors": " ".join(r.last_error for r in OutboxMessage.select()),
        "payloads": " ".join(r.payload for r in OutboxMessage.select()),
        "cli": shown + listed,
    }
    for where, text in haystacks.items():
        for secret in (ROBOT, bad_key, SECRET, CORP_SECRET, *tokens):
            assert secret not in text, f"a secret in {where}"
    assert mask_target(ROBOT) in shown and mask_target(bad_key) in shown
    assert "93000" in haystacks["errors"]


# ----- CLI and start-up checks -------------------------------------------------------------


def test_cli_sets_and_shows_channels_masked_and_drains(env: Env, fake):
    f.branch("第一党支部")
    f.member(phone="13911112222")
    runner = env.app.test_cli_runner()
    result = runner.invoke(
        args=["channels", "set", "--branch", "第一党支部", "--robot-key", "-", "--nudge"],
        input=ROBOT + "\n",
    )
    assert result.exit_code == 0, result.output
    assert ROBOT not in result.output and mask_target(ROBOT) in result.output
    assert "晚间督促开" in result.output
    again = runner.invoke(args=["channels", "set", "--branch", "第一党支部", "--no-mention"])
    assert again.exit_code == 0 and "@提醒关" in again.output and "晚间督促开" in again.output
    both = runner.invoke(args=["channels", "set", "--branch", "第一党支部", "--console",
                               "--robot-key", "x"])  # fmt: skip
    assert both.exit_code == 1 and "只能选一个" in both.output
    missing = runner.invoke(args=["channels", "set", "--branch", "不存在", "--console"])
    assert missing.exit_code == 1 and "找不到" in missing.output
    user = runner.invoke(args=["channels", "wecom-user", "--phone", "13911112222",
                               "--userid", "zhangsan"])  # fmt: skip
    assert user.exit_code == 0 and "zhangsan" in user.output
    br = f.branch("第一党支部")
    put(br, text="命令行发送")
    drained = runner.invoke(args=["outbox", "drain", "--max-seconds", "2"])
    assert drained.exit_code == 0 and "sent 1" in drained.output
    listed = runner.invoke(args=["outbox", "list", "--status", "sent"])
    assert "study_prompt" in listed.output and "wecom_robot" in listed.output
    dead = runner.invoke(args=["outbox", "list", "--status", "dead"])
    assert dead.output.strip() == "（没有消息）"


def test_start_up_check_names_the_missing_setting(db_url, fake):
    env = make_env(db_url, fake, channels={"wecom_corp_id": "", "wecom_corp_secret": ""})
    with env.app.app_context():
        from models.base import db

        with db.connection_context():
            assert check_channel_settings(env.settings) == []
            br = f.branch()
            outbox.set_branch_channel(br.id, "wecom_appchat", "chat-1", utcnow())
            with pytest.raises(ConfigError) as caught:
                check_channel_settings(env.settings)
    assert caught.value.key == "channels.wecom_corp_id"
    env = make_env(db_url, fake, channels={"wecom_corp_secret": ""})
    with env.app.app_context():
        with pytest.raises(ConfigError, match="channels.wecom_corp_secret"):
            check_channel_settings(env.settings)
