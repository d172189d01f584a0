"""How fast the local tenant takes uploads on loopback, so later benchmarks know their ceiling.

Eight concurrent clients (one per user, as a migration wave spreads over users) upload small
files by simple PUT and by upload session, then large files in 10 MiB chunks. The baseline, run
in the same process against the same client code, is a null HTTP server that reads each body and
answers without storing, hashing or checking anything: the cost of HTTP on this machine.

    python bench/tenant.py [--small 3000] [--large-mib 64]
"""

import argparse
import asyncio
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
if importlib.util.find_spec("aiohttp") is None or not (BIN / "hdrive-migrate").exists():
    sys.exit(
        "bench/tenant.py: hdrive-migrate and aiohttp are not installed beside this Python. "
        "Fix: run `make bench`, or run it with .venv/bin/python"
    )

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

CLIENTS = 8
CHUNK = 32 * 320 * 1024  # 10 MiB, a multiple of 320 KiB
AUTH = {"Authorization": "Bearer bench"}


def start(command: list[str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if "listening on " not in line:
        process.kill()
        sys.exit(f"server did not start: {line!r}")
    return process, line.split("listening on ")[1].strip()


def start_tenant(folder: Path) -> tuple[subprocess.Popen, str]:
    users = folder / "users.csv"
    rows = [f"user{n}@bench.test,User {n},user{n},true" for n in range(CLIENTS)]
    users.write_text("upn,display_name,sam_account_name,provisioned\n" + "\n".join(rows) + "\n")
    return start(
        [
            str(BIN / "hdrive-migrate"),
            "tenant",
            "serve",
            "--data",
            str(folder / "data"),
            "--port",
            "0",
            "--users",
            str(users),
        ]
    )


def start_null() -> tuple[subprocess.Popen, str]:
    return start([sys.executable, __file__, "--serve-null"])


async def put_small(http, root: str, user: int, name: str, body: bytes) -> None:
    url = f"{root}/v1.0/users/user{user}@bench.test/drive/root:/bench/{name}:/content"
    async with http.put(url, data=body, headers=AUTH) as response:
        assert response.status in (200, 201), await response.text()


async def session_upload(http, root: str, user: int, name: str, body: bytes, chunk: int) -> None:
    url = f"{root}/v1.0/users/user{user}@bench.test/drive/root:/bench/{name}:/createUploadSession"
    async with http.post(url, json={"item": {}}, headers=AUTH) as response:
        upload_url = (await response.json())["uploadUrl"]
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        headers = {"Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(body)}"}
        async with http.put(upload_url, data=piece, headers=headers) as response:
            assert response.status in (200, 201, 202), await response.text()


async def run_clients(root: str, jobs: int, job) -> float:
    """Run `jobs` calls of job(http, root, client, n) over CLIENTS workers; return seconds."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(jobs):
        queue.put_nowait(n)

    async def worker(client: int, http) -> None:
        while not queue.empty():
            await job(http, root, client, queue.get_nowait())

    connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, http) for client in range(CLIENTS)))
        return time.perf_counter() - started


def phases(small: int, large_mib: int) -> list[tuple[str, str, str, object]]:
    """(key, label, unit, measure(root) -> figure) for each figure, in the order printed."""
    small_body = b"s" * 4096
    large_body = bytes(range(256)) * (large_mib * 4096)

    def rate(jobs: int, job, scale: float):
        return lambda root: scale / asyncio.run(run_clients(root, jobs, job))

    return [
        (
            "small_put_per_s",
            "small files, 4 KiB, simple PUT",
            "uploads/s",
            rate(small, lambda h, r, c, n: put_small(h, r, c, f"put-{n}.txt", small_body), small),
        ),
        (
            "small_session_per_s",
            "small files, 4 KiB, upload session",
            "uploads/s",
            rate(
                small,
                lambda h, r, c, n: session_upload(h, r, c, f"ses-{n}.txt", small_body, CHUNK),
                small,
            ),
        ),
        (
            "large_mb_per_s",
            f"large files, {CLIENTS} x {large_mib} MiB, 10 MiB chunks",
            "MB/s",
            rate(
                CLIENTS,
                lambda h, r, c, n: session_upload(h, r, c, f"big-{n}.bin", large_body, CHUNK),
                CLIENTS * len(large_body) / 1e6,
            ),
        ),
    ]


def serve_null() -> None:
    """A server that answers every upload call at once, storing nothing: the HTTP floor."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        if request.path.endswith(":/createUploadSession"):
            return web.json_response({"uploadUrl": f"http://{request.host}/upload/x"}, status=200)
        if request.path.startswith("/upload/"):
            _, end, total = request.headers["Content-Range"].replace("-", "/").split("/")[-3:]
            done = int(end) + 1 == int(total)
            return web.json_response({"nextExpectedRanges": []}, status=201 if done else 202)
        return web.json_response({"id": "x"}, status=201)

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"null server listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def report(label: str, unit: str, tenant: float, null: float) -> str:
    share = f"{tenant / null:.0%}"
    return f"{label:<38} {tenant:>9,.0f} {unit:<10} (null HTTP server: {null:,.0f} {unit}, {share})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3000, help="small files per run")
    parser.add_argument("--large-mib", type=int, default=64, help="size of each large file")
    parser.add_argument("--serve-null", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if args.serve_null:
        return serve_null()
    print(
        f"local tenant on loopback, {CLIENTS} concurrent clients "
        "(the ceiling for later benchmarks; no goal of its own)",
        flush=True,
    )
    results: dict[str, dict[str, float]] = {"tenant": {}, "null": {}}
    with tempfile.TemporaryDirectory() as folder:
        tenant, tenant_root = start_tenant(Path(folder))
        null, null_root = start_null()
        try:
            for key, label, unit, measure in phases(args.small, args.large_mib):
                results["null"][key] = measure(null_root)
                results["tenant"][key] = measure(tenant_root)
                print(report(label, unit, results["tenant"][key], results["null"][key]), flush=True)
        finally:
            for process in (tenant, null):
                process.terminate()
                process.wait()
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
