"""Typed settings (pydantic-settings): demo defaults < a TOML file < ZHIBU_<SECTION>__<KEY>."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from core.settings_fields import (
    DEMO_AES_KEY,
    DEMO_APPID,
    DEMO_SECRET_KEY,
    DEMO_TOKEN,
    ENV_PREFIX,
    EXAMPLE_SECRET_KEYS,
    MIN_SECRET_KEY_BYTES,
    Section,
    parse_rates,
)
from core.settings_sections import (
    ASSESSMENT_CRITERIA,
    MEETING_KINDS,
    STAR_BANDS,
    AlertsSettings,
    ApiSettings,
    AppSettings,
    AssessmentSettings,
    BindingSettings,
    CalendarSettings,
    ChannelsSettings,
    ConsoleSettings,
    DatabaseSettings,
    DemoSettings,
    DevelopmentSettings,
    DuesSettings,
    ExportSettings,
    ImportsSettings,
    LostContactSettings,
    MeetingsSettings,
    MerchantSettings,
    MetricsSettings,
    OutboxSettings,
    PaySettings,
    ReadLogSettings,
    RectificationSettings,
    ReportsSettings,
    RetentionSettings,
    RosterSettings,
    SchedulerSettings,
    StudySettings,
    TermsSettings,
    TrainingSettings,
    VolunteerSettings,
    WechatSettings,
)

# The names the rest of the project imports from here, the sections' included.
__all__ = [
    "ASSESSMENT_CRITERIA",
    "AlertsSettings",
    "ApiSettings",
    "AppSettings",
    "AssessmentSettings",
    "BindingSettings",
    "CalendarSettings",
    "ChannelsSettings",
    "ConfigError",
    "ConsoleSettings",
    "DEMO_AES_KEY",
    "DEMO_APPID",
    "DEMO_SECRET_KEY",
    "DEMO_TOKEN",
    "DatabaseSettings",
    "DemoSettings",
    "DevelopmentSettings",
    "DuesSettings",
    "ENV_PREFIX",
    "EXAMPLE_SECRET_KEYS",
    "ImportsSettings",
    "LostContactSettings",
    "MEETING_KINDS",
    "MIN_SECRET_KEY_BYTES",
    "MeetingsSettings",
    "MerchantSettings",
    "MetricsSettings",
    "OutboxSettings",
    "PaySettings",
    "RectificationSettings",
    "ReadLogSettings",
    "ReportsSettings",
    "RetentionSettings",
    "ExportSettings",
    "RosterSettings",
    "SECRETS",
    "SECTIONS",
    "STAR_BANDS",
    "SchedulerSettings",
    "Section",
    "Settings",
    "StudySettings",
    "TermsSettings",
    "TrainingSettings",
    "VolunteerSettings",
    "WechatSettings",
    "defaults",
    "load",
    "parse_rates",
    "redacted",
]

log = logging.getLogger(__name__)


class ConfigError(SystemExit):
    """A setting is missing or wrong; start-up stops with one line naming it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config error: {key}: {problem}")


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
    export: ExportSettings = ExportSettings()
    retention: RetentionSettings = RetentionSettings()
    read_log: ReadLogSettings = ReadLogSettings()
    assessment: AssessmentSettings = AssessmentSettings()
    pay: PaySettings = PaySettings()
    metrics: MetricsSettings = MetricsSettings()
    demo: DemoSettings = DemoSettings()


SECTIONS: dict[str, type[Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}

SECRETS = {("app", "secret_key"), ("wechat", "app_secret"), ("wechat", "encoding_aes_key")}
SECRETS.add(("channels", "wecom_corp_secret"))
SECRETS.add(("pay", "apiv3_key"))
SECRETS.add(("metrics", "token"))


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
    _check_metrics(settings.metrics)
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


MIN_METRICS_TOKEN_CHARS = 16


def _check_metrics(metrics: MetricsSettings) -> None:
    """/metrics is never open to anyone: switched on, it needs a token or a list of the
    addresses that may scrape it; a token is long enough not to be guessed."""
    if metrics.token and len(metrics.token) < MIN_METRICS_TOKEN_CHARS:
        raise ConfigError(
            "metrics.token", f"expected at least {MIN_METRICS_TOKEN_CHARS} random characters"
        )
    if metrics.enabled and not metrics.token and not metrics.allowed_addresses:
        raise ConfigError(
            "metrics.token",
            "required when metrics.enabled is true (or list metrics.allowed_addresses)",
        )


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
