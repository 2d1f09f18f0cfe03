"""The sections of the settings, one class per table of config.toml, with their defaults
(DOMAIN.md's numbers) and checks."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_settings import (
    NoDecode,
)

from core.settings_fields import (
    DEMO_AES_KEY,
    DEMO_APPID,
    DEMO_SECRET_KEY,
    DEMO_TOKEN,
    Cron,
    Dates,
    NonEmpty,
    Period,
    Positive,
    PositiveFloat,
    Rates,
    Section,
    at_least,
    between,
    check_aes_key,
    check_db_url,
    check_http_url,
    check_timezone,
    checked,
    comma_list,
    one_of,
)


class AppSettings(Section):
    secret_key: NonEmpty = DEMO_SECRET_KEY
    timezone: Annotated[str, checked(check_timezone)] = "Asia/Shanghai"
    log_level: Annotated[str, checked(one_of("DEBUG", "INFO", "WARNING", "ERROR"))] = "INFO"
    # "text": one readable line per record; "json": one JSON object per line, for collectors.
    log_format: Annotated[str, checked(one_of("text", "json"))] = "text"
    max_body_bytes: Positive = 65536
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted
    # (0: none, the client address is the TCP peer).
    trusted_proxies: Annotated[
        int, checked(lambda v: None if 0 <= v <= 5 else "expected 0-5 proxy hops")
    ] = 0


class DatabaseSettings(Section):
    url: Annotated[str, checked(check_db_url)] = "sqlite:///instance/zhibu.db"
    lock_timeout: PositiveFloat = 2.0
    pool_size: Positive = 32
    # Seconds to wait for a new PostgreSQL connection (libpq's connect_timeout, which treats
    # 1 as 2); /healthz gives its query as long.
    connect_timeout: Annotated[int, checked(between(1, 60))] = 3


class WechatSettings(Section):
    mode: Annotated[str, checked(one_of("safe", "plain"))] = "safe"
    token: NonEmpty = DEMO_TOKEN
    encoding_aes_key: Annotated[str, checked(check_aes_key)] = DEMO_AES_KEY
    app_id: NonEmpty = DEMO_APPID
    app_secret: NonEmpty = "demo-secret"  # noqa: S105 - demo only, documented as public
    timestamp_window: Positive = 300
    api_base_url: NonEmpty = "https://api.weixin.qq.com"


class BindingSettings(Section):
    code_length: Annotated[int, at_least(8, "expected at least 8")] = 8
    code_ttl_days: Positive = 7
    max_failures_per_hour: Positive = 5


class StudySettings(Section):
    reflection_max_chars: Positive = 500
    # A study plan's topic: its title and summary (内容), in characters.
    title_max_chars: Annotated[int, checked(between(1, 200))] = 100
    summary_max_chars: Positive = 500
    # Where the mini-program's study page is, quoted in the group prompt ("" = not mentioned).
    miniprogram_page: str = ""
    # The secretary's digest warns when the branch has no topic for this many days ahead.
    plan_warning_days: Positive = 7
    # Seconds a process keeps the day's topic it read for a branch (0: read it every time).
    topic_cache_seconds: Annotated[int, at_least(0)] = 60


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
        int, checked(lambda v: None if 4 <= v <= 12 else "expected 4-12")
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
    years: Annotated[int, checked(between(1, 10))] = 3
    max_years: Annotated[int, checked(between(1, 10))] = 5
    # The secretary and the branch committee are reminded this many months before the term
    # ends, and again this many.
    remind_first_months: Annotated[int, checked(between(1, 24))] = 6
    remind_last_months: Annotated[int, checked(between(1, 24))] = 3
    # A new term may start at most this many days after the day it is recorded.
    start_ahead_days: Annotated[int, at_least(0)] = 30
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
    place_max_chars: Annotated[int, checked(between(1, 100))] = 100
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
    max_days_back: Annotated[int, at_least(0)] = 30
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
        list[str], NoDecode, BeforeValidator(comma_list), checked(_meeting_kinds)
    ] = ["lesson", "theme_day"]
    max_minutes_per_meeting: Positive = 240
    # Other training a secretary records (a county course): the most hours one record holds,
    # and the longest title, in characters.
    max_hours_per_record: Positive = 100
    title_max_chars: Positive = 100


class RosterSettings(Section):
    # The committee's view of each branch's age structure: each age starts a band (the first
    # band is below the first age; members without a birth date are 未知).
    age_bands: Annotated[list[int], NoDecode, BeforeValidator(comma_list), checked(_rising)] = [
        35,
        46,
        56,
        61,
    ]
    # A departure (离开) or a transfer (转接组织关系) may be recorded for a day up to this many
    # days ago (a later record of what happened), never for a day ahead.
    backdate_days: Positive = 366


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
    prepay_max_months: Annotated[int, at_least(0)] = 12
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
    max_columns: Annotated[int, at_least(20, "expected at least 20")] = 200
    max_cell_chars: Annotated[int, at_least(100, "expected at least 100")] = 1000


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
    # Housekeeping: keep only what is needed (the periods: the two keys below and [retention]).
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
    backoff_factor: Annotated[float, at_least(1)] = 2.0
    backoff_cap_seconds: PositiveFloat = 3600.0
    backoff_jitter: Annotated[float, checked(lambda v: None if 0 <= v < 1 else "expected 0-1")] = (
        0.5
    )
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
    wecom_agent_id: Annotated[int, at_least(0)] = 0
    # Official-account template and mini-program subscribe template; empty: not used.
    template_id: str = ""
    subscribe_template_id: str = ""
    miniprogram_state: Annotated[str, checked(one_of("developer", "trial", "formal"))] = "formal"
    # Members without a personal channel: "skip" their messages, or write them to the
    # console log ("console", for the demo).
    personal_fallback: Annotated[str, checked(one_of("skip", "console"))] = "skip"


class ApiSettings(Section):
    # Mini-program API (/api/v1): how long a login token lives, and per-minute limits on
    # logins (per WeChat account and per client address) and on meeting sign-ins.
    session_ttl_seconds: Positive = 7 * 24 * 3600
    login_rate_per_minute: Positive = 10
    signin_rate_per_minute: Positive = 10
    # Input limits: JSON bodies nested deeper than this, and dates, months and times
    # outside these years, answer 400 naming the field.
    max_json_depth: Positive = 16
    earliest_year: Annotated[int, at_least(1000)] = 1900
    latest_year: Annotated[int, checked(lambda v: None if v <= 9000 else "expected <= 9000")] = (
        2100
    )
    # A request that meets a locked database (another writer holds it past
    # database.lock_timeout) is tried this many times in all, then answers 503 with this
    # Retry-After.
    busy_attempts: Positive = 3
    busy_retry_after_seconds: Positive = 5


class ConsoleSettings(Section):
    # The console's public address, used in the login links the bot sends (控制台).
    base_url: Annotated[str, checked(check_http_url)] = "http://127.0.0.1:5000"
    # A login link or a login QR code is valid this long.
    login_minutes: Positive = 5
    # A browser session ends after this long without a request, and this long after login.
    idle_minutes: Positive = 30
    session_hours: Positive = 12
    # The committee comparison reads stored figures (the branch_snapshots job); older than
    # this, they are computed again before the page is shown.
    snapshot_max_age_minutes: Positive = 30


class ExportSettings(Section):
    # 我的数据: a member's download link of their own data works this long, and once.
    link_minutes: Positive = 10
    # A member may ask for this many links an hour (bot and API together).
    per_hour: Positive = 3


class RetentionSettings(Section):
    # How long what members and jobs leave behind is kept (the prune job, every night; README:
    # What we keep). Callback dedupe rows and sessions are [scheduler] keep_inbound_days and
    # keep_api_session_days.
    # A study check-in keeps its reflection (心得) this many years after its day; then the
    # text is blanked and only the check-in (member, day, topic, time) stays.
    reflection_years: Positive = 3
    # A finished outbox message (sent this many days ago; dead or skipped: created then) keeps
    # its row but its text is cut to a fixed summary.
    outbox_payload_days: Positive = 90
    # Binding codes are deleted this many days after they expired (used ones included).
    bind_code_days: Positive = 90
    # Members' data download links (我的数据) are deleted this many days after they expired.
    export_link_days: Positive = 7
    # The scheduler's run records are deleted after this many days (each job's latest stays).
    job_run_days: Positive = 30


class ReadLogSettings(Section):
    # The read log (查阅记录: who opened a member's detail or downloaded a file naming members)
    # keeps a read this many days (three years), then the daily prune deletes it.
    keep_days: Positive = 1096
    # Reads shown per page in the console.
    per_page: Positive = 50


class ReportsSettings(Section):
    # The monthly report's download link sent to committee admins on the 1st works this long.
    link_days: Positive = 7
    # The CJK font of PDFs (the record book): a .ttf/.otf/.ttc file, and the face's number in
    # a .ttc collection. Empty: the first of Noto Sans CJK SC, Source Han Sans SC, WenQuanYi
    # Zen Hei, Droid Sans Fallback that fontconfig finds (apt-get install fonts-noto-cjk).
    pdf_font: str = ""
    pdf_font_index: Annotated[int, at_least(0)] = 0


Weight = Annotated[int, at_least(0, "expected a weight of 0 or more")]
Percent = Annotated[int, checked(between(0, 100))]


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
    trend_months: Annotated[int, checked(between(1, 24))] = 6
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
    base_url: Annotated[str, checked(check_http_url)] = "https://api.mch.weixin.qq.com"
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


def _addresses(value: Any) -> str | None:
    import ipaddress

    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            return f"expected IP addresses or networks like 127.0.0.1 or 10.0.0.0/8, got {item!r}"
    return None


class MetricsSettings(Section):
    # GET /metrics in Prometheus' text format. Off: it answers 404.
    enabled: bool = False
    # Scrapers send it as "Authorization: Bearer <token>" (at least 16 characters); set it in
    # the environment, ZHIBU_METRICS__TOKEN. Empty: only allowed_addresses may scrape.
    token: str = ""
    # Client addresses or networks that may scrape without the token, as the app sees them
    # (behind nginx, with app.trusted_proxies set, the real client's).
    allowed_addresses: Annotated[
        list[str], NoDecode, BeforeValidator(comma_list), checked(_addresses)
    ] = []


class DemoSettings(Section):
    host: NonEmpty = "127.0.0.1"
    port: Positive = 5000
    fake_wechat_port: Positive = 8910
