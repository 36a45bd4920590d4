"""`supportflow up`: Temporal dev server, demo store, workers and API in one process tree.

Start order is dependency order (Temporal, store, workers, API); stop order is the reverse,
so no request arrives at a part that has already gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Callable

from supportflow.api.server import api_server_config
from supportflow.asgi_server import EmbeddedServer
from supportflow.channels.email_inbound import TenantMailRouter
from supportflow.channels.ingest import Ingestor
from supportflow.channels.limits import SenderLimiter
from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer
from supportflow.crypto.codec_token import ensure_codec_token
from supportflow.crypto.keyring import load_keyring
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.demo_store.server import StoreServer, StoreWebhooks
from supportflow.mail.maildir import maildir_path
from supportflow.mail.maildir_server import MaildirServer
from supportflow.observability.process import ensure_sdk_metrics  # issue 15 item 5
from supportflow.settings import Settings
from supportflow.stack.demo_tenant import ensure_demo_tenant
from supportflow.stack.private_dir import make_private_data_dir
from supportflow.stack.standalone import exit_stalled
from supportflow.stack.temporal_server import start_dev_server
from supportflow.stack.worker_processes import WorkerProcesses
from supportflow.temporal.client import split_address
from supportflow.worker import build_workers, run_workers
from supportflow.worker_stall import WorkerStalled

log = logging.getLogger("supportflow.up")


class PortInUse(RuntimeError):
    pass


def _check_port_free(host: str, port: int, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            raise PortInUse(
                f"port {port} on {host} is in use; choose another with {setting}"
            ) from err


async def _wait_until(check: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    # uvicorn exposes only a `started` flag, no event to await.
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start within {limit_s:.0f}s")
        await asyncio.sleep(0.05)


async def run_embedded(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    started = time.monotonic()
    if not settings.embedded_split_queues:
        one = settings.task_queue_agents
        settings = settings.model_copy(
            update={"task_queue_ai": one, "task_queue_integrations": one}
        )
    # --- encryption at rest: a private data dir (0700; files 0600 via the umask) ---
    make_private_data_dir(settings.data_dir)
    # The Temporal UI's codec server (/codec) needs a token: `supportflow keys codec-token`.
    ensure_codec_token(settings)
    # --- end encryption at rest ---
    t_host, t_port = split_address(settings.temporal_address)
    _check_port_free(t_host, t_port, "SUPPORTFLOW_TEMPORAL_ADDRESS")
    _check_port_free(t_host, settings.temporal_ui_port, "SUPPORTFLOW_TEMPORAL_UI_PORT")
    _check_port_free(settings.store_host, settings.store_port, "SUPPORTFLOW_STORE_PORT")
    _check_port_free(settings.api_host, settings.api_port, "SUPPORTFLOW_API_PORT")
    # --- mail: the embedded SMTP server relays outbound mail unless a relay is configured ---
    _check_port_free(
        settings.embedded_smtp_host, settings.embedded_smtp_port, "SUPPORTFLOW_EMBEDDED_SMTP_PORT"
    )
    if not settings.smtp_host:
        settings = settings.model_copy(
            update={
                "smtp_host": settings.embedded_smtp_host,
                "smtp_port": settings.embedded_smtp_port,
                "smtp_starttls": False,
                "smtp_use_tls": False,
                "smtp_username": "",
                "smtp_password": None,
            }
        )
    # management agent (issue 14): the API starts each tenant's agent and digest schedule.
    settings = settings.model_copy(update={"dev_endpoints": True, "management_autostart": True})
    # --- end mail ---
    # --- email and SMS (issue 13): inbound SMTP for tenants' support addresses ---
    _check_port_free(
        settings.smtp_inbound_host, settings.smtp_inbound_port, "SUPPORTFLOW_SMTP_INBOUND_PORT"
    )
    # --- end email and SMS ---

    log.info("data directory %s", settings.data_dir.resolve())
    log.info("starting Temporal dev server on %s", settings.temporal_address)
    # --- observability (issue 15 item 5): the SDK's metrics on the API's /metrics; its
    # runtime must be the default before the dev server's client connects ---
    ensure_sdk_metrics(settings)
    # --- end observability ---
    env = await start_dev_server(settings)
    log.info("Temporal dev server up; UI on http://%s:%d", t_host, settings.temporal_ui_port)
    try:
        url = settings.resolved_database_url
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        demo = await asyncio.to_thread(
            ensure_demo_tenant,
            make_session_factory(engine),
            settings.data_dir,
            load_keyring(settings, create=True),
            mail_domain=settings.inbound_mail_domain,
        )
        engine.dispose()
        log.info("app database migrated (%s)", url.split("://", 1)[0])
        # --- mail: only the demo tenant's key reads /dev/mail ---
        settings = settings.model_copy(update={"demo_tenant_id": demo["tenant_id"]})
        # --- end mail ---

        # --- sales (issue 14): the demo store sends its webhooks (checkouts, orders,
        # deliveries) to the demo tenant, signed with the tenant's store webhook secret; the
        # first ones wait (retried) until the API is up ---
        webhooks = None
        if demo.get("store_webhook_secret"):
            host = settings.api_host if settings.api_host not in ("0.0.0.0", "::") else "127.0.0.1"
            webhooks = StoreWebhooks(
                url=f"http://{host}:{settings.api_port}/v1/webhooks/store/{demo['tenant_id']}",
                secret=demo["store_webhook_secret"],
            )
        # --- end sales ---
        store = StoreServer(
            settings.data_dir / "store.db",
            settings.store_host,
            settings.store_port,
            webhooks=webhooks,
        )
        await store.start()
        log.info("demo store up on %s", settings.resolved_store_url)

        # --- mail: embedded SMTP server, every message into the Maildir <data_dir>/mail ---
        mail_server = MaildirServer(
            maildir_path(settings.data_dir),
            settings.embedded_smtp_host,
            settings.embedded_smtp_port,
        )
        await mail_server.start()
        # --- end mail ---
        # --- SMS: a local stand-in for Twilio's REST API, unless a real one is configured;
        # the demo tenant's account sends through it, /dev/sms lists what it was sent ---
        twilio = FakeTwilioServer(FakeTwilio(), settings.store_host, 0)
        if not settings.twilio_api_base_url:
            await twilio.start()
            settings = settings.model_copy(update={"twilio_api_base_url": twilio.url})
            if demo.get("twilio_account_sid") and demo.get("twilio_auth_token"):
                twilio.fake.add_account(demo["twilio_account_sid"], demo["twilio_auth_token"])
        # --- end SMS ---

        # --- production (issue 15): N worker processes, or the worker in this process ---
        children = (
            WorkerProcesses(settings, settings.embedded_workers)
            if settings.embedded_workers > 1
            else None
        )
        async with contextlib.AsyncExitStack() as in_process:
            if children is not None:
                await children.start(env.client)
                log.info("%d worker processes polling", settings.embedded_workers)
                worker_task: asyncio.Task[object] = asyncio.create_task(stop.wait())
            else:
                workers = await in_process.enter_async_context(build_workers(env.client, settings))
                worker_task = asyncio.create_task(run_workers(workers, stop))
                log.info("workers polling %d task queues", len(workers))
            # --- end production ---

            api = EmbeddedServer(api_server_config(settings, temporal=env.client))
            api_task = asyncio.create_task(api.serve())
            await _wait_until(lambda: api.started, "API")
            log.info("API up on %s", settings.api_url)
            # --- email: tenants' support addresses over SMTP, into their conversations ---
            inbound_db = make_engine(settings.resolved_database_url)
            inbound = MaildirServer(
                settings.data_dir / "mail-in",
                settings.smtp_inbound_host,
                settings.smtp_inbound_port,
                router=TenantMailRouter(
                    Ingestor(make_session_factory(inbound_db), env.client, settings),
                    SenderLimiter(settings),
                ),
                max_message_bytes=settings.inbound_mail_max_bytes,
            )
            await inbound.start()
            # --- end email ---

            print(  # noqa: T201 - the one line operators and scripts wait for
                f"supportflow ready in {time.monotonic() - started:.1f}s  "
                f"api={settings.api_url}  store={settings.resolved_store_url}  "
                f"temporal_ui=http://{t_host}:{settings.temporal_ui_port}  "
                f"chat={settings.api_url}/chat?key={demo['chat_key']}  "
                f"mail={settings.api_url}/dev/mail  "
                f"smtp={settings.smtp_inbound_host}:{inbound.port}  "
                f"sms={settings.api_url}/dev/sms  "
                f"console={settings.api_url}/console/login?tenant={demo['tenant_id']}  "
                f"workers={settings.embedded_workers}",
                flush=True,
            )
            await asyncio.wait(
                [worker_task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
            )
            if worker_task.done() and isinstance(worker_task.exception(), WorkerStalled):
                # Issue 15 item 1: the in-process worker can't go on, and neither can this
                # process; `up --workers N` has its worker processes replaced instead.
                stalled = worker_task.exception()
                assert isinstance(stalled, WorkerStalled)
                await env.shutdown()  # the dev server is a child process: don't orphan it
                exit_stalled(stalled)
            log.info("stopping")
            await inbound.stop()  # email: no new mail once stopping
            inbound_db.dispose()
            api.should_exit = True
            await api_task
            await worker_task
            if children is not None:
                await children.stop()
        await mail_server.stop()  # mail: after the workers, which send through it
        await twilio.stop()  # SMS: after the workers, which send through it
        await store.stop()
    finally:
        await env.shutdown()
        log.info("stopped")
