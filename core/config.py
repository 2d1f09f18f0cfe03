"""Typed settings (pydantic-settings): demo defaults < a TOML file < ZHIBU_<SECTION>__<KEY>."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

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


def _between(least: int, most: int) -> Callable[[Any], str | None]:
    return lambda v: None if least <= v <= most else f"expected {least} to {most}"


def _http_url(value: Any) -> str | None:
    if value.startswith(("http://", "https://")) and len(value) > len("https://"):
        return None if not value.endswith("/") else "expected no trailing '/'"
    return "expected an http:// or https:// address"


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


# ---- the settings, typed ------------------------------------------------------------------


def _checked(check: Callable[[Any], str | None]) -> AfterValidator:
    """Run one of the checks above after the type is right; its text becomes the error."""

    def run(value: Any) -> Any:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(run)


def _comma_list(value: Any) -> Any:
    """An environment variable gives a list as comma-separated text."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _at_least(least: int, text: str | None = None) -> AfterValidator:
    return _checked(lambda v: None if v >= least else text or f"expected >= {least}")


Positive = Annotated[int, _checked(_positive)]
PositiveFloat = Annotated[float, _checked(_positive)]
NonEmpty = Annotated[str, _checked(_nonempty)]
Cron = Annotated[str, _checked(_cron)]
Period = Annotated[str, _checked(_one_of(*PERIODS))]
Rates = Annotated[str, _checked(_rates)]
Dates = Annotated[list[str], NoDecode, BeforeValidator(_comma_list), _checked(_iso_dates)]


