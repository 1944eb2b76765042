"""The one place that reads environment variables and the config file.

Everything else receives a `Settings` value; nothing else calls `os.environ`. Precedence, highest
first: environment variables, `$AGENT_TRACE_HOME/config.toml`, built-in defaults. The seed's
variable names (`RUNTIME_*`, `COLLECTOR_PORT`, `CLICKHOUSE_*`, `POSTGRES_CONNECTION_STRING`, ...)
are honoured beside agent-trace's own.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote

DEFAULT_PRIVACY_TIER = 2
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_INGEST_QUEUE_RECORDS = 200_000
DEFAULT_INGEST_BATCH_RECORDS = 20_000
VALID_ROLES = ("all", "collector", "api", "dashboard")


@dataclass(frozen=True)
class BudgetSettings:
    """Budgets and their alerts (docs/configuration.md, "Budgets and alerts")."""

    webhook_url: str | None = None  # generic JSON body
    slack_webhook_url: str | None = None  # Slack-compatible `{"text": …}` body
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_from: str = "agent-trace@localhost"
    email_to: tuple[str, ...] = ()
    retry_base_s: float = 10.0  # first retry after this, then doubling
    max_attempts: int = 6
    contact: str | None = None  # who can raise a budget, named in every refusal
    refresh_s: float = 1.0  # how often the collector re-reads spend for the hook decision


class ConfigError(ValueError):
    """A setting has a value agent-trace cannot use; the message names the setting and the rule."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    events_url: str | None = None
    privacy_tier: int = DEFAULT_PRIVACY_TIER
    user: str | None = None
    timezone: str | None = None
    role: str = "all"
    host: str = "127.0.0.1"
    collector_port: int = 8317
    api_port: int = 8318
    dashboard_port: int = 3100
    otel_grpc_address: str = "127.0.0.1:4717"
    run_migrations: bool = True
    dashboard_api_base_url: str | None = None
    ingest_token: str | None = None
    dashboard_token: str | None = None
    # Webhooks (docs/outcomes.md): GitHub signs with this secret (X-Hub-Signature-256), GitLab
    # sends this token (X-Gitlab-Token). Unset: that provider's webhook answers 401.
    github_webhook_secret: str | None = None
    gitlab_webhook_token: str | None = None
    claude_projects_dirs: tuple[Path, ...] = field(default_factory=tuple)
    # Other agents' session stores that `agent-trace import` reads by default (Codex CLI, …).
    agent_session_dirs: tuple[Path, ...] = field(default_factory=tuple)
    config_file: Path | None = None
    # Collector limits (docs/collector.md): the largest request body accepted, after
    # decompression; how many records may wait for the writer before requests get 503; how many
    # records one group commit may hold.
    ingest_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    ingest_queue_records: int = DEFAULT_INGEST_QUEUE_RECORDS
    ingest_batch_records: int = DEFAULT_INGEST_BATCH_RECORDS
    # Worker processes decoding OTLP exports (0: decode in the collector process).
    ingest_workers: int = 0
    # Identity and access (docs/access.md). Off: one local user, everything bound to loopback.
    auth: bool = False
    # Host names the HTTP roles answer to besides loopback ones (DNS rebinding protection).
    allowed_hosts: tuple[str, ...] = ()
    # The address people reach the dashboard at (https://… makes cookies Secure; OIDC redirect).
    public_url: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_default_role: str = "viewer"  # role of a person provisioned at their first sign-in
    oidc_teams_claim: str | None = None  # an ID-token/userinfo claim listing the person's teams
    # Serve a non-loopback address with auth off anyway (`serve --insecure-no-auth`;
    # the rule: server/listeners.exposure_problem).
    insecure_no_auth: bool = False
    # The CLI's read commands against a remote server's API (`--server`; docs/cli.md "Remote
    # mode"): its base URL, and the personal token they send (else the one `init --token` recorded).
    server: str | None = None
    api_token: str | None = None
    budgets: BudgetSettings = field(default_factory=BudgetSettings)

    @property
    def price_override_file(self) -> Path:
        return self.home / "prices.toml"

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The file behind a `sqlite:///path` URL, or None for other databases and in-memory SQLite."""
        from agent_trace.store.sql.urls import sqlite_file

        return sqlite_file(self.database_url)


def _int(
    env: Mapping[str, str], file_cfg: Mapping[str, object], names: tuple[str, ...], key: str, default: int
) -> int:
    for name in names:
        if env.get(name):
            try:
                return int(env[name])
            except ValueError:
                raise ConfigError(f"{name}={env[name]!r}: must be an integer") from None
    if key in file_cfg:
        value = file_cfg[key]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"config.toml {key}={value!r}: must be an integer")
    return default


def _port(env: Mapping[str, str], file_cfg: Mapping[str, object], name: str, key: str, default: int) -> int:
    value = _int(env, file_cfg, (name,), key, default)
    if not 1 <= value <= 65535:
        where = f"{name}={value}" if env.get(name) else f"config.toml {key}={value}"
        raise ConfigError(f"{where}: a port must be between 1 and 65535")
    return value


def _str(
    env: Mapping[str, str], file_cfg: Mapping[str, object], names: tuple[str, ...], key: str
) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    value = file_cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"config.toml {key}={value!r}: must be a string")
    return value


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r}: must be true or false")


def normalize_role(value: str) -> str:
    """`all`, one role, or a comma-separated list of roles (`collector,api`: both HTTP servers in
    one process, as the Compose stack's runtime service runs them). Raises ValueError."""
    parts = [p.strip().lower() for p in value.split(",") if p.strip()]
    if not parts or any(p not in VALID_ROLES for p in parts):
        raise ValueError(f"must be one of {', '.join(VALID_ROLES)}, or a comma-separated list of roles")
    if "all" in parts:
        return "all"
    return ",".join(dict.fromkeys(parts))


def normalize_database_url(url: str) -> str:
    """Accept the URL spellings people paste (`postgres://`, `postgresql://`) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _events_url(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> str | None:
    explicit = _str(env, file_cfg, ("AGENT_TRACE_EVENTS_URL",), "events_url")
    if explicit:
        return explicit
    seed_url = env.get("CLICKHOUSE_URL")
    if not seed_url:
        return None
    # The seed gives host URL and credentials separately: http://host:8123 + user/password/database.
    hostport = seed_url.split("://", 1)[-1].rstrip("/")
    user = env.get("CLICKHOUSE_USERNAME", "default")
    password = env.get("CLICKHOUSE_PASSWORD", "")
    database = env.get("CLICKHOUSE_DATABASE", "default")
    secure = "?secure=true" if seed_url.startswith("https://") else ""
    return f"clickhouse://{quote(user, safe='')}:{quote(password, safe='')}@{hostport}/{database}{secure}"


def _claude_projects_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    user_home = Path(env.get("HOME") or str(Path.home()))
    dirs: list[Path] = []
    if env.get("CLAUDE_CONFIG_DIR"):
        for part in env["CLAUDE_CONFIG_DIR"].split(","):
            if part.strip():
                dirs.append(Path(part.strip()).expanduser() / "projects")
    dirs.append(user_home / ".claude" / "projects")
    dirs.append(user_home / ".config" / "claude" / "projects")
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return tuple(unique)


def _agent_session_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Where the other agents keep their sessions: Codex CLI under $CODEX_HOME (default ~/.codex),
    live sessions and archived ones; Gemini CLI under ~/.gemini/tmp (GEMINI_CLI_HOME moves it);
    Qwen Code under ~/.qwen/projects ($QWEN_HOME/projects); OpenCode's database under
    $XDG_DATA_HOME/opencode (default ~/.local/share/opencode)."""
    user_home = Path(env.get("HOME") or str(Path.home()))
    codex_home = Path(env["CODEX_HOME"]).expanduser() if env.get("CODEX_HOME") else user_home / ".codex"
    gemini_home = Path(env["GEMINI_CLI_HOME"]).expanduser() if env.get("GEMINI_CLI_HOME") else user_home
    return (
        codex_home / "sessions",
        codex_home / "archived_sessions",
        gemini_home / ".gemini" / "tmp",
        (Path(env["QWEN_HOME"]).expanduser() if env.get("QWEN_HOME") else user_home / ".qwen") / "projects",
        (Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else user_home / ".local" / "share")
        / "opencode",
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment (default: os.environ) and the config file."""
    env = dict(os.environ if env is None else env)
    user_home = Path(env.get("HOME") or str(Path.home()))
    home = Path(env.get("AGENT_TRACE_HOME") or (user_home / ".agent-trace")).expanduser()
    config_file = home / "config.toml"
    file_cfg = _read_config_file(config_file)

    database_url = _str(
        env, file_cfg, ("AGENT_TRACE_DATABASE_URL", "POSTGRES_CONNECTION_STRING"), "database_url"
    )
    if not database_url:
        database_url = f"sqlite:///{home / 'agent-trace.db'}"
    database_url = normalize_database_url(database_url)

    tier = _privacy_tier(env, file_cfg)
    role = _role(env, file_cfg)

    run_migrations = True
    if env.get("RUNTIME_RUN_MIGRATIONS"):
        run_migrations = _bool(env["RUNTIME_RUN_MIGRATIONS"], "RUNTIME_RUN_MIGRATIONS")

    grpc_default = "0.0.0.0:4717" if env.get("RUNTIME_HOST") == "0.0.0.0" else "127.0.0.1:4717"
    return Settings(
        home=home,
        database_url=database_url,
        events_url=_events_url(env, file_cfg),
        privacy_tier=tier,
        # The configured developer only; agent_trace.identity.resolve_user adds the fallbacks
        # (git user.email, then the login name) for the paths that record a user.
        user=_str(env, file_cfg, ("AGENT_TRACE_USER",), "user"),
        timezone=_str(env, file_cfg, ("AGENT_TRACE_TIMEZONE",), "timezone"),
        role=role,
        host=_str(env, file_cfg, ("RUNTIME_HOST", "AGENT_TRACE_HOST"), "host") or "127.0.0.1",
        collector_port=_port(env, file_cfg, "COLLECTOR_PORT", "collector_port", 8317),
        api_port=_port(env, file_cfg, "API_PORT", "api_port", 8318),
        dashboard_port=_port(env, file_cfg, "DASHBOARD_PORT", "dashboard_port", 3100),
        otel_grpc_address=_str(env, file_cfg, ("OTEL_GRPC_ADDRESS",), "otel_grpc_address") or grpc_default,
        run_migrations=run_migrations,
        dashboard_api_base_url=_str(env, file_cfg, ("DASHBOARD_API_BASE_URL",), "dashboard_api_base_url"),
        ingest_token=_str(env, file_cfg, ("AGENT_TRACE_INGEST_TOKEN",), "ingest_token"),
        dashboard_token=_str(env, file_cfg, ("AGENT_TRACE_DASHBOARD_TOKEN",), "dashboard_token"),
        github_webhook_secret=_str(
            env, file_cfg, ("AGENT_TRACE_GITHUB_WEBHOOK_SECRET",), "github_webhook_secret"
        ),
        gitlab_webhook_token=_str(
            env, file_cfg, ("AGENT_TRACE_GITLAB_WEBHOOK_TOKEN",), "gitlab_webhook_token"
        ),
        claude_projects_dirs=_claude_projects_dirs(env),
        agent_session_dirs=_agent_session_dirs(env),
        config_file=config_file if config_file.is_file() else None,
        **_ingest_limits(env, file_cfg),
        **_identity(env, file_cfg),
        budgets=_budget_settings(env, file_cfg),
    )


def _read_config_file(config_file: Path) -> dict[str, object]:
    if not config_file.is_file():
        return {}
    try:
        return tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_file}: not valid TOML ({exc})") from None


def _privacy_tier(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> int:
    tier = _int(env, file_cfg, ("AGENT_TRACE_PRIVACY_TIER",), "privacy_tier", DEFAULT_PRIVACY_TIER)
    if tier not in (1, 2, 3):
        raise ConfigError(
            f"privacy tier {tier}: must be 1 (metadata), 2 (+prompts, tool details) or 3 (+responses)"
        )
    return tier


def _role(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> str:
    raw_role = _str(env, file_cfg, ("RUNTIME_SERVICE_ROLE",), "role") or "all"
    try:
        return normalize_role(raw_role)
    except ValueError as exc:
        raise ConfigError(f"RUNTIME_SERVICE_ROLE={raw_role!r}: {exc}") from None


class _IngestLimits(TypedDict):
    ingest_max_body_bytes: int
    ingest_queue_records: int
    ingest_batch_records: int
    ingest_workers: int


def _ingest_limits(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> _IngestLimits:
    """The collector's body cap, queue and batch sizes and decoder workers."""
    return {
        "ingest_max_body_bytes": _positive(
            env, file_cfg, "AGENT_TRACE_MAX_BODY_BYTES", "max_body_bytes", DEFAULT_MAX_BODY_BYTES
        ),
        "ingest_queue_records": _positive(
            env,
            file_cfg,
            "AGENT_TRACE_INGEST_QUEUE_RECORDS",
            "ingest_queue_records",
            DEFAULT_INGEST_QUEUE_RECORDS,
        ),
        "ingest_batch_records": _positive(
            env,
            file_cfg,
            "AGENT_TRACE_INGEST_BATCH_RECORDS",
            "ingest_batch_records",
            DEFAULT_INGEST_BATCH_RECORDS,
        ),
        "ingest_workers": _workers(env, file_cfg),
    }


def _budget_settings(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> BudgetSettings:
    def text(name: str, key: str) -> str | None:
        return _str(env, file_cfg, (name,), key)

    def seconds(name: str, key: str, default: float) -> float:
        raw = env.get(name) or file_cfg.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = float(str(raw))
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: must be a number of seconds") from None
        if not 0 < value <= 86_400:
            raise ConfigError(f"{name}={raw!r}: must be more than 0 and at most 86400")
        return value

    starttls = text("AGENT_TRACE_SMTP_STARTTLS", "smtp_starttls")
    recipients = text("AGENT_TRACE_ALERT_EMAIL_TO", "alert_email_to") or ""
    attempts = _int(env, file_cfg, ("AGENT_TRACE_ALERT_MAX_ATTEMPTS",), "alert_max_attempts", 6)
    if not 1 <= attempts <= 100:
        raise ConfigError(f"AGENT_TRACE_ALERT_MAX_ATTEMPTS={attempts}: must be between 1 and 100")
    return BudgetSettings(
        webhook_url=text("AGENT_TRACE_ALERT_WEBHOOK_URL", "alert_webhook_url"),
        slack_webhook_url=text("AGENT_TRACE_ALERT_SLACK_WEBHOOK_URL", "alert_slack_webhook_url"),
        smtp_host=text("AGENT_TRACE_SMTP_HOST", "smtp_host"),
        smtp_port=_int(env, file_cfg, ("AGENT_TRACE_SMTP_PORT",), "smtp_port", 25),
        smtp_user=text("AGENT_TRACE_SMTP_USER", "smtp_user"),
        smtp_password=text("AGENT_TRACE_SMTP_PASSWORD", "smtp_password"),
        smtp_starttls=_bool(starttls, "AGENT_TRACE_SMTP_STARTTLS") if starttls else False,
        email_from=text("AGENT_TRACE_ALERT_EMAIL_FROM", "alert_email_from") or "agent-trace@localhost",
        email_to=tuple(a.strip() for a in recipients.split(",") if a.strip()),
        retry_base_s=seconds("AGENT_TRACE_ALERT_RETRY_SECONDS", "alert_retry_seconds", 10.0),
        max_attempts=attempts,
        contact=text("AGENT_TRACE_BUDGET_CONTACT", "budget_contact"),
        refresh_s=seconds("AGENT_TRACE_BUDGET_REFRESH_SECONDS", "budget_refresh_seconds", 1.0),
    )


class _IdentitySettings(TypedDict):
    auth: bool
    insecure_no_auth: bool
    allowed_hosts: tuple[str, ...]
    public_url: str | None
    oidc_issuer: str | None
    oidc_client_id: str | None
    oidc_client_secret: str | None
    oidc_default_role: str
    oidc_teams_claim: str | None
    server: str | None
    api_token: str | None


def _identity(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> _IdentitySettings:
    # `auth = "on"` or `auth = true` in config.toml; AGENT_TRACE_AUTH=on|off wins.
    raw_auth = env.get("AGENT_TRACE_AUTH") or file_cfg.get("auth")
    if isinstance(raw_auth, bool):
        auth = raw_auth
    elif raw_auth:
        try:
            auth = _bool(str(raw_auth), "AGENT_TRACE_AUTH")
        except ConfigError:
            raise ConfigError(f"AGENT_TRACE_AUTH={raw_auth!r}: must be on or off") from None
    else:
        auth = False
    hosts_raw = env.get("AGENT_TRACE_ALLOWED_HOSTS")
    hosts: list[str] = []
    if hosts_raw:
        hosts = [h.strip().lower() for h in hosts_raw.split(",") if h.strip()]
    elif "allowed_hosts" in file_cfg:
        value = file_cfg["allowed_hosts"]
        if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
            raise ConfigError(f"config.toml allowed_hosts={value!r}: must be a list of host names")
        hosts = [h.strip().lower() for h in value if h.strip()]
    default_role = _str(env, file_cfg, ("AGENT_TRACE_OIDC_DEFAULT_ROLE",), "oidc_default_role") or "viewer"
    if default_role not in ("admin", "member", "viewer"):
        raise ConfigError(f"AGENT_TRACE_OIDC_DEFAULT_ROLE={default_role!r}: must be admin, member or viewer")
    public_url = _str(env, file_cfg, ("AGENT_TRACE_PUBLIC_URL",), "public_url")
    insecure = env.get("AGENT_TRACE_INSECURE_NO_AUTH") or file_cfg.get("insecure_no_auth")
    return {
        "auth": auth,
        "insecure_no_auth": insecure
        if isinstance(insecure, bool)
        else bool(insecure) and _bool(str(insecure), "AGENT_TRACE_INSECURE_NO_AUTH"),
        "allowed_hosts": tuple(hosts),
        "public_url": public_url.rstrip("/") if public_url else None,
        "oidc_issuer": _str(env, file_cfg, ("AGENT_TRACE_OIDC_ISSUER",), "oidc_issuer"),
        "oidc_client_id": _str(env, file_cfg, ("AGENT_TRACE_OIDC_CLIENT_ID",), "oidc_client_id"),
        "oidc_client_secret": _str(env, file_cfg, ("AGENT_TRACE_OIDC_CLIENT_SECRET",), "oidc_client_secret"),
        "oidc_default_role": default_role,
        "oidc_teams_claim": _str(env, file_cfg, ("AGENT_TRACE_OIDC_TEAMS_CLAIM",), "oidc_teams_claim"),
        "server": _str(env, file_cfg, ("AGENT_TRACE_SERVER",), "server"),
        "api_token": _str(env, file_cfg, ("AGENT_TRACE_TOKEN",), "token"),
    }


def _workers(env: Mapping[str, str], file_cfg: Mapping[str, object]) -> int:
    # Default: one OTLP decoder process per core beyond the first (the collector process keeps
    # HTTP and the writer), at most 4.
    default = max(0, min(4, (os.cpu_count() or 1) - 1))
    value = _int(env, file_cfg, ("AGENT_TRACE_INGEST_WORKERS",), "ingest_workers", default)
    if not 0 <= value <= 64:
        raise ConfigError(f"AGENT_TRACE_INGEST_WORKERS={value}: must be between 0 and 64")
    return value


def _positive(
    env: Mapping[str, str], file_cfg: Mapping[str, object], name: str, key: str, default: int
) -> int:
    value = _int(env, file_cfg, (name,), key, default)
    if value < 1:
        raise ConfigError(f"{name}={value}: must be a positive integer")
    return value
