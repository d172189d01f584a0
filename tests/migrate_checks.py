"""What every fault test ends with, read back through the local tenant's own Graph API:

- each file whose effective decision is `migrate` has exactly one transfer row, in a final
  state (never left `sending`), and a failed or blocked one carries a known reason;
- each file recorded as sent (migrated, renamed) or found (skipped-identical) is in the user's
  OneDrive at its recorded path with the source's size and QuickXorHash, and a sent one with
  the source's modified time to the second;
- the target folder holds nothing else: no duplicate, no stray clash copy of our own files.

The tenant under test may be injecting faults, so these reads retry throttling, server errors
and dropped connections the way any client must (they are the test's, not the engine's).
"""

import base64
import os
import random
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import quickxorhash
from migrate_setup import TARGET, Setup

from hdrive_migrate.migrate.reasons import REASONS
from hdrive_migrate.plan.current import effective_decisions
from hdrive_migrate.workspace import open_workspace

from conftest import RunningTenant

FINAL = frozenset({"migrated", "skipped-identical", "renamed", "failed", "blocked"})
SENT = frozenset({"migrated", "renamed"})
READ_TRIES = 40
RETRIED = frozenset({429, 500, 502, 503, 504})
# The tenant's faults are chance draws, not a verdict on the checks' own few reads, so these
# retry almost at once rather than waiting out Retry-After (which is the engine's duty).
RETRY_PAUSE = 0.02


def quick_xor(data: bytes) -> str:
    hasher = quickxorhash.quickxorhash()
    hasher.update(data)
    return base64.b64encode(hasher.digest()).decode()


def content(seed: int, size: int) -> bytes:
    """SIZE reproducible bytes that differ with SEED (random bytes: no two chunks alike)."""
    return random.Random(seed).randbytes(size)


def set_chunk_mib(ws: Path, mib: int) -> None:
    """[migrate] chunk_mib in the workspace's hdrive.toml, as an operator would set it."""
    config = ws / "hdrive.toml"
    lines = config.read_text().splitlines()
    changed = [f"chunk_mib = {mib}" if line.startswith("chunk_mib") else line for line in lines]
    assert changed != lines, "hdrive.toml has no chunk_mib line to change"
    config.write_text("\n".join(changed) + "\n")


def tenant_get(tenant: RunningTenant, url: str) -> httpx.Response:
    """GET URL (under /v1.0, or absolute), through whatever faults the tenant injects."""
    with tenant.client() as client:
        for _ in range(READ_TRIES):
            try:
                answer = client.get(url)
            except httpx.TransportError:
                continue
            if answer.status_code not in RETRIED:
                return answer
            time.sleep(RETRY_PAUSE)
    raise AssertionError(f"the tenant kept failing GET {url}")


def drive_of(tenant: RunningTenant, upn: str) -> str:
    if upn not in tenant._drives:
        answer = tenant_get(tenant, f"/users/{upn}/drive")
        assert answer.status_code == 200, answer.text
        tenant._drives[upn] = answer.json()["id"]
    return tenant._drives[upn]


def tenant_item(tenant: RunningTenant, upn: str, path: str) -> dict | None:
    answer = tenant_get(tenant, f"/drives/{drive_of(tenant, upn)}/root:/{quote(path)}")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()


def tenant_files(tenant: RunningTenant, upn: str, folder: str = TARGET) -> dict[str, dict]:
    """Every file under FOLDER in UPN's OneDrive, by path from the drive's root."""
    found: dict[str, dict] = {}
    pending = [folder]
    while pending:
        parent = pending.pop()
        url = f"/drives/{drive_of(tenant, upn)}/root:/{quote(parent)}:/children"
        while url:
            answer = tenant_get(tenant, url)
            if answer.status_code == 404:
                break
            assert answer.status_code == 200, answer.text
            page = answer.json()
            for item in page["value"]:
                path = f"{parent}/{item['name']}"
                if "folder" in item:
                    pending.append(path)
                else:
                    found[path] = item
            url = page.get("@odata.nextLink")
    return found


