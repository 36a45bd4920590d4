"""The production files (Dockerfile, deploy/compose, deploy/k8s, docs/production.md) against
the code they deploy: every setting they name exists and validates, every command is a real
`supportflow` command, images are pinned, the probes hit what the processes really serve,
the drain periods outlast the worker's graceful shutdown, and the guide's Temporal Cloud
settings behave in the settings model as the guide says."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from pydantic import SecretStr, ValidationError
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from supportflow.cli.main import app as cli
from supportflow.crypto.keyring import KeyRingError, load_keyring
from supportflow.observability.worker_health import Liveness
from supportflow.settings import Settings
from supportflow.store.connection import TENANT_ENV_PREFIX
from supportflow.temporal.client import tls_config
from supportflow.understanding.train import CACHE_ENV
from supportflow.worker import build_workers
from supportflow.worker_options import worker_options
from tests.helpers import free_port, serve_api

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
K8S = ROOT / "deploy" / "k8s"
GUIDE = ROOT / "docs" / "production.md"

NAME = re.compile(r"\bSUPPORTFLOW_[A-Z0-9_]*[A-Z0-9]")
# SUPPORTFLOW_* names that are not Settings fields on purpose: the model cache directory
# (read by the trainer before any settings exist) and the tenants' store-secret namespace.
NOT_SETTINGS = {CACHE_ENV}


def _settings_names() -> set[str]:
    return {"SUPPORTFLOW_" + name.upper() for name in Settings.model_fields}


def _k8s_docs() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


def _k8s(kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in _k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _configmap() -> dict[str, str]:
    data: dict[str, str] = _k8s("ConfigMap", "supportflow-config")["data"]
    return data


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from ``env``."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        given = env.get(name, "")
        if op == "?" and not given:
            raise LookupError(f"compose refuses to start: {name} is empty ({arg})")
        return given if given or op != "-" else arg

    return _INTERPOLATION.sub(one, value)


# A filled-in .env: what an operator writes after reading .env.example.
FILLED_ENV = {
    **_env_file(ENV_EXAMPLE),
    "TEMPORAL_DB_PASSWORD": "3f9c0a7d1e",
    "APP_DB_PASSWORD": "8b1d5e2c44",
    "SUPPORTFLOW_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "SUPPORTFLOW_CODEC_TOKEN": "codec-token-value",
    "SUPPORTFLOW_METRICS_TOKEN": "metrics-token-value",
}


def _supportflow_env(service: str, env: dict[str, str]) -> dict[str, str]:
    raw = _compose()["services"][service]["environment"]
    return {k: _interpolate(str(v), env) for k, v in raw.items()}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No SUPPORTFLOW_* from the machine running the tests."""
    import os

    for key in list(os.environ):
        if key.startswith("SUPPORTFLOW_"):
            monkeypatch.delenv(key)
    yield monkeypatch


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        DOCKERFILE,
        COMPOSE,
        ENV_EXAMPLE,
        GUIDE,
        *sorted(K8S.glob("*.yaml")),
        K8S / "secret.env.example",
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_supportflow_name_is_a_setting(path: Path) -> None:
    names = set(NAME.findall(path.read_text()))
    unknown = {
        n
        for n in names - _settings_names() - NOT_SETTINGS
        if not (n + "_").startswith(TENANT_ENV_PREFIX)
    }
    assert not unknown, f"{path.name} names variables Settings does not have: {sorted(unknown)}"


def test_the_deploy_files_name_settings() -> None:
    """The name check above reads real text: the files name the settings they rely on."""
    named = set().union(*(NAME.findall(p.read_text()) for p in (COMPOSE, GUIDE, DOCKERFILE)))
    assert {
        "SUPPORTFLOW_DATABASE_URL",
        "SUPPORTFLOW_ENCRYPTION_KEYS",
        "SUPPORTFLOW_TEMPORAL_API_KEY",
        "SUPPORTFLOW_TEMPORAL_TLS_CLIENT_CERT_PATH",
        "SUPPORTFLOW_WORKER_METRICS_PORT",
        CACHE_ENV,
    } <= named
    assert "SUPPORTFLOW_NO_SUCH_SETTING" not in _settings_names()


def test_the_deploy_settings_validate(clean_env: pytest.MonkeyPatch) -> None:
    """The ConfigMap and the filled-in compose environment load in Settings as they stand."""
    s = _settings_from(_configmap(), clean_env)
    assert s.trusted_proxies == ["10.0.0.0/8"]
    assert s.codec_cors_origins == ["https://temporal-ui.example.com"]
    for service in ("api", "worker", "migrate"):
        s = _settings_from(_supportflow_env(service, FILLED_ENV), clean_env)
        assert s.resolved_database_url.startswith("postgresql+psycopg://supportflow:")
        assert s.temporal_address == "temporal:7233"
        assert s.codec_cors_origins == ["http://localhost:8088"]
        # The keys of a filled-in .env open: every process would start with them.
        assert load_keyring(s).key_ids == ["k1"]


