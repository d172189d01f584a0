"""Run the tenant as a process: `hdrive-migrate tenant serve`."""

import asyncio
import ipaddress
import signal
import sys

from aiohttp import web

from .app import Tenant
from .errors import SetupError
from .options import TenantOptions
from .state import TenantState, read_users_csv


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(options: TenantOptions) -> None:
    """Serve until SIGINT or SIGTERM. Prints one line with the URL once it accepts requests;
    with port 0 the line carries the port the system chose."""
    if not is_loopback(options.host):
        raise SetupError(
            f"--host {options.host} is not a loopback address. Fix: the local tenant accepts any"
            " token, so it listens only on 127.0.0.1, ::1 or localhost"
        )
    options.data.mkdir(parents=True, exist_ok=True)
    state = TenantState(options.data, options.drive_quota)
    if options.users_csv is not None:
        state.load_users(read_users_csv(options.users_csv))
    asyncio.run(_serve(Tenant(options, state), options))


async def _serve(tenant: Tenant, options: TenantOptions) -> None:
    log_path = options.request_log or options.data / "requests.jsonl"
    with log_path.open("a", buffering=1, encoding="utf-8") as log:
        runner = web.AppRunner(tenant.application(log), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = runner.addresses[0][1]
        print(f"local tenant listening on http://{options.host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await runner.cleanup()
    print("local tenant stopped", file=sys.stderr, flush=True)
