"""The settings `up --workers N` hands its worker processes (stack/worker_processes.py): the
SUPPORTFLOW_* variables make the very same Settings in the child, secrets included, whatever
the field's type (comma lists, JSON lists, durations, booleans, paths)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from supportflow.settings import Settings
from supportflow.stack.worker_processes import WorkerProcesses, settings_env


def _revealed(s: Settings) -> dict[str, object]:
    return {
        k: v.get_secret_value() if isinstance(v, SecretStr) else v
        for k, v in ((name, getattr(s, name)) for name in type(s).model_fields)
    }


def test_a_child_reads_back_the_settings_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("SUPPORTFLOW_")]:
        monkeypatch.delenv(key)
    given = Settings(
        data_dir=tmp_path / "data",
        temporal_address="127.0.0.1:7999",
        smtp_host="127.0.0.1",
        smtp_port=2626,
        smtp_starttls=False,
        smtp_password=SecretStr("p@ss word,with=odd chars"),
        encryption_keys=SecretStr("k1:" + "A" * 44),
        trusted_proxies=["127.0.0.1", "10.0.0.0/8"],
        codec_cors_origins=["http://localhost:8233"],
        continue_as_new_events=150,
        unverified_idle_seconds=3 * 3600.0,
        embedded_workers=3,
        management_autostart=True,
    )
    env = settings_env(given)
    assert env["SUPPORTFLOW_TRUSTED_PROXIES"] == "127.0.0.1,10.0.0.0/8"
    assert env["SUPPORTFLOW_SMTP_PASSWORD"] == "p@ss word,with=odd chars"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert _revealed(Settings()) == _revealed(given)


def test_each_worker_process_gets_a_metrics_port_of_its_own(tmp_path: Path) -> None:
    """With SUPPORTFLOW_WORKER_METRICS_PORT set, `up --workers 3` serves worker metrics on
    that port and the next two (one bound port each, no child left without)."""
    children = WorkerProcesses(Settings(data_dir=tmp_path, worker_metrics_port=9400), 3)
    ports = [children.child_env(i)["SUPPORTFLOW_WORKER_METRICS_PORT"] for i in range(3)]
    assert ports == ["9400", "9401", "9402"]
    unset = WorkerProcesses(Settings(data_dir=tmp_path), 2)
    assert "SUPPORTFLOW_WORKER_METRICS_PORT" not in unset.child_env(1)