def test_secrets_are_required_and_placeholders_refused() -> None:
    example = _env_file(ENV_EXAMPLE)
    text = COMPOSE.read_text()
    required = {m.group(1) for m in _INTERPOLATION.finditer(text) if m.group(2) == "?"}
    assert {
        "APP_DB_PASSWORD",
        "TEMPORAL_DB_PASSWORD",
        "SUPPORTFLOW_ENCRYPTION_KEYS",
        "SUPPORTFLOW_CODEC_TOKEN",
        "SUPPORTFLOW_METRICS_TOKEN",
    } <= required
    _interpolate(text, FILLED_ENV)  # a filled-in .env starts
    for name in sorted(required):
        value = example[name]
        if value == "":
            # Left empty in the example: compose refuses to start until it is filled in.
            with pytest.raises(LookupError, match=name):
                _interpolate(text, {**FILLED_ENV, name: value})
        else:
            # A placeholder value must be one the processes refuse at start.
            assert name == "SUPPORTFLOW_ENCRYPTION_KEYS", (name, value)
            settings = Settings(_env_file=None, encryption_keys=SecretStr(value))  # type: ignore[call-arg]
            with pytest.raises(KeyRingError) as refused:
                load_keyring(settings)
            # The guide quotes the refusal.
            assert str(refused.value) in GUIDE.read_text()
    # The k8s example's placeholder key is refused too.
    k8s_keys = _env_file(K8S / "secret.env.example")["SUPPORTFLOW_ENCRYPTION_KEYS"]
    with pytest.raises(KeyRingError):
        load_keyring(Settings(_env_file=None, encryption_keys=SecretStr(k8s_keys)))  # type: ignore[call-arg]