def planned(ws: Path) -> dict[tuple[str, str], str]:
    """(upn, path) -> planned target path of every file whose effective decision is migrate."""
    with open_workspace(ws) as workspace:
        db = workspace.db
        upns = [row[0] for row in db.execute("SELECT upn FROM users ORDER BY upn")]
        targets = dict(db.execute("SELECT id, target_folder FROM plan_runs").fetchall())
        return {
            (decision.upn, decision.path): decision.target_path
            or f"{targets[decision.run_id]}/{decision.path}"
            for decision in effective_decisions(db, upns)
            if decision.action == "migrate"
        }


def transfers(ws: Path) -> dict[tuple[str, str], dict]:
    with open_workspace(ws) as workspace:
        return {
            (row["upn"], row["path"]): row for row in workspace.db.query("SELECT * FROM transfers")
        }


def folders(ws: Path) -> dict[str, str]:
    with open_workspace(ws) as workspace:
        return dict(workspace.db.execute("SELECT upn, folder FROM users").fetchall())


def assert_same_as_source(item: dict | None, source: Path, where: str, *, times: bool) -> None:
    """ITEM (a driveItem) holds SOURCE's bytes now, and its modified time when TIMES."""
    assert item is not None, f"{where}: not in OneDrive"
    data = source.read_bytes()
    assert item["size"] == len(data), where
    assert item["file"]["hashes"]["quickXorHash"] == quick_xor(data), where
    if times:
        modified = datetime.fromisoformat(item["fileSystemInfo"]["lastModifiedDateTime"])
        assert int(modified.timestamp()) == int(os.stat(source).st_mtime), where


def assert_accounted(setup: Setup, *, others: set[tuple[str, str]] = frozenset()) -> dict:
    """Every planned file has one final outcome and, where it went to OneDrive, OneDrive holds
    the source's bytes and times; nothing else is in the users' target folders but OTHERS
    ((upn, path) of files the test itself put there). Returns the transfer rows."""
    plan = planned(setup.ws)
    rows = transfers(setup.ws)
    assert set(rows) == set(plan), "a planned file has no transfer row, or a row has no plan"
    homes = folders(setup.ws)
    expected: dict[str, set[str]] = {upn: set() for upn in homes}
    for key, row in rows.items():
        upn, path = key
        where = f"{upn}:{path} ({row['state']}, {row['reason']})"
        assert row["state"] in FINAL, f"{where}: not in a final state"
        if row["state"] in ("failed", "blocked"):
            assert row["reason"] in REASONS, f"{where}: no known reason"
            continue
        source = setup.homes / homes[upn] / path
        item = tenant_item(setup.tenant, upn, row["target_path"])
        assert_same_as_source(item, source, where, times=row["state"] in SENT)
        assert row["item_id"] == item["id"], where
        if row["state"] == "migrated":
            assert row["target_path"] == plan[key], where
        if row["state"] == "renamed":
            assert row["target_path"] != plan[key], where
        expected[upn].add(row["target_path"])
    for upn, paths in expected.items():
        theirs = {path for owner, path in others if owner == upn}
        if not paths and not theirs:
            continue
        present = set(tenant_files(setup.tenant, upn))
        assert present == paths | theirs, f"{upn}: OneDrive holds other files than recorded"
    return rows


def states(rows: dict) -> dict[str, int]:
    """Files per final state."""
    return dict(Counter(row["state"] for row in rows.values()))


def tenant_put(tenant: RunningTenant, upn: str, path: str, data: bytes) -> dict:
    """Someone else's file, put at PATH in UPN's OneDrive by simple upload, through faults."""
    url = f"/drives/{drive_of(tenant, upn)}/root:/{quote(path)}:/content"
    with tenant.client() as client:
        for _ in range(READ_TRIES):
            try:
                answer = client.put(url, content=data)
            except httpx.TransportError:
                continue
            if answer.status_code not in RETRIED:
                assert answer.status_code in (200, 201), answer.text
                return answer.json()
            time.sleep(RETRY_PAUSE)
    raise AssertionError(f"the tenant kept failing PUT {url}")
