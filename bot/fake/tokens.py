"""The fake's token endpoints: official-account, stable and WeCom tokens, and the daily quota."""

from __future__ import annotations

import secrets
from typing import Any

from bot.fake.records import (
    BEIJING_UTC_OFFSET,
    DAY,
    OLD_TOKEN_GRACE,
    STABLE_REFRESH_MARGIN,
    TOKEN_TTL,
    ApiError,
    FakeClock,
    Quota,
    Token,
    ok,
    parse_json_body,
)


class TokenEndpoints:
    """Issue and check access tokens; mixed into FakeWeChat, which holds the state."""

    appid: str
    secret: str
    corp_id: str
    corp_secret: str
    token_quota: int
    clock: FakeClock
    _tokens: dict[str, Token]
    _stable_current: Token | None
    _corp_current: Token | None
    _quota: Quota

    def _check_token(self, value: str, family: str) -> None:
        """Require a live access token of ``family`` (40001 unknown/stale, 42001 expired)."""
        token = self._tokens.get(value) if value else None
        if token is None or token.family != family or token.revoked:
            raise ApiError(40001)
        now = self.clock.now()
        if token.invalid_after is not None and now >= token.invalid_after:
            raise ApiError(40001)
        if now >= token.expires_at:
            raise ApiError(42001)

    def _issue_token(self, family: str) -> Token:
        """Create and store a new token of ``family``."""
        now = self.clock.now()
        token = Token(secrets.token_urlsafe(96), family, now, now + TOKEN_TTL)
        self._tokens[token.value] = token
        return token

    def _roll_quota_day(self) -> None:
        """Start a new quota day when the fake clock crossed Beijing midnight."""
        day = int((self.clock.now() + BEIJING_UTC_OFFSET) // DAY)
        if day != self._quota.day:
            self._quota = Quota(day=day)

    def _use_quota(self) -> None:
        """Count one token call against today's quota (45009 when used up)."""
        self._roll_quota_day()
        if self._quota.used >= self.token_quota:
            raise ApiError(45009)
        self._quota.used += 1

    def _check_app_credentials(self, appid: Any, secret: Any) -> None:
        """Require this app's appid (40013) and secret (40125)."""
        if not appid:
            raise ApiError(41002)
        if appid != self.appid:
            raise ApiError(40013)
        if not secret:
            raise ApiError(41004)
        if secret != self.secret:
            raise ApiError(40125)

    def _token(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Issue a new OA token; the previous ones stay valid 300 s more."""
        if query.get("grant_type") != "client_credential":
            raise ApiError(40002)
        self._check_app_credentials(query.get("appid"), query.get("secret"))
        self._use_quota()
        now = self.clock.now()
        for token in self._tokens.values():
            # stable_token tokens live apart: a plain token call does not supersede them.
            superseded = token.family == "oa" and token is not self._stable_current
            if superseded and token.invalid_after is None:
                token.invalid_after = now + OLD_TOKEN_GRACE
        token = self._issue_token("oa")
        return {"access_token": token.value, "expires_in": TOKEN_TTL}

    def _stable_token(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Return the stable token, renewed 300 s before expiry or when forced."""
        data = parse_json_body(body)
        if data.get("grant_type") != "client_credential":
            raise ApiError(40002)
        self._check_app_credentials(data.get("appid"), data.get("secret"))
        force = data.get("force_refresh", False)
        if not isinstance(force, bool):
            raise ApiError(47001)
        self._use_quota()
        now = self.clock.now()
        current = self._stable_current
        stale = (
            current is None or current.revoked or now >= current.expires_at - STABLE_REFRESH_MARGIN
        )
        if force or stale or current is None:
            if current is not None and current.invalid_after is None:
                current.invalid_after = now + OLD_TOKEN_GRACE
            current = self._issue_token("oa")
            self._stable_current = current
        return {"access_token": current.value, "expires_in": int(current.expires_at - now)}

    def _gettoken(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Return the WeCom token, the same one until it expires."""
        corp_id, corp_secret = query.get("corpid"), query.get("corpsecret")
        if not corp_id:
            raise ApiError(41002, "corpid missing")
        if corp_id != self.corp_id:
            raise ApiError(40013, "invalid corpid")
        if not corp_secret:
            raise ApiError(41004, "corpsecret missing")
        if corp_secret != self.corp_secret:
            raise ApiError(40001, "invalid credential")
        now = self.clock.now()
        current = self._corp_current
        if current is None or current.revoked or now >= current.expires_at:
            current = self._issue_token("corp")
            self._corp_current = current
        return ok(access_token=current.value, expires_in=int(current.expires_at - now))