def test_the_image_bakes_in_no_secret() -> None:
    secret_fields = {
        "SUPPORTFLOW_" + name.upper()
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    assert "SUPPORTFLOW_ENCRYPTION_KEYS" in secret_fields
    assert not set(NAME.findall(DOCKERFILE.read_text())) & secret_fields
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in ignored and "**/.env" in ignored


# --- commands -------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _is_command(argv: list[str]) -> bool:
    result = CliRunner().invoke(cli, [*argv, "--help"])
    return result.exit_code == 0


def _commands() -> list[list[str]]:
    found: list[list[str]] = []
    for word, rest in _dockerfile():
        if word in ("CMD", "ENTRYPOINT"):
            found.append(json.loads(rest))
        elif word == "RUN":
            for part in rest.split("&&"):
                words = shlex.split(part)
                if words and words[0] == "supportflow":
                    found.append(words)
    for service in _compose()["services"].values():
        command = service.get("command")
        if isinstance(command, list) and command[0] == "supportflow":
            found.append(command)
    for doc in _k8s_docs():
        if doc["kind"] in ("Deployment", "Job"):
            found.append(_container(doc)["args"])
    return found


def test_every_command_is_a_real_supportflow_command() -> None:
    commands = _commands()
    assert ["supportflow", "api"] in commands
    assert ["supportflow", "worker"] in commands
    assert ["supportflow", "db", "upgrade"] in commands
    assert ["supportflow", "understanding", "train"] in commands
    for argv in commands:
        assert argv[0] == "supportflow", argv
        assert _is_command(argv[1:]), argv
    # The check can tell: a command that does not exist is not one.
    assert not _is_command(["db", "migrate"])


def test_the_image_runs_the_api_as_a_non_root_user() -> None:
    instructions = _dockerfile()
    [cmd] = [rest for word, rest in instructions if word == "CMD"]
    assert json.loads(cmd) == ["supportflow", "api"]
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    # The model is trained in the build, before the image's last user switch.
    words = [word for word, _ in instructions]
    train = next(i for i, (w, r) in enumerate(instructions) if "understanding train" in r)
    assert train < len(words) - 1 - words[::-1].index("USER")


# --- images -------------------------------------------------------------------------------


def _pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and any(c.isdigit() for c in tag)


def test_images_are_pinned() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    arg = next(rest for word, rest in _dockerfile() if word == "ARG")
    assert arg.startswith("PYTHON_IMAGE=python:3.11.") and _pinned(arg.partition("=")[2])
    env = _env_file(ENV_EXAMPLE)
    images = [_interpolate(s["image"], env) for s in _compose()["services"].values()]
    assert f"supportflow:{version}" in images
    assert {i.split(":")[0] for i in images} >= {
        "temporalio/server",
        "temporalio/admin-tools",
        "temporalio/ui",
        "postgres",
        "nginx",
    }
    for image in images:
        assert _pinned(image), image
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    renamed = {i["name"]: i for i in kustomization["images"]}
    for doc in _k8s_docs():
        if doc["kind"] in ("Deployment", "Job"):
            image = _container(doc)["image"]
            assert _pinned(image) or _pinned(f"x:{renamed[image]['newTag']}"), image
    assert not _pinned("temporalio/ui:latest") and not _pinned("postgres")


# --- probes -------------------------------------------------------------------------------


def _port(container: dict[str, Any], ref: str | int) -> int:
    if isinstance(ref, int):
        return ref
    [port] = [p["containerPort"] for p in container["ports"] if p["name"] == ref]
    return int(port)


def _http_probes(container: dict[str, Any]) -> list[tuple[str, int]]:
    out = []
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(kind)
        if probe and "httpGet" in probe:
            out.append((probe["httpGet"]["path"], _port(container, probe["httpGet"]["port"])))
        elif probe:
            out.append(("", _port(container, probe["tcpSocket"]["port"])))
    return out


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def _healthcheck_url(service: str) -> str:
    test = _compose()["services"][service]["healthcheck"]["test"]
    [url] = re.findall(r"http://[^'\"]+", " ".join(test))
    return url


async def test_the_api_probes_reach_what_the_api_serves(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    container = _container(_k8s("Deployment", "supportflow-api"))
    port = int(_env(container)["SUPPORTFLOW_API_PORT"])
    probes = _http_probes(container)
    assert {kind for kind in ("startupProbe", "readinessProbe", "livenessProbe")} <= set(container)
    assert all(p == port for _, p in probes), probes
    compose_url = urlsplit(_healthcheck_url("api"))
    assert compose_url.port == int(
        _compose()["services"]["api"]["environment"]["SUPPORTFLOW_API_PORT"]
    )
    paths = {path for path, _ in probes if path} | {compose_url.path}
    # The real API (with a metrics token: probes must not need it), on loopback.
    settings = settings.model_copy(
        update={"api_port": free_port(), "metrics_token": SecretStr("m-token")}
    )
    async with serve_api(settings, dev_env.client) as http:
        for path in paths:
            r = await http.get(path)
            # 200 "ok" also with no worker polling (agents_queue_pollers: 0): not a failure.
            assert r.status_code == 200 and r.json()["status"] == "ok", (path, r.text)
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/no-such-probe")).status_code == 404


async def test_the_worker_probes_reach_what_a_worker_serves(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    container = _container(_k8s("Deployment", "supportflow-worker"))
    env = _env(container)
    probes = _http_probes(container)
    paths = {path for path, _ in probes}
    assert len(probes) == 3 and "" not in paths
    assert {p for _, p in probes} == {int(env["SUPPORTFLOW_WORKER_METRICS_PORT"])}
    assert env["SUPPORTFLOW_WORKER_METRICS_HOST"] == "0.0.0.0"
    compose_url = urlsplit(_healthcheck_url("worker"))
    compose_env = _compose()["services"]["worker"]["environment"]
    assert compose_url.port == int(compose_env["SUPPORTFLOW_WORKER_METRICS_PORT"])
    paths.add(compose_url.path)

    # The real workers, built as `supportflow worker` builds them, with their HTTP server
    # on a free loopback port and a metrics token.
    port = free_port()
    settings = settings.model_copy(
        update={"worker_metrics_port": port, "metrics_token": SecretStr("m-token")}
    )
    base = f"http://127.0.0.1:{port}"
    async with build_workers(dev_env.client, settings) as workers, httpx.AsyncClient() as http:
        for path in paths:
            before = await http.get(base + path)
            # "starting" in a fresh worker process; "stopped" here when earlier tests in this
            # pytest process ran Workers of their own. Never "ok" before these run.
            assert before.status_code == 503, path
            assert before.json()["status"] in ("starting", "stopped"), path
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            for path in sorted(paths):
                for _ in range(100):
                    ok = await http.get(base + path)
                    if ok.status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                assert ok.status_code == 200, (path, ok.text)
                assert ok.json() == {"status": "ok", "workers": len(workers)}
            # /metrics wants the token; /health never does.
            assert (await http.get(base + "/metrics")).status_code == 401
            scraped = await http.get(base + "/metrics", headers={"Authorization": "Bearer m-token"})
            assert scraped.status_code == 200 and "supportflow_understanding_total" in scraped.text
        finally:
            for w in workers:
                await w.shutdown()
            await asyncio.gather(*tasks)
        for path in paths:
            after = await http.get(base + path)
            assert after.status_code == 503, path
            assert after.json() == {"status": "stopped", "workers": 0}


def test_liveness_reports_a_failed_worker_until_a_new_set_starts() -> None:
    liveness = Liveness()
    liveness.started()
    liveness.started()
    liveness.ended(failed=True)
    assert liveness.status() == (503, {"status": "failed", "workers": 1})
    liveness.ended(failed=False)
    liveness.started()
    assert liveness.status() == (200, {"status": "ok", "workers": 1})


# --- drain --------------------------------------------------------------------------------

# Time a stopping worker needs after its graceful shutdown: cancelled activities return,
# the Workers finalize, database pools and the store registry close.
CLEANUP_MARGIN_S = 15.0


def _graceful_seconds(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> float:
    settings = _settings_from(env, monkeypatch)
    timeout = worker_options(settings)["graceful_shutdown_timeout"]
    return float(timeout.total_seconds())


def test_the_worker_grace_period_outlasts_its_graceful_shutdown(
    clean_env: pytest.MonkeyPatch,
) -> None:
    worker = _k8s("Deployment", "supportflow-worker")
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    graceful = _graceful_seconds(_configmap(), clean_env)
    assert graceful > 0, "the ConfigMap gives running activities time to finish"
    assert grace >= graceful + CLEANUP_MARGIN_S, (grace, graceful)
    # Compose sets no graceful shutdown of its own: the default applies.
    compose_grace = _compose()["services"]["worker"]["stop_grace_period"]
    assert compose_grace.endswith("s")
    compose_graceful = _graceful_seconds(_supportflow_env("worker", FILLED_ENV), clean_env)
    assert float(compose_grace[:-1]) >= compose_graceful + CLEANUP_MARGIN_S
    # The check can fail: a grace period the graceful shutdown does not fit in.
    clean_env.setenv("SUPPORTFLOW_WORKER_GRACEFUL_SHUTDOWN_SECONDS", str(grace))
    assert not grace >= _graceful_seconds({}, clean_env) + CLEANUP_MARGIN_S


def test_the_api_drains_after_leaving_the_service(clean_env: pytest.MonkeyPatch) -> None:
    api = _k8s("Deployment", "supportflow-api")
    spec = api["spec"]["template"]["spec"]
    pre_stop = _container(api)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    settings = _settings_from(_configmap(), clean_env)
    # Leave the endpoints, then let a chat turn that just arrived wait its full time.
    assert spec["terminationGracePeriodSeconds"] > float(pre_stop[1]) + (
        settings.chat_reply_wait_seconds
    )
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    service = _k8s("Service", "supportflow-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


# --- Temporal Cloud, as the guide writes it -------------------------------------------------


def _guide_env(label: str) -> dict[str, str]:
    blocks = re.findall(r"```env\n(.*?)```", GUIDE.read_text(), flags=re.S)
    [block] = [b for b in blocks if b.strip().splitlines()[0].strip() == f"# {label}"]
    out = {}
    for line in block.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_the_guides_api_key_settings_connect_with_tls(clean_env: pytest.MonkeyPatch) -> None:
    env = _guide_env("temporal-cloud-api-key")
    s = _settings_from(env, clean_env)
    assert s.temporal_api_key is not None
    assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9]+", s.temporal_namespace)
    assert s.temporal_address.endswith(":7233")
    assert tls_config(s) is True
    # As the guide says: the key turns TLS on whatever SUPPORTFLOW_TEMPORAL_TLS says.
    clean_env.setenv("SUPPORTFLOW_TEMPORAL_TLS", "false")
    assert tls_config(Settings(_env_file=None)) is True  # type: ignore[call-arg]
    clean_env.delenv("SUPPORTFLOW_TEMPORAL_API_KEY")
    assert tls_config(Settings(_env_file=None)) is False  # type: ignore[call-arg]


def test_the_guides_mtls_settings_read_the_files(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = _guide_env("temporal-cloud-mtls")
    assert env["SUPPORTFLOW_TEMPORAL_ADDRESS"].endswith(".tmprl.cloud:7233")
    assert env["SUPPORTFLOW_TEMPORAL_ADDRESS"].startswith(env["SUPPORTFLOW_TEMPORAL_NAMESPACE"])
    # The guide's paths, on this machine.
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    env["SUPPORTFLOW_TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(cert)
    env["SUPPORTFLOW_TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(key)
    tls = tls_config(_settings_from(env, clean_env))
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key) == (b"CERT", b"KEY")
    # A certificate without its key is refused, with the message the guide quotes.
    clean_env.delenv("SUPPORTFLOW_TEMPORAL_TLS_CLIENT_KEY_PATH")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    quoted = "SUPPORTFLOW_TEMPORAL_TLS_CLIENT_CERT_PATH and _KEY_PATH must be set together"
    assert quoted in str(refused.value) and quoted in GUIDE.read_text()


def test_the_guide_keeps_the_scale_out_heading() -> None:
    text = GUIDE.read_text()
    assert "## Several API and worker processes\n" in text
    assert "(observability.md)" in text
