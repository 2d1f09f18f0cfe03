"""Load settings from a TOML file, demo defaults and ZHIBU_<SECTION>__<KEY> overrides."""

from __future__ import annotations

import base64
import binascii
import copy
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

ENV_PREFIX = "ZHIBU_"

# Demo credentials: public, for the local fake WeChat only. Production sets its own.
DEMO_TOKEN = "zhibudemotoken"  # noqa: S105 - demo only, documented as public
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEMO_APPID = "wxdemoappid000001"
# The demo's signing key, also the value in config.example.toml: refused outside the demo.
DEMO_SECRET_KEY = "demo-secret-key-change-me"  # noqa: S105 - demo only, documented as public
EXAMPLE_SECRET_KEYS = frozenset({DEMO_SECRET_KEY})
MIN_SECRET_KEY_BYTES = 32


class ConfigError(SystemExit):
    """A setting is missing or wrong; start-up stops with one line naming it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config error: {key}: {problem}")


def _aes_key(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) != 43:
        return "expected the 43-character EncodingAESKey from the WeChat admin console"
    try:
        if len(base64.b64decode(value + "=", validate=True)) != 32:
            return "expected 43 base64 characters decoding to 32 bytes"
    except (binascii.Error, ValueError):
        return "expected 43 base64 characters (A-Z, a-z, 0-9, +, /)"
    return None


def _timezone(value: Any) -> str | None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        return "expected an IANA time zone name such as Asia/Shanghai"
    return None


def _db_url(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith(
        ("sqlite:///", "postgresql://", "postgres://")
    ):
        return "expected sqlite:///path/to/file.db or postgresql://user@host:port/dbname"
    return None


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"expected one of {', '.join(choices)}"

    return check


PERIODS = ("month", "quarter", "year", "none")


def _cron(value: Any) -> str | None:
    fields = value.split() if isinstance(value, str) else []
    if len(fields) != 5:
        return "expected 5 cron fields: minute hour day month day-of-week, e.g. '0 8 * * *'"
    if any(ch.isdigit() for ch in fields[4]):
        return "write the day of week by name (mon, tue, … sun), e.g. '0 9 * * sat'"
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        return f"not a valid cron string ({exc})"
    return None


def _iso_dates(value: Any) -> str | None:
    from datetime import date

    for item in value:
        try:
            date.fromisoformat(str(item))
        except ValueError:
            return f'expected a list of dates like "2026-10-01", got {item!r}'
    return None


def _positive(value: Any) -> str | None:
    return None if value > 0 else "expected a number greater than 0"


def _nonempty(value: Any) -> str | None:
    return None if value.strip() else "expected a non-empty string"


def parse_rates(text: str) -> list[tuple[int | None, Decimal]]:
    """Read a dues rate table "3000=0.5%, 5000=1%, 2%" as [(limit in fen or None, rate)].

    Each "limit=rate" bracket covers bases up to and including the limit (yuan); the last, bare,
    rate covers everything above. Limits must rise; rates are percentages from 0 to 100.
    """
    brackets: list[tuple[int | None, Decimal]] = []
    parts = [p.strip() for p in text.split(",")]
    for index, part in enumerate(parts):
        limit_text, _, rate_text = part.rpartition("=")
        last = index == len(parts) - 1
        if bool(limit_text) == last or not rate_text.endswith("%"):
            raise ValueError(f"bracket {part!r}: expected limit=rate% (the last one rate% only)")
        try:
            rate = Decimal(rate_text[:-1].strip()) / 100
            limit = None if last else int(Decimal(limit_text.strip()) * 100)
        except InvalidOperation:
            raise ValueError(f"bracket {part!r}: not a number") from None
        if not 0 <= rate <= 1 or (limit is not None and limit <= 0):
            raise ValueError(f"bracket {part!r}: rate must be 0-100% and the limit positive")
        if limit is not None and brackets and limit <= (brackets[-1][0] or 0):
            raise ValueError(f"bracket {part!r}: limits must rise")
        brackets.append((limit, rate))
    return brackets


def _rates(value: Any) -> str | None:
    try:
        parse_rates(value)
    except ValueError as exc:
        return f"expected a rate table such as '3000=0.5%, 5000=1%, 2%' ({exc})"
    return None


@dataclass(frozen=True)
class Setting:
    """One documented setting: its type, demo default and extra check."""

    type: type
    default: Any
    check: Callable[[Any], str | None] | None = None


SCHEMA: dict[str, dict[str, Setting]] = {
    "app": {
        "secret_key": Setting(str, DEMO_SECRET_KEY, _nonempty),
        "timezone": Setting(str, "Asia/Shanghai", _timezone),
        "log_level": Setting(str, "INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR")),
        "max_body_bytes": Setting(int, 65536, _positive),
        # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted
        # (0: none, the client address is the TCP peer).
        "trusted_proxies": Setting(
            int, 0, lambda v: None if 0 <= v <= 5 else "expected 0-5 proxy hops"
        ),
    },
    "database": {
        "url": Setting(str, "sqlite:///instance/zhibu.db", _db_url),
        "lock_timeout": Setting(float, 2.0, _positive),
    },
    "wechat": {
        "mode": Setting(str, "safe", _one_of("safe", "plain")),
        "token": Setting(str, DEMO_TOKEN, _nonempty),
        "encoding_aes_key": Setting(str, DEMO_AES_KEY, _aes_key),
        "app_id": Setting(str, DEMO_APPID, _nonempty),
        "app_secret": Setting(str, "demo-secret", _nonempty),
        "timestamp_window": Setting(int, 300, _positive),
        "api_base_url": Setting(str, "https://api.weixin.qq.com", _nonempty),
    },
    "binding": {
        "code_length": Setting(int, 8, lambda v: None if v >= 8 else "expected at least 8"),
        "code_ttl_days": Setting(int, 7, _positive),
        "max_failures_per_hour": Setting(int, 5, _positive),
    },
    "study": {
        "reflection_max_chars": Setting(int, 500, _positive),
        # Days without a study prompt (public holidays), and weekend days that are workdays
        # (调休): ISO dates, e.g. ["2026-10-01", "2026-10-02"].
        "holidays": Setting(list, [], _iso_dates),
        "makeup_workdays": Setting(list, [], _iso_dates),
    },
    "alerts": {
        # A party member with no interaction for this many days is flagged as lost contact.
        "lost_contact_days": Setting(int, 90, _positive),
    },
    "meetings": {
        "default_duration_minutes": Setting(int, 90, _positive),
        "signin_open_before_minutes": Setting(int, 30, _positive),
        "signin_close_after_start_minutes": Setting(int, 60, _positive),
        "signin_code_length": Setting(int, 6, lambda v: None if 4 <= v <= 12 else "expected 4-12"),
        "max_wrong_codes_per_hour": Setting(int, 10, _positive),
        # How often each kind is required: month, quarter, year, or none (DOMAIN.md).
        "frequency_general": Setting(str, "quarter", _one_of(*PERIODS)),
        "frequency_committee": Setting(str, "month", _one_of(*PERIODS)),
        "frequency_group": Setting(str, "month", _one_of(*PERIODS)),
        "frequency_lesson": Setting(str, "quarter", _one_of(*PERIODS)),
        "frequency_theme_day": Setting(str, "month", _one_of(*PERIODS)),
        "frequency_life_meeting": Setting(str, "year", _one_of(*PERIODS)),
        "frequency_appraisal": Setting(str, "year", _one_of(*PERIODS)),
        # A required meeting with this many days or fewer left in its period is "due soon".
        "due_soon_days": Setting(int, 7, _positive),
    },
    "dues": {
        # Rates on the after-tax monthly base (DOMAIN.md, the 2008 table); see parse_rates.
        "in_service_rates": Setting(str, "3000=0.5%, 5000=1%, 10000=1.5%, 2%", _rates),
        "retired_rates": Setting(str, "5000=0.5%, 1%", _rates),
        # Farmers pay what the branch sets within these bounds; 0.2-category members pay this.
        "farmer_min_fen": Setting(int, 20, _positive),
        "farmer_max_fen": Setting(int, 100, _positive),
        "student_fen": Setting(int, 20, _positive),
        "prepay_max_months": Setting(int, 12, lambda v: None if v >= 0 else "expected >= 0"),
        "voluntary_whole_fen": Setting(int, 100000, _positive),
        "max_payment_fen": Setting(int, 10000000, _positive),
        "max_base_fen": Setting(int, 100000000, _positive),
        # The six-month rule (党章 第九条): warn at these consecutive months; the last is 6.
        "alert_first_months": Setting(int, 3, _positive),
        "alert_second_months": Setting(int, 5, _positive),
        "lapse_months": Setting(int, 6, _positive),
        "lookback_months": Setting(int, 12, _positive),
    },
    "imports": {
        # Roster and dues files (.xlsx, .csv), checked before anything parses them. The
        # defaults fit a 100,000-member committee twice over (README: Importing the roster).
        "max_file_bytes": Setting(int, 32 * 1024 * 1024, _positive),
        "max_uncompressed_bytes": Setting(int, 200 * 1024 * 1024, _positive),
        "max_zip_members": Setting(int, 1000, _positive),
        "max_rows": Setting(int, 200_000, _positive),
        "max_columns": Setting(int, 200, lambda v: None if v >= 20 else "expected at least 20"),
        "max_cell_chars": Setting(
            int, 1000, lambda v: None if v >= 100 else "expected at least 100"
        ),
    },
    "scheduler": {
        # Cron strings (minute hour day month day-of-week), in app.timezone. Day-of-week
        # by name (mon-sun): APScheduler 3 reads 0 as Monday, crontab as Sunday.
        "token_refresh": Setting(str, "*/5 * * * *", _cron),
        "meeting_qr": Setting(str, "*/10 * * * *", _cron),
        "study_prompt": Setting(str, "0 8 * * *", _cron),
        "study_nudge": Setting(str, "0 20 * * *", _cron),
        "study_summary": Setting(str, "0 18 * * fri", _cron),
        "meeting_reminders": Setting(str, "*/5 * * * *", _cron),
        "dues_reminder": Setting(str, "0 9 5 * *", _cron),
        "secretary_digest": Setting(str, "30 8 * * *", _cron),
        "volunteer_prompt": Setting(str, "0 9 * * sat", _cron),
        # Housekeeping: drop callback dedupe rows, old rate events and dead API sessions.
        "prune": Setting(str, "40 3 * * *", _cron),
        # Callback dedupe rows are kept this many days (WeChat retries within seconds).
        "keep_inbound_days": Setting(int, 7, _positive),
        # Expired or revoked mini-program sessions are kept this many days past expiry.
        "keep_api_session_days": Setting(int, 30, _positive),
        "outbox_drain_seconds": Setting(int, 10, _positive),
        # The database lease that keeps a second scheduler process idle.
        "lease_seconds": Setting(int, 60, _positive),
        # A job missed while the scheduler was down runs once at start if its last due time
        # is this recent; older misses are skipped.
        "catch_up_hours": Setting(int, 12, _positive),
    },
    "outbox": {
        # Rows one drain pass claims at a time, and the sender threads working on them.
        "batch_size": Setting(int, 100, _positive),
        "concurrency": Setting(int, 4, _positive),
        # Retries: attempt n waits min(cap, base * factor ** (n - 1)) seconds, less a random
        # share of up to `jitter` of it; the row is dead after max_attempts failed attempts.
        "max_attempts": Setting(int, 6, _positive),
        "backoff_base_seconds": Setting(float, 30.0, _positive),
        "backoff_factor": Setting(float, 2.0, lambda v: None if v >= 1 else "expected >= 1"),
        "backoff_cap_seconds": Setting(float, 3600.0, _positive),
        "backoff_jitter": Setting(float, 0.5, lambda v: None if 0 <= v < 1 else "expected 0-1"),
        # A row claimed longer ago than this is taken over (its drainer crashed).
        "claim_timeout_seconds": Setting(int, 300, _positive),
        # How long one drain call may keep going (waiting for rate windows included).
        "drain_max_seconds": Setting(float, 8.0, _positive),
        # WeCom group robots: at most this many messages per window per robot key; after a
        # 45009 the key rests this long.
        "robot_rate_limit": Setting(int, 20, _positive),
        "robot_rate_window_seconds": Setting(float, 60.0, _positive),
        "robot_backoff_seconds": Setting(float, 60.0, _positive),
        # Each send: the time allowed to connect (nothing is sent before the connection
        # stands, so a send that fails to connect is safe to retry), then to wait for the
        # answer. A send whose answer does not come in time is retried and may arrive twice
        # (WeChat has no idempotency key): the read timeout outlasts WeChat's stalls.
        "connect_timeout_seconds": Setting(float, 4.0, _positive),
        "read_timeout_seconds": Setting(float, 15.0, _positive),
    },
    "channels": {
        # WeCom (企业微信): the robot webhook and the app API; empty corp id: no WeCom app.
        "wecom_api_base_url": Setting(str, "https://qyapi.weixin.qq.com", _nonempty),
        "wecom_corp_id": Setting(str, ""),
        "wecom_corp_secret": Setting(str, ""),
        "wecom_agent_id": Setting(int, 0, lambda v: None if v >= 0 else "expected >= 0"),
        # Official-account template and mini-program subscribe template; empty: not used.
        "template_id": Setting(str, ""),
        "subscribe_template_id": Setting(str, ""),
        "miniprogram_state": Setting(str, "formal", _one_of("developer", "trial", "formal")),
        # Members without a personal channel: "skip" their messages, or write them to the
        # console log ("console", for the demo).
        "personal_fallback": Setting(str, "skip", _one_of("skip", "console")),
    },
    "api": {
        # Mini-program API (/api/v1): how long a login token lives, and per-minute limits on
        # logins (per WeChat account and per client address) and on meeting sign-ins.
        "session_ttl_seconds": Setting(int, 7 * 24 * 3600, _positive),
        "login_rate_per_minute": Setting(int, 10, _positive),
        "signin_rate_per_minute": Setting(int, 10, _positive),
        # Input limits: JSON bodies nested deeper than this, and dates, months and times
        # outside these years, answer 400 naming the field.
        "max_json_depth": Setting(int, 16, _positive),
        "earliest_year": Setting(int, 1900, lambda v: None if v >= 1000 else "expected >= 1000"),
        "latest_year": Setting(int, 2100, lambda v: None if v <= 9000 else "expected <= 9000"),
        # A request that meets a locked database (another writer holds it past
        # database.lock_timeout) is tried this many times in all, then answers 503 with this
        # Retry-After.
        "busy_attempts": Setting(int, 3, _positive),
        "busy_retry_after_seconds": Setting(int, 5, _positive),
    },
    "demo": {
        "host": Setting(str, "127.0.0.1", _nonempty),
        "port": Setting(int, 5000, _positive),
        "fake_wechat_port": Setting(int, 8910, _positive),
    },
}

SECRETS = {("app", "secret_key"), ("wechat", "app_secret"), ("wechat", "encoding_aes_key")}
SECRETS.add(("channels", "wecom_corp_secret"))


def _coerce(key: str, setting: Setting, value: Any) -> Any:
    """Convert an env string or TOML value to the setting's type, or raise ConfigError."""
    want = setting.type
    if isinstance(value, str) and want is bool:  # from the environment
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        value = lowered in ("true", "1", "yes", "on")
    if isinstance(value, str) and want is list:  # from the environment: comma-separated
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, str) and want is not str:
        try:
            value = want(value.strip())
        except ValueError:
            raise ConfigError(key, f"expected {want.__name__}, got {value!r}") from None
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or isinstance(value, bool) and want is not bool:
        raise ConfigError(key, f"expected {want.__name__}, got {type(value).__name__}")
    return value