class Section(BaseModel):
    """One table of config.toml. Unknown keys are refused; assignments are checked too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=False)


class AppSettings(Section):
    secret_key: NonEmpty = DEMO_SECRET_KEY
    timezone: Annotated[str, _checked(_timezone)] = "Asia/Shanghai"
    log_level: Annotated[str, _checked(_one_of("DEBUG", "INFO", "WARNING", "ERROR"))] = "INFO"
    max_body_bytes: Positive = 65536
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted
    # (0: none, the client address is the TCP peer).
    trusted_proxies: Annotated[
        int, _checked(lambda v: None if 0 <= v <= 5 else "expected 0-5 proxy hops")
    ] = 0


class DatabaseSettings(Section):
    url: Annotated[str, _checked(_db_url)] = "sqlite:///instance/zhibu.db"
    lock_timeout: PositiveFloat = 2.0


class WechatSettings(Section):
    mode: Annotated[str, _checked(_one_of("safe", "plain"))] = "safe"
    token: NonEmpty = DEMO_TOKEN
    encoding_aes_key: Annotated[str, _checked(_aes_key)] = DEMO_AES_KEY
    app_id: NonEmpty = DEMO_APPID
    app_secret: NonEmpty = "demo-secret"  # noqa: S105 - demo only, documented as public
    timestamp_window: Positive = 300
    api_base_url: NonEmpty = "https://api.weixin.qq.com"


class BindingSettings(Section):
    code_length: Annotated[int, _at_least(8, "expected at least 8")] = 8
    code_ttl_days: Positive = 7
    max_failures_per_hour: Positive = 5


class StudySettings(Section):
    reflection_max_chars: Positive = 500
    # A study plan's topic: its title and summary (内容), in characters.
    title_max_chars: Annotated[int, _checked(_between(1, 200))] = 100
    summary_max_chars: Positive = 500
    # Where the mini-program's study page is, quoted in the group prompt ("" = not mentioned).
    miniprogram_page: str = ""
    # The secretary's digest warns when the branch has no topic for this many days ahead.
    plan_warning_days: Positive = 7
    # Seconds a process keeps the day's topic it read for a branch (0: read it every time).
    topic_cache_seconds: Annotated[int, _at_least(0)] = 60


class CalendarSettings(Section):
    # Follow China's official holiday schedule (the holidays package): public holidays are days
    # off, and the weekend days worked in exchange (调休) are working days.
    official: bool = True
    # Corrections on top, as ISO dates: extra days off (a local arrangement, or a correction)...
    holidays: Dates = []
    # ...and extra working days (e.g. next year's 调休 before the package has it).
    workdays: Dates = []


class AlertsSettings(Section):
    # A party member with no interaction for this many days is flagged as lost contact.
    lost_contact_days: Positive = 90


class MeetingsSettings(Section):
    default_duration_minutes: Positive = 90
    signin_open_before_minutes: Positive = 30
    signin_close_after_start_minutes: Positive = 60
    signin_code_length: Annotated[
        int, _checked(lambda v: None if 4 <= v <= 12 else "expected 4-12")
    ] = 6
    max_wrong_codes_per_hour: Positive = 10
    # How often each kind is required: month, quarter, year, or none (DOMAIN.md).
    frequency_general: Period = "quarter"
    frequency_committee: Period = "month"
    frequency_group: Period = "month"
    frequency_lesson: Period = "quarter"
    frequency_theme_day: Period = "month"
    frequency_life_meeting: Period = "year"
    frequency_appraisal: Period = "year"
    # A required meeting with this many days or fewer left in its period is "due soon".
    due_soon_days: Positive = 7
    # The longest minutes (纪要) and decisions (决议) a meeting keeps, in characters.
    minutes_max_chars: Positive = 10000
    decisions_max_chars: Positive = 5000


class RectificationSettings(Section):
    # An item's problem (问题) and measure (整改措施), and a note or a refusal's reason, in
    # characters.
    problem_max_chars: Positive = 500
    measure_max_chars: Positive = 1000
    note_max_chars: Positive = 500
    # The owner is reminded this many days before the deadline, and again this many.
    remind_first_days: Positive = 7
    remind_last_days: Positive = 1
    # An item overdue this many days is counted in the committee admin's digest.
    committee_overdue_days: Positive = 14


class TermsSettings(Section):
    # A branch committee's term (换届), in years, unless the branch records its own length
    # (village and community branches often have 5); at most max_years.
    years: Annotated[int, _checked(_between(1, 10))] = 3
    max_years: Annotated[int, _checked(_between(1, 10))] = 5
    # The secretary and the branch committee are reminded this many months before the term
    # ends, and again this many.
    remind_first_months: Annotated[int, _checked(_between(1, 24))] = 6
    remind_last_months: Annotated[int, _checked(_between(1, 24))] = 3
    # A new term may start at most this many days after the day it is recorded.
    start_ahead_days: Annotated[int, _at_least(0)] = 30
    # The longest note on a recorded election, in characters.
    note_max_chars: Positive = 200


class LostContactSettings(Section):
    # A case the secretary handled comes back (when the member is still out of touch) this
    # many days after the outcome: 流动党员, 仍未联系上, 停止党籍 started. 联系上 counts as
    # contact on its day, so the case comes back after alerts.lost_contact_days.
    away_reopen_days: Positive = 180
    lost_reopen_days: Positive = 30
    stopping_reopen_days: Positive = 90
    # Where a 流动党员 is, and the note on an outcome, in characters.
    place_max_chars: Annotated[int, _checked(_between(1, 100))] = 100
    note_max_chars: Positive = 200


# Meeting kinds (models.meetings.KINDS, which core may not import; a test keeps them equal).
MEETING_KINDS = (
    "general",
    "committee",
    "group",
    "lesson",
    "theme_day",
    "life_meeting",
    "appraisal",
    "other",
)


def _meeting_kinds(value: Any) -> str | None:
    unknown = [kind for kind in value if kind not in MEETING_KINDS]
    if unknown:
        return f"unknown meeting kind {unknown[0]!r}; expected some of {', '.join(MEETING_KINDS)}"
    return None


def _rising(value: Any) -> str | None:
    if not value or any(b <= a for a, b in zip(value, value[1:], strict=False)) or value[0] < 1:
        return "expected rising ages that start each band, e.g. [35, 46, 56, 61]"
    return None


class VolunteerSettings(Section):
    # 党员志愿服务: the most one entry may log, in hours, and how many days back its date may be.
    max_hours_per_entry: Positive = 12
    max_days_back: Annotated[int, _at_least(0)] = 30
    # What was done (服务内容) and a refusal's reason, in characters.
    description_max_chars: Positive = 100
    reason_max_chars: Positive = 200
    # The Saturday prompt (scheduler.volunteer_prompt) to the branch groups that turned it on;
    # false: no branch of this deployment gets it.
    prompt_enabled: bool = True
    # The mini-program's volunteer page, quoted in the prompt ("" = not mentioned).
    miniprogram_page: str = ""


class TrainingSettings(Section):
    # 学时: the concentrated study and training each party member is expected to have a year.
    required_hours_per_year: Positive = 32
    # Meetings whose attendance (present) counts, with their length, capped per meeting.
    meeting_kinds: Annotated[
        list[str], NoDecode, BeforeValidator(_comma_list), _checked(_meeting_kinds)
    ] = ["lesson", "theme_day"]
    max_minutes_per_meeting: Positive = 240
    # Other training a secretary records (a county course): the most hours one record holds,
    # and the longest title, in characters.
    max_hours_per_record: Positive = 100
    title_max_chars: Positive = 100


class RosterSettings(Section):
    # The committee's view of each branch's age structure: each age starts a band (the first
    # band is below the first age; members without a birth date are 未知).
    age_bands: Annotated[list[int], NoDecode, BeforeValidator(_comma_list), _checked(_rising)] = [
        35,
        46,
        56,
        61,
    ]


class DevelopmentSettings(Section):
    # Developing members (发展党员, 《中国共产党发展党员工作细则》): the talk with an applicant
    # within this many months of the application; at least this many months as an activist
    # before becoming a development object; a review (考察) every this many months while an
    # activist or development object; probation (预备期) this many months from admission.
    talk_within_months: Positive = 1
    activist_min_months: Positive = 12
    review_every_months: Positive = 6
    probation_months: Positive = 12
    # An extension of probation (延长预备期) lasts from this many to this many months.
    extension_min_months: Positive = 6
    extension_max_months: Positive = 12
    # The secretary is reminded this many days ahead of each deadline: the talk, the next
    # review, the end of probation, and the day an activist may be proposed.
    remind_talk_days: Positive = 7
    remind_review_days: Positive = 14
    remind_probation_days: Positive = 30
    remind_activist_year_days: Positive = 7
    # The longest note of a step (a review's findings, an extension's reason), in characters.
    note_max_chars: Positive = 500


class DuesSettings(Section):
    # Rates on the after-tax monthly base (DOMAIN.md, the 2008 table); see parse_rates.
    in_service_rates: Rates = "3000=0.5%, 5000=1%, 10000=1.5%, 2%"
    retired_rates: Rates = "5000=0.5%, 1%"
    # Farmers pay what the branch sets within these bounds; 0.2-category members pay this.
    farmer_min_fen: Positive = 20
    farmer_max_fen: Positive = 100
    student_fen: Positive = 20
    prepay_max_months: Annotated[int, _at_least(0)] = 12
    voluntary_whole_fen: Positive = 100000
    max_payment_fen: Positive = 10000000
    max_base_fen: Positive = 100000000
    # The six-month rule (党章 第九条): warn at these consecutive months; the last is 6.
    alert_first_months: Positive = 3
    alert_second_months: Positive = 5
    lapse_months: Positive = 6
    lookback_months: Positive = 12


class ImportsSettings(Section):
    # Roster and dues files (.xlsx, .csv), checked before anything parses them. The
    # defaults fit a 100,000-member committee twice over (README: Importing the roster).
    max_file_bytes: Positive = 32 * 1024 * 1024
    max_uncompressed_bytes: Positive = 200 * 1024 * 1024
    max_zip_members: Positive = 1000
    max_rows: Positive = 200_000
    max_columns: Annotated[int, _at_least(20, "expected at least 20")] = 200
    max_cell_chars: Annotated[int, _at_least(100, "expected at least 100")] = 1000


class SchedulerSettings(Section):
    # Cron strings (minute hour day month day-of-week), in app.timezone. Day-of-week
    # by name (mon-sun): APScheduler 3 reads 0 as Monday, crontab as Sunday.
    token_refresh: Cron = "*/5 * * * *"  # noqa: S105 - a cron string, not a secret
    meeting_qr: Cron = "*/10 * * * *"
    study_prompt: Cron = "0 8 * * *"
    study_nudge: Cron = "0 20 * * *"
    study_summary: Cron = "0 18 * * fri"
    meeting_reminders: Cron = "*/5 * * * *"
    dues_reminder: Cron = "0 9 5 * *"
    secretary_digest: Cron = "30 8 * * *"
    # Rectification items due in remind_first_days / remind_last_days: a note to each owner.
    rectification_reminders: Cron = "0 9 * * *"
    # Branch committee terms ending in [terms] remind_first_months / remind_last_months.
    term_reminders: Cron = "0 9 * * *"
    # Development deadlines ahead ([development] remind_*_days): a note to each secretary.
    development_reminders: Cron = "10 9 * * *"
    volunteer_prompt: Cron = "0 9 * * sat"
    # Each branch's headline figures for the committee comparison.
    branch_snapshots: Cron = "*/15 * * * *"
    # Last month's report link to every committee admin, on the 1st.
    monthly_report: Cron = "0 8 1 * *"
    # Last month's branch assessment figures, judged and stored on the 1st.
    assessment_month: Cron = "30 1 1 * *"
    # WeChat Pay: query orders whose notification has not come (pay.query_after_minutes),
    # and close unpaid ones (pay.close_after_minutes).
    pay_query: Cron = "*/5 * * * *"
    pay_close: Cron = "*/10 * * * *"
    # WeChat Pay: yesterday's trade bill against the ledger (WeChat Pay has it from 10:00).
    pay_reconcile: Cron = "0 10 * * *"
    # Housekeeping: drop callback dedupe rows, old rate events and dead API sessions.
    prune: Cron = "40 3 * * *"
    # Callback dedupe rows are kept this many days (WeChat retries within seconds).
    keep_inbound_days: Positive = 7
    # Expired or revoked mini-program sessions are kept this many days past expiry.
    keep_api_session_days: Positive = 30
    outbox_drain_seconds: Positive = 10
    # The database lease that keeps a second scheduler process idle.
    lease_seconds: Positive = 60
    # A job missed while the scheduler was down runs once at start if its last due time
    # is this recent; older misses are skipped.
    catch_up_hours: Positive = 12


class OutboxSettings(Section):
    # Rows one drain pass claims at a time, and the sender threads working on them.
    batch_size: Positive = 100
    concurrency: Positive = 4
    # Retries: attempt n waits min(cap, base * factor ** (n - 1)) seconds, less a random
    # share of up to `jitter` of it; the row is dead after max_attempts failed attempts.
    max_attempts: Positive = 6
    backoff_base_seconds: PositiveFloat = 30.0
    backoff_factor: Annotated[float, _at_least(1)] = 2.0
    backoff_cap_seconds: PositiveFloat = 3600.0
    backoff_jitter: Annotated[
        float, _checked(lambda v: None if 0 <= v < 1 else "expected 0-1")
    ] = 0.5
    # A row claimed longer ago than this is taken over (its drainer crashed).
    claim_timeout_seconds: Positive = 300
    # How long one drain call may keep going (waiting for rate windows included).
    drain_max_seconds: PositiveFloat = 8.0
    # WeCom group robots: at most this many messages per window per robot key; after a
    # 45009 the key rests this long.
    robot_rate_limit: Positive = 20
    robot_rate_window_seconds: PositiveFloat = 60.0
    robot_backoff_seconds: PositiveFloat = 60.0
    # Each send: the time allowed to connect (nothing is sent before the connection
    # stands, so a send that fails to connect is safe to retry), then to wait for the
    # answer. A send whose answer does not come in time is retried and may arrive twice
    # (WeChat has no idempotency key): the read timeout outlasts WeChat's stalls.
    connect_timeout_seconds: PositiveFloat = 4.0
    read_timeout_seconds: PositiveFloat = 15.0


class ChannelsSettings(Section):
    # WeCom (企业微信): the robot webhook and the app API; empty corp id: no WeCom app.
    wecom_api_base_url: NonEmpty = "https://qyapi.weixin.qq.com"
    wecom_corp_id: str = ""
    wecom_corp_secret: str = ""
    wecom_agent_id: Annotated[int, _at_least(0)] = 0
    # Official-account template and mini-program subscribe template; empty: not used.
    template_id: str = ""
    subscribe_template_id: str = ""
    miniprogram_state: Annotated[str, _checked(_one_of("developer", "trial", "formal"))] = "formal"
    # Members without a personal channel: "skip" their messages, or write them to the
    # console log ("console", for the demo).
    personal_fallback: Annotated[str, _checked(_one_of("skip", "console"))] = "skip"


class ApiSettings(Section):
    # Mini-program API (/api/v1): how long a login token lives, and per-minute limits on
    # logins (per WeChat account and per client address) and on meeting sign-ins.
    session_ttl_seconds: Positive = 7 * 24 * 3600
    login_rate_per_minute: Positive = 10
    signin_rate_per_minute: Positive = 10
    # Input limits: JSON bodies nested deeper than this, and dates, months and times
    # outside these years, answer 400 naming the field.
    max_json_depth: Positive = 16
    earliest_year: Annotated[int, _at_least(1000)] = 1900
    latest_year: Annotated[int, _checked(lambda v: None if v <= 9000 else "expected <= 9000")] = (
        2100
    )
    # A request that meets a locked database (another writer holds it past
    # database.lock_timeout) is tried this many times in all, then answers 503 with this
    # Retry-After.
    busy_attempts: Positive = 3
    busy_retry_after_seconds: Positive = 5


class ConsoleSettings(Section):
    # The console's public address, used in the login links the bot sends (控制台).
    base_url: Annotated[str, _checked(_http_url)] = "http://127.0.0.1:5000"
    # A login link or a login QR code is valid this long.
    login_minutes: Positive = 5
    # A browser session ends after this long without a request, and this long after login.
    idle_minutes: Positive = 30
    session_hours: Positive = 12
    # The committee comparison reads stored figures (the branch_snapshots job); older than
    # this, they are computed again before the page is shown.
    snapshot_max_age_minutes: Positive = 30


class ReportsSettings(Section):
    # The monthly report's download link sent to committee admins on the 1st works this long.
    link_days: Positive = 7
    # The CJK font of PDFs (the record book): a .ttf/.otf/.ttc file, and the face's number in
    # a .ttc collection. Empty: the first of Noto Sans CJK SC, Source Han Sans SC, WenQuanYi
    # Zen Hei, Droid Sans Fallback that fontconfig finds (apt-get install fonts-noto-cjk).
    pdf_font: str = ""
    pdf_font_index: Annotated[int, _at_least(0)] = 0


Weight = Annotated[int, _at_least(0, "expected a weight of 0 or more")]
Percent = Annotated[int, _checked(_between(0, 100))]


class AssessmentSettings(Section):
    # Branch assessment (星级评定): each criterion's weight (relative: a branch's score is the
    # weighted mean of the criteria that apply to it; the defaults sum to 100; 0 leaves one
    # out). A criterion is a weight_<name>; the names are handlers.assessment's.
    weight_meetings: Weight = 20
    weight_study: Weight = 15
    weight_dues: Weight = 15
    weight_rectification: Weight = 10
    weight_training: Weight = 10
    weight_development: Weight = 10
    weight_term: Weight = 10
    weight_volunteer: Weight = 10
    # Star bands: a score (0-100) at or above each is that many stars; below two_stars, one.
    five_stars: Percent = 90
    four_stars: Percent = 80
    three_stars: Percent = 70
    two_stars: Percent = 60
    # Months of scores a branch's trend shows, ending at the month shown.
    trend_months: Annotated[int, _checked(_between(1, 24))] = 6
    # The volunteer criterion: the confirmed service expected of each party member a month,
    # in hours (each member counts up to it; the branch's rate is the members' average share).
    volunteer_hours_per_member: Positive = 1


# The assessment's criteria, in the order they are shown: the weight_<name> settings.
ASSESSMENT_CRITERIA = tuple(
    name.removeprefix("weight_")
    for name in AssessmentSettings.model_fields
    if name.startswith("weight_")
)
STAR_BANDS = ("five_stars", "four_stars", "three_stars", "two_stars")


class MerchantSettings(Section):
    # One committee's own WeChat Pay merchant ([pay.merchants."<committee name>"]); the keys
    # mean what the same keys of [pay] mean. The APIv3 key comes from a file (apiv3_key_file,
    # readable by the app alone), not from this file.
    mchid: NonEmpty
    appid: str = ""
    merchant_serial: NonEmpty
    private_key_path: NonEmpty
    apiv3_key: str = ""
    apiv3_key_file: str = ""
    platform_public_key_path: NonEmpty
    platform_serial: NonEmpty


class PaySettings(Section):
    # WeChat Pay (API v3) for dues paid in the mini-program. Empty mchid: online payment is
    # off, and members report payments for a collector to confirm, as before. These keys are
    # the default merchant, for every committee without its own in ``merchants``.
    mchid: str = ""
    # The mini-program's AppID bound to the merchant; empty: [wechat].app_id.
    appid: str = ""
    # The merchant API certificate's serial number, and the file of its private key
    # (apiclient_key.pem).
    merchant_serial: str = ""
    private_key_path: str = ""
    # The APIv3 key (32 characters) that encrypts notifications: set it in the environment,
    # ZHIBU_PAY__APIV3_KEY, rather than in the file, or in a file: apiv3_key_file.
    apiv3_key: str = ""
    apiv3_key_file: str = ""
    # WeChat Pay's public key (or platform certificate) as a PEM file, and its id
    # (PUB_KEY_ID_..., or the certificate's serial) that answers and notifications carry.
    platform_public_key_path: str = ""
    platform_serial: str = ""
    base_url: Annotated[str, _checked(_http_url)] = "https://api.mch.weixin.qq.com"
    # Where WeChat Pay sends notifications: this app's /pay/notify, over https in production.
    notify_url: str = ""
    # The order's description shown to the payer.
    description: NonEmpty = "党费"
    # A notification signed further than this from our clock is refused (a replay).
    timestamp_window: Positive = 300
    # An order with no notification this long after it was created is queried (the
    # notification may be lost); an unpaid order is closed this long after it was created.
    query_after_minutes: Positive = 5
    close_after_minutes: Positive = 120
    connect_timeout_seconds: PositiveFloat = 4.0
    read_timeout_seconds: PositiveFloat = 10.0
    # Committees with their own merchant, by the committee's name (党委名称).
    merchants: dict[str, MerchantSettings] = {}


class DemoSettings(Section):
    host: NonEmpty = "127.0.0.1"
    port: Positive = 5000
    fake_wechat_port: Positive = 8910


class Settings(BaseSettings):
    """Every setting, typed: defaults < config file < overrides < ZHIBU_<SECTION>__<KEY>.

    Read as ``settings.outbox.batch_size``. ``load`` builds it; config.example.toml documents
    each key with its default.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        validate_assignment=True,
    )

    app: AppSettings = AppSettings()
    database: DatabaseSettings = DatabaseSettings()
    wechat: WechatSettings = WechatSettings()
    binding: BindingSettings = BindingSettings()
    study: StudySettings = StudySettings()
    calendar: CalendarSettings = CalendarSettings()
    alerts: AlertsSettings = AlertsSettings()
    meetings: MeetingsSettings = MeetingsSettings()
    rectification: RectificationSettings = RectificationSettings()
    terms: TermsSettings = TermsSettings()
    lost_contact: LostContactSettings = LostContactSettings()
    volunteer: VolunteerSettings = VolunteerSettings()
    training: TrainingSettings = TrainingSettings()
    roster: RosterSettings = RosterSettings()
    development: DevelopmentSettings = DevelopmentSettings()
    dues: DuesSettings = DuesSettings()
    imports: ImportsSettings = ImportsSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    outbox: OutboxSettings = OutboxSettings()
    channels: ChannelsSettings = ChannelsSettings()
    api: ApiSettings = ApiSettings()
    console: ConsoleSettings = ConsoleSettings()
    reports: ReportsSettings = ReportsSettings()
    assessment: AssessmentSettings = AssessmentSettings()
    pay: PaySettings = PaySettings()
    demo: DemoSettings = DemoSettings()


