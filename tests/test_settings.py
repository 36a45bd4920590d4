"""Typed settings: production connection options and secrets that never print."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from supportflow.crypto.codec_token import ensure_codec_token, load_codec_token
from supportflow.settings import Settings
from supportflow.temporal.client import tls_config


def test_defaults_are_plain_local() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert tls_config(s) is False


def test_an_api_key_turns_tls_on_and_never_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTFLOW_TEMPORAL_API_KEY", "very-secret-key")
    monkeypatch.setenv("SUPPORTFLOW_TEMPORAL_ADDRESS", "ns.acct.tmprl.cloud:7233")
    monkeypatch.setenv("SUPPORTFLOW_TEMPORAL_NAMESPACE", "ns.acct")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert tls_config(s) is True
    assert s.temporal_namespace == "ns.acct"
    assert "very-secret-key" not in repr(s) and "very-secret-key" not in str(s.model_dump())


def test_mtls_reads_the_certificate_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    s = Settings(
        _env_file=None,  # type: ignore[call-arg]
        temporal_tls_client_cert_path=cert,
        temporal_tls_client_key_path=key,
        temporal_tls_server_name="temporal.internal",
    )
    tls = tls_config(s)
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.domain) == (
        b"CERT",
        b"KEY",
        "temporal.internal",
    )


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="set together"):
        Settings(_env_file=None, temporal_tls_client_cert_path=tmp_path / "c.pem")  # type: ignore[call-arg]


def test_an_empty_api_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # A deploy template's blank line: no key is sent, so TLS must not turn on for it.
    for blank in ("", "  "):
        monkeypatch.setenv("SUPPORTFLOW_TEMPORAL_API_KEY", blank)
        s = Settings(_env_file=None)  # type: ignore[call-arg]
        assert s.temporal_api_key is None
        assert tls_config(s) is False


@pytest.mark.parametrize(
    "name", ["metrics_token", "codec_token", "llm_api_key", "anthropic_api_key"]
)
def test_other_empty_secrets_are_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # Empty means unset, as documented: /metrics open (docs/observability.md), the codec
    # token from <data_dir>/codec-token, no Authorization header to the model server.
    monkeypatch.setenv(f"SUPPORTFLOW_{name.upper()}", "")
    assert getattr(Settings(_env_file=None), name) is None  # type: ignore[call-arg]
    monkeypatch.setenv(f"SUPPORTFLOW_{name.upper()}", "set")
    value = getattr(Settings(_env_file=None), name)  # type: ignore[call-arg]
    assert value is not None and value.get_secret_value() == "set"


def test_an_empty_codec_token_falls_back_to_the_data_dir_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUPPORTFLOW_CODEC_TOKEN", "")
    s = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    token = ensure_codec_token(s)
    assert token and load_codec_token(s) == token