def defaults() -> dict[str, dict[str, Any]]:
    """Return the demo defaults, which run the local demo without any file."""
    return {sec: {k: s.default for k, s in keys.items()} for sec, keys in SCHEMA.items()}


def load(
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Build the settings: defaults < config file < overrides < environment, validated."""
    environ = os.environ if environ is None else environ
    merged = defaults()
    path = environ.get(ENV_PREFIX + "CONFIG", "config.toml")
    layers: list[tuple[str, Mapping[str, Any]]] = []
    has_file = os.path.exists(path)
    if has_file:
        try:
            with open(path, "rb") as fh:
                layers.append((path, tomllib.load(fh)))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(path, f"not valid TOML ({exc})") from None
    elif ENV_PREFIX + "CONFIG" in environ:
        raise ConfigError(ENV_PREFIX + "CONFIG", f"file {path!r} does not exist")
    else:
        log.warning("no %s found: running on demo defaults", path)
    if overrides:
        layers.append(("overrides", overrides))
    for _source, layer in layers:
        for section, values in layer.items():
            if section not in SCHEMA:
                raise ConfigError(section, "unknown section")
            if not isinstance(values, Mapping):
                raise ConfigError(section, "expected a table of settings")
            for key, value in values.items():
                if key not in SCHEMA[section]:
                    raise ConfigError(f"{section}.{key}", "unknown setting")
                merged[section][key] = value
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in SCHEMA or key not in SCHEMA[section]:
            raise ConfigError(name, "unknown setting in environment")
        merged[section][key] = value
    for section, keys in SCHEMA.items():
        for key, setting in keys.items():
            dotted = f"{section}.{key}"
            value = _coerce(dotted, setting, merged[section][key])
            problem = setting.check(value) if setting.check else None
            if problem:
                raise ConfigError(dotted, problem)
            merged[section][key] = value
    _check_claim_outlasts_sends(merged["outbox"])
    _check_secret_key(merged, demo=not has_file and merged["wechat"]["app_id"] == DEMO_APPID)
    return merged


def _check_secret_key(merged: Mapping[str, Mapping[str, Any]], *, demo: bool) -> None:
    """Outside the demo, refuse a signing key that is empty, the example's or short.

    The demo is the app on its built-in defaults: no config file (no config.toml, no
    ZHIBU_CONFIG) and the demo's WeChat app id, as `make demo` and `flask simulate` run it.
    A config file, or a real app id from the environment, is a deployment.
    """
    key = merged["app"]["secret_key"]
    if demo:
        return
    how = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if key in EXAMPLE_SECRET_KEYS:
        problem = "the example key is public; set a random key of your own"
    elif len(key.encode()) < MIN_SECRET_KEY_BYTES:
        problem = f"expected a random key of at least {MIN_SECRET_KEY_BYTES} bytes"
    else:
        return
    raise ConfigError("app.secret_key", f"{problem} ({how})")


# One send makes at most six requests (a token fetch and its fallback, the send, a rejected
# token's renewal, the retry), each up to connect + read timeout; the drain renews a claim
# before a send only once it is a third of claim_timeout_seconds old. So the claim timeout
# must exceed 1.5 x 6 = 9 request timeouts: 10 leaves a margin.
CLAIM_TIMEOUTS_PER_SEND = 10


def _check_claim_outlasts_sends(outbox: Mapping[str, Any]) -> None:
    """Refuse a claim timeout under which a row still waiting for WeChat's answer could be
    taken over (and sent again) by another drain."""
    per_request = outbox["connect_timeout_seconds"] + outbox["read_timeout_seconds"]
    least = CLAIM_TIMEOUTS_PER_SEND * per_request
    if outbox["claim_timeout_seconds"] < least:
        raise ConfigError(
            "outbox.claim_timeout_seconds",
            f"expected at least {least:g} ({CLAIM_TIMEOUTS_PER_SEND} x (connect_timeout_seconds"
            " + read_timeout_seconds)), so a row still waiting for WeChat's answer is never"
            " taken over by another drain",
        )


def redacted(config: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return a copy safe to log: secrets replaced by asterisks."""
    out = copy.deepcopy(dict(config))
    for section, key in SECRETS:
        if section in out and key in out[section]:
            out[section][key] = "***"
    return out