SECTIONS: dict[str, type[Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}

SECRETS = {("app", "secret_key"), ("wechat", "app_secret"), ("wechat", "encoding_aes_key")}
SECRETS.add(("channels", "wecom_corp_secret"))
SECRETS.add(("pay", "apiv3_key"))


def defaults() -> Settings:
    """Return the demo defaults, which run the local demo without any file."""
    return Settings.model_construct(**{name: cls() for name, cls in SECTIONS.items()})


class _Environment(EnvSettingsSource):
    """ZHIBU_<SECTION>__<KEY> variables, read from the mapping ``load`` was given."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items()}


def _check_environment_names(environ: Mapping[str, str]) -> None:
    for name in environ:
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in SECTIONS or key not in SECTIONS[section].model_fields:
            raise ConfigError(name, "unknown setting in environment")


_TYPE_WORDS = {"int": "int", "float": "float", "string": "str", "bool": "bool", "list": "list"}


def _config_error(exc: ValidationError) -> ConfigError:
    """The first problem pydantic found, as one line naming the dotted key."""
    error = exc.errors(include_url=False)[0]
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden" and key.startswith("assessment.weight_"):
        problem = "unknown criterion; expected weight_ and one of " + ", ".join(
            ASSESSMENT_CRITERIA
        )
    elif kind == "extra_forbidden":
        problem = "unknown section" if len(error["loc"]) == 1 else "unknown setting"
    elif kind == "value_error":
        problem = str(error["ctx"]["error"])
    elif kind in ("model_type", "model_attributes_type"):
        problem = "expected a table of settings"
    else:
        word = _TYPE_WORDS.get(kind.partition("_")[0])
        got = error.get("input")
        shown = repr(got) if isinstance(got, str) else type(got).__name__
        problem = f"expected {word}, got {shown}" if word else error["msg"]
    return ConfigError(key, problem)


def load(
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings: defaults < config file < overrides < environment, validated."""
    environ = os.environ if environ is None else environ
    path = environ.get(ENV_PREFIX + "CONFIG", "config.toml")
    has_file = os.path.exists(path)
    if not has_file and ENV_PREFIX + "CONFIG" in environ:
        raise ConfigError(ENV_PREFIX + "CONFIG", f"file {path!r} does not exist")
    if not has_file:
        log.warning("no %s found: running on demo defaults", path)
    _check_environment_names(environ)

    class Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: Any, **_unused: Any
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # The first source wins: environment, then the caller's overrides, then the file.
            toml = TomlConfigSettingsSource(settings_cls, toml_file=path if has_file else None)
            return _Environment(settings_cls, environ), init_settings, toml

    try:
        loaded = Loaded(**{k: dict(v) for k, v in (overrides or {}).items()})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML ({exc})") from None
    except ValidationError as exc:
        raise _config_error(exc) from None
    except SettingsError as exc:
        raise ConfigError(ENV_PREFIX + "…", str(exc).splitlines()[0]) from None
    settings = Settings.model_construct(**{name: getattr(loaded, name) for name in SECTIONS})
    _check_claim_outlasts_sends(settings.outbox)
    _check_calendar(settings.calendar)
    _check_assessment(settings.assessment)
    _check_pay(settings.pay)
    _check_secret_key(settings, demo=not has_file and settings.wechat.app_id == DEMO_APPID)
    return settings


def _check_secret_key(settings: Settings, *, demo: bool) -> None:
    """Outside the demo, refuse a signing key that is empty, the example's or short.

    The demo is the app on its built-in defaults: no config file (no config.toml, no
    ZHIBU_CONFIG) and the demo's WeChat app id, as `make demo` and `flask simulate` run it.
    A config file, or a real app id from the environment, is a deployment.
    """
    key = settings.app.secret_key
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


PAY_REQUIRED = (
    "merchant_serial",
    "private_key_path",
    "platform_public_key_path",
    "platform_serial",
    "notify_url",
)


def _check_pay(pay: PaySettings) -> None:
    """With a merchant number, every other merchant setting is needed; the APIv3 key (in the
    settings or a file) is 32 bytes (AES-256). A committee's merchant alike."""
    if pay.merchants and not pay.notify_url:
        raise ConfigError("pay.notify_url", "required when pay.merchants is set")
    for name, own in pay.merchants.items():
        _check_apiv3(f"pay.merchants.{name}", own.apiv3_key, own.apiv3_key_file)
    if not pay.mchid:
        return
    for key in PAY_REQUIRED:
        if not getattr(pay, key):
            raise ConfigError(f"pay.{key}", "required when pay.mchid is set")
    _check_apiv3("pay", pay.apiv3_key, pay.apiv3_key_file)


def _check_apiv3(where: str, key: str, key_file: str) -> None:
    if not key and not key_file:
        raise ConfigError(f"{where}.apiv3_key", "required (or apiv3_key_file) with a mchid")
    if key and len(key.encode("utf-8")) != 32:
        raise ConfigError(f"{where}.apiv3_key", "expected the 32-character APIv3 key")


def _check_calendar(calendar: CalendarSettings) -> None:
    """Refuse a day listed both as a day off and as a working day."""
    both = sorted(set(calendar.holidays) & set(calendar.workdays))
    if both:
        raise ConfigError(
            "calendar.workdays",
            f"{', '.join(both)} also listed in calendar.holidays; keep each day in one list",
        )


def _check_assessment(assessment: AssessmentSettings) -> None:
    """Refuse weights that leave nothing to score, and star bands that do not fall."""
    if not any(getattr(assessment, f"weight_{name}") for name in ASSESSMENT_CRITERIA):
        raise ConfigError(
            "assessment.weight_meetings",
            "every assessment weight is 0; give at least one criterion a weight above 0",
        )
    for higher, lower in zip(STAR_BANDS, STAR_BANDS[1:], strict=False):
        above, below = getattr(assessment, higher), getattr(assessment, lower)
        if below >= above:
            raise ConfigError(
                f"assessment.{lower}", f"expected below {higher} ({above}), got {below}"
            )


def _check_claim_outlasts_sends(outbox: OutboxSettings) -> None:
    """Refuse a claim timeout under which a row still waiting for WeChat's answer could be
    taken over (and sent again) by another drain."""
    per_request = outbox.connect_timeout_seconds + outbox.read_timeout_seconds
    least = CLAIM_TIMEOUTS_PER_SEND * per_request
    if outbox.claim_timeout_seconds < least:
        raise ConfigError(
            "outbox.claim_timeout_seconds",
            f"expected at least {least:g} ({CLAIM_TIMEOUTS_PER_SEND} x (connect_timeout_seconds"
            " + read_timeout_seconds)), so a row still waiting for WeChat's answer is never"
            " taken over by another drain",
        )


def redacted(settings: Settings) -> dict[str, dict[str, Any]]:
    """Return a plain copy safe to log: secrets replaced by asterisks."""
    out = settings.model_dump()
    for section, key in SECRETS:
        out[section][key] = "***"
    for merchant in out["pay"]["merchants"].values():
        merchant["apiv3_key"] = "***"
    return out
