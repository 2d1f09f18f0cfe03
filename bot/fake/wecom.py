"""The fake's WeCom endpoints: app group chats, app messages to members and group robots."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from bot.fake.records import (
    APP_MESSAGE_MAX_BYTES,
    APPCHAT_CONTENT_MAX_BYTES,
    APPCHAT_TYPES,
    ERRMSGS,
    ROBOT_LIMIT,
    ROBOT_MARKDOWN_MAX_BYTES,
    ROBOT_TEXT_MAX_BYTES,
    ROBOT_WINDOW,
    ApiError,
    FakeClock,
    Response,
    check_content,
    check_string_list,
    json_response,
    ok,
    parse_json_body,
)


class WeComEndpoints:
    """Answer the WeCom message APIs; mixed into FakeWeChat, which holds the state and records
    what was accepted (``_record``, ``_next_msgid``)."""

    chats: dict[str, dict[str, Any]]
    clock: FakeClock
    robot_keys: set[str] | None
    wecom_users: set[str] | None
    _robot_sent: dict[str, list[float]]
    _record: Callable[[str, str, dict[str, Any]], None]
    _next_msgid: Callable[[], int]

    def _appchat_create(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Create an app group chat (at least two members) and return its chatid."""
        data = parse_json_body(body)
        users = data.get("userlist")
        if not isinstance(users, list) or len(users) < 2:
            raise ApiError(40058, "invalid parameter, userlist needs at least 2 members")
        chat_id = data.get("chatid") or secrets.token_hex(16)
        if not isinstance(chat_id, str):
            raise ApiError(40058, "invalid parameter, chatid must be a string")
        self.chats[chat_id] = data
        return ok(chatid=chat_id)

    def _appchat_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a message to an app group chat."""
        data = parse_json_body(body)
        chat_id = data.get("chatid")
        if not isinstance(chat_id, str) or not chat_id:
            raise ApiError(86003)
        msgtype = data.get("msgtype")
        if msgtype not in APPCHAT_TYPES:
            raise ApiError(40008)
        if msgtype in ("text", "markdown"):
            check_content(data.get(msgtype), APPCHAT_CONTENT_MAX_BYTES)
        elif not isinstance(data.get(msgtype), dict):
            raise ApiError(40058, f"invalid parameter, {msgtype} is not an object")
        self._record("appchat", chat_id, data)
        return ok()

    def _wecom_user_known(self, userid: str) -> bool:
        """Tell whether a userid is in the app's visible range (userids ignore case)."""
        if self.wecom_users is None:
            return True
        return userid.lower() in {known.lower() for known in self.wecom_users}

    def _message_send(self, query: dict[str, str], body: bytes) -> dict[str, Any] | Response:
        """Accept an app message to members by userid ("a|b"), recorded once per member.

        As WeCom does: userids outside the visible range come back in ``invaliduser`` (lower
        case, "|"-separated) while the others still get the message; when none is valid the
        call fails with 81013.
        """
        data = parse_json_body(body)
        touser = data.get("touser")
        if not isinstance(touser, str) or not touser.strip("| "):
            raise ApiError(40058, "invalid parameter, touser missing")
        agent_id = data.get("agentid")
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):
            raise ApiError(40056)
        msgtype = data.get("msgtype")
        if msgtype not in ("text", "markdown"):
            raise ApiError(40008)
        check_content(data.get(msgtype), APP_MESSAGE_MAX_BYTES)
        users = [u.strip() for u in touser.split("|") if u.strip()]
        known = [u for u in users if self._wecom_user_known(u)]
        invalid = "|".join(u.lower() for u in users if not self._wecom_user_known(u))
        if not known:
            return json_response(
                {"errcode": 81013, "errmsg": ERRMSGS[81013], "invaliduser": invalid}
            )
        for userid in known:
            self._record("wecom_app", userid, data)
        return ok(invaliduser=invalid, msgid=str(self._next_msgid()))

    def _robot_key_valid(self, key: str) -> bool:
        """Tell whether a group-robot key exists."""
        if self.robot_keys is None:
            return key.startswith("demo-")
        return key in self.robot_keys

    def _webhook_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a group-robot message: byte limits, 20 per sliding 60 s per key."""
        key = query.get("key", "")
        if not key or not self._robot_key_valid(key):
            raise ApiError(93000)
        data = parse_json_body(body)
        msgtype = data.get("msgtype")
        if msgtype == "text":
            section = data.get("text")
            check_content(section, ROBOT_TEXT_MAX_BYTES)
            check_string_list(section, "mentioned_list")
            check_string_list(section, "mentioned_mobile_list")
        elif msgtype == "markdown":
            check_content(data.get("markdown"), ROBOT_MARKDOWN_MAX_BYTES)
        else:
            raise ApiError(40008)
        now = self.clock.now()
        recent = [at for at in self._robot_sent.get(key, []) if now - ROBOT_WINDOW < at <= now]
        if len(recent) >= ROBOT_LIMIT:
            self._robot_sent[key] = recent
            raise ApiError(45009, "api freq out of limit")
        recent.append(now)
        self._robot_sent[key] = recent
        self._record("robot", key, data)
        return ok()
