"""`supportflow worker` and `supportflow api` when Temporal is not there at start (issue 15,
bad input): they retry with back-off for SUPPORTFLOW_TEMPORAL_CONNECT_TIMEOUT_SECONDS, then
exit 69 with one line naming the address; a server that comes up in time is used; a namespace
the server does not have is a configuration error, exit 78. Never a traceback."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from supportflow.stack.private_dir import make_private_data_dir
from supportflow.stack.standalone import EX_CONFIG, EX_UNAVAILABLE
from tests.helpers import SUPPORTFLOW, TEMPORAL_CLI, TEST_CONVERTER, free_port
from tests.production.fleet import Fleet, fleet_settings, process_env, until

NO_STORE = "http://127.0.0.1:9"  # nothing here reaches the store
CONNECT_TIMEOUT_S = 3.0


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _run(command: str, env: dict[str, str], limit_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORTFLOW, command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=limit_s,
    )


async def test_an_unreachable_temporal_is_retried_then_exit_69(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = fleet_settings(
        tmp_path, "", NO_STORE, address, temporal_connect_timeout_seconds=CONNECT_TIMEOUT_S
    )
    env = process_env(settings, SUPPORTFLOW_API_PORT=str(free_port()))
    worker, api = await asyncio.gather(
        asyncio.to_thread(_run, "worker", env, 60), asyncio.to_thread(_run, "api", env, 60)
    )
    for done in (worker, api):
        err = done.stderr
        assert done.returncode == EX_UNAVAILABLE, (done.args, err)
        assert "Traceback" not in err, err
        # Each failed attempt said once, naming where (after 1 s, then 2 s the 3 s are up)...
        warnings = [line for line in err.splitlines() if "not reachable" in line]
        assert len(warnings) == 2, err
        assert all(address in w and "(namespace default)" in w for w in warnings), err
        assert "attempt 1: Connection refused" in warnings[0], err
        assert "attempt 2: Connection refused" in warnings[1], err
        # ...then one line giving up, naming the address and the setting to check.
        [last] = [line for line in err.splitlines() if "did not answer" in line]
        assert address in last and "CRITICAL" in last, last
        assert "SUPPORTFLOW_TEMPORAL_ADDRESS" in last, last


async def test_a_worker_started_before_temporal_connects_when_it_comes_up(tmp_path: Path) -> None:
    port = free_port()
    settings = fleet_settings(
        tmp_path, "", NO_STORE, f"127.0.0.1:{port}", temporal_connect_timeout_seconds=60
    )
    make_private_data_dir(settings.data_dir)
    logs = tmp_path / "logs"
    # The Fleet's client is only for asking Temporal who polls; the server is not up yet.
    late = Fleet(settings, None, logs)  # type: ignore[arg-type]
    worker = late.start_worker()
    log = logs / "worker-0.log"
    env: WorkflowEnvironment | None = None
    try:
        # Up only once the worker has tried and failed (it keeps trying).
        await until(lambda: "not reachable (attempt 1:" in _text(log), "a failed attempt", 60)
        assert worker.poll() is None, _text(log)
        env = await WorkflowEnvironment.start_local(
            data_converter=TEST_CONVERTER, dev_server_existing_path=TEMPORAL_CLI, port=port
        )
        late.temporal = env.client
        await late.wait_polling([worker])
        codes = await late.stop()
    finally:
        await late.stop()
        if env is not None:
            await env.shutdown()
    assert codes["worker"] == [0], _text(log)
    assert "Traceback" not in _text(log), _text(log)


async def test_a_namespace_temporal_does_not_have_exits_78(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    address = dev_env.client.service_client.config.target_host
    settings = fleet_settings(tmp_path, "", NO_STORE, address)
    env = process_env(
        settings, SUPPORTFLOW_TEMPORAL_NAMESPACE="no-such-ns", SUPPORTFLOW_API_PORT=str(free_port())
    )
    # The worker and the API alike: neither could do anything in it.
    worker, api = await asyncio.gather(
        asyncio.to_thread(_run, "worker", env, 60), asyncio.to_thread(_run, "api", env, 60)
    )
    for done in (worker, api):
        err = done.stderr
        assert done.returncode == EX_CONFIG, (done.args, err)
        assert "Traceback" not in err, err
        [line] = [line for line in err.splitlines() if "no namespace" in line]
        assert "'no-such-ns'" in line and address in line, line
        assert "SUPPORTFLOW_TEMPORAL_NAMESPACE" in line, line


async def test_a_worker_still_waiting_for_temporal_stops_at_once_on_sigterm(
    tmp_path: Path,
) -> None:
    settings = fleet_settings(
        tmp_path, "", NO_STORE, f"127.0.0.1:{free_port()}", temporal_connect_timeout_seconds=60
    )
    waiting = Fleet(settings, None, tmp_path / "logs")  # type: ignore[arg-type]
    worker = waiting.start_worker()
    log = waiting.logs / "worker-0.log"
    try:
        await until(lambda: "not reachable (attempt 1:" in _text(log), "a failed attempt", 60)
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, 5)  # not the 60 s of retries
    finally:
        await waiting.stop()
    assert code == 0, _text(log)
