"""`dispose approve`: a batch of files approved for disposal becomes a disposal certificate.

The batch is every file of the chosen users whose effective decision (plan.current) is
`dispose_after_approval` and that no earlier certificate lists. The certificate is metadata
only, as the ICO advises for erasure records: who approved, when, under which policy and
rules (or which reviewers), counts and bytes, and a CSV manifest of paths and hashes beside
it. Nothing here opens the source, let alone deletes from it: disposing of the files is a
separate act the certificate authorises.
"""

import hashlib
import json
import uuid
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlite_utils import Database

from hdrive_migrate import __version__
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.outputs import CSV_ENCODING, csv_writer, open_output, person_name
from hdrive_migrate.plan.current import EFFECTIVE_SQL
from hdrive_migrate.store import record_event, transaction

MANIFEST_COLUMNS = (
    "upn",
    "path",
    "size",
    "modified",
    "sha256",
    "quick_xor",
    "plan_run",
    "rule",
    "reviewer",
)
REVIEW = "review"  # the `rule` of a file a reviewer, not a policy rule, sent to disposal
STATEMENT = (
    "Metadata only. The files listed in the manifest were approved for disposal by the "
    "approvers named here, under the policies and rules named here. hdrive-migrate did not "
    "open, move or delete any of them."
)

_BATCH_SQL = f"""
    WITH effective AS ({EFFECTIVE_SQL})
    SELECT e.upn, e.path, f.size, f.modified, f.sha256, f.quick_xor, e.run_id,
           CASE WHEN e.review_id IS NULL THEN e.rule_id ELSE '{REVIEW}' END,
           e.reviewer,
           CASE WHEN e.review_id IS NULL THEN e.rule_description END
    FROM effective AS e JOIN files AS f ON f.upn = e.upn AND f.path = e.path
    WHERE e.action = 'dispose_after_approval'
      AND NOT EXISTS (SELECT 1 FROM disposal_items AS i WHERE i.upn = e.upn AND i.path = e.path)
    ORDER BY e.path
"""


class Item(NamedTuple):
    """One file of the batch: what the manifest says of it, and the description of the RULE
    that sent it to disposal (None when a reviewer did)."""

    upn: str
    path: str
    size: int
    modified: float | None
    sha256: str | None
    quick_xor: str | None
    plan_run: int
    rule: str
    reviewer: str | None
    description: str | None


@dataclass(frozen=True)
class Approval:
    """A recorded disposal: its certificate's id, approvers, files and SHA-256, and what it
    covers."""

    certificate_id: str
    approvers: list[str]
    certificate: Path
    manifest: Path
    sha256: str
    files: int
    bytes: int
    users: int


def approve_disposal(
    db: Database,
    upns: list[str],
    *,
    approvers: list[str],
    out_dir: Path,
    workspace: Path,
    now: datetime,
) -> Approval:
    """Certify the disposal batch of UPNS as approved by APPROVERS at NOW: write
    OUT_DIR/disposal-ID.json and its manifest OUT_DIR/disposal-ID.csv (never over an existing
    file or one of WORKSPACE's own, `open_output`), and record the disposal, its items, the
    certificate's SHA-256 and an audit event, all or nothing. An empty batch, a file without a
    SHA-256, or no usable approver name raises HdriveError."""
    approvers = _approver_names(approvers)
    certificate_id = str(uuid.uuid4())
    certificate = out_dir / f"disposal-{certificate_id}.json"
    manifest = out_dir / f"disposal-{certificate_id}.csv"
    # Until the database commits, the files written are undone with it: a certificate must
    # not outlive the record of its approval.
    with ExitStack() as undo:
        with transaction(db):
            items = _batch(db, upns)
            manifest_sha256 = _write_manifest(manifest, items, workspace)
            undo.callback(manifest.unlink)
            document = _document(db, certificate_id, items, approvers, now)
            document["manifest"] = {"file": manifest.name, "sha256": manifest_sha256}
            sha256 = _write_json(certificate, document, workspace)
            undo.callback(certificate.unlink)
            _record(db, document, certificate, sha256, items, now)
        undo.pop_all()
    total = document["total"]
    return Approval(
        certificate_id,
        approvers,
        certificate,
        manifest,
        sha256,
        total["files"],
        total["bytes"],
        len(document["users"]),
    )


def _approver_names(names: list[str]) -> list[str]:
    """The approvers' names, trimmed, each once, in the order given."""
    approvers: list[str] = []
    for given in names:
        name = person_name(
            given,
            option="--approver",
            role="an approver",
            fix="give each approver's name, e.g. --approver 'Jo Bloggs'",
        )
        if name.lower() not in (known.lower() for known in approvers):
            approvers.append(name)
    if not approvers:
        raise HdriveError(
            "no approver", fix="name who approved the disposal with --approver", where="--approver"
        )
    return approvers


def _batch(db: Database, upns: list[str]) -> list[Item]:
    items = [Item(*row) for upn in upns for row in db.execute(_BATCH_SQL, {"upn": upn})]
    if not items:
        raise HdriveError(
            "no file of the chosen users awaits disposal approval",
            fix="files wait here once the plan or a review decides dispose_after_approval; "
            "files already in a disposal certificate are not approved again",
        )
    unhashed = [item for item in items if not item.sha256]
    if unhashed:
        first = unhashed[0]
        raise HdriveError(
            f"{len(unhashed)} files of the batch have no SHA-256, e.g. {first.path} of {first.upn}",
            fix=f"hash them with `hdrive-migrate scan --hash --user {first.upn}` (and likewise "
            "for other users), then approve again: a certificate must identify the content",
        )
    return items


def _write_manifest(path: Path, items: list[Item], workspace: Path) -> str:
    """Write the manifest CSV (MANIFEST_COLUMNS; modified as UTC ISO 8601); its SHA-256."""
    with open_output(path, workspace=workspace, force=False, encoding=CSV_ENCODING) as handle:
        writer = csv_writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        for item in items:
            modified = "" if item.modified is None else _iso(item.modified)
            writer.writerow(
                [
                    item.upn,
                    item.path,
                    item.size,
                    modified,
                    item.sha256,
                    item.quick_xor,
                    item.plan_run,
                    item.rule,
                    item.reviewer,
                ]
            )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _document(
    db: Database, certificate_id: str, items: list[Item], approvers: list[str], now: datetime
) -> dict:
    """The certificate, without its manifest entry."""
    return {
        "certificate": certificate_id,
        "statement": STATEMENT,
        "approved_by": approvers,
        "approved_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "plan_runs": [_plan_run(db, run) for run in sorted({item.plan_run for item in items})],
        "decided_by": _decided_by(items),
        "users": [
            {"upn": upn, **_tally(group)} for upn, group in _grouped(items, _by_user).items()
        ],
        "total": _tally(items),
    }


def _plan_run(db: Database, run_id: int) -> dict:
    row = db.execute(
        "SELECT id, policy_id, policy_version, policy_sha256, policy_file, policy_approved_by,"
        " holds_sha256, as_of FROM plan_runs WHERE id = ?",
        [run_id],
    ).fetchone()
    keys = ("plan_run", "policy_id", "policy_version", "policy_sha256", "policy_file")
    return {
        **dict(zip(keys, row[:5], strict=True)),
        "policy_approved_by": json.loads(row[5]),
        "holds_sha256": row[6],
        "as_of": row[7],
    }


def _decided_by(items: list[Item]) -> list[dict]:
    """Per plan run and rule (or REVIEW): what sent the files to disposal, with the reviewers."""
    entries = []
    for (plan_run, rule), group in _grouped(items, _by_rule).items():
        entries.append(
            {
                "plan_run": plan_run,
                "rule": rule,
                "description": group[0].description,
                "reviewers": sorted({item.reviewer for item in group if item.reviewer}),
                **_tally(group),
            }
        )
    return entries


def _by_user(item: Item) -> str:
    return item.upn


def _by_rule(item: Item) -> tuple[int, str]:
    return item.plan_run, item.rule


def _grouped(items: list[Item], key) -> dict:
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return dict(sorted(groups.items()))


def _tally(items: list[Item]) -> dict:
    return {"files": len(items), "bytes": sum(item.size for item in items)}


def _write_json(path: Path, document: dict, workspace: Path) -> str:
    """Write DOCUMENT as indented UTF-8 JSON; the SHA-256 of the bytes written."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    with open_output(path, workspace=workspace, force=False) as handle:
        handle.write(text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record(
    db: Database, document: dict, path: Path, sha256: str, items: list[Item], now: datetime
) -> None:
    total = document["total"]
    cursor = db.execute(
        "INSERT INTO disposals(certificate, certificate_sha256, approved_by, approved_at,"
        " files, bytes) VALUES (?, ?, ?, ?, ?, ?)",
        [
            document["certificate"],
            sha256,
            json.dumps(document["approved_by"], ensure_ascii=False),
            document["approved_at"],
            total["files"],
            total["bytes"],
        ],
    )
    db.conn.executemany(
        "INSERT INTO disposal_items(disposal_id, upn, path) VALUES (?, ?, ?)",
        [(cursor.lastrowid, item.upn, item.path) for item in items],
    )
    detail = {
        "approved_by": document["approved_by"],
        "plan_runs": [run["plan_run"] for run in document["plan_runs"]],
        "users": len(document["users"]),
        **total,
        "certificate_file": str(path.resolve()),
        "certificate_sha256": sha256,
    }
    record_event(db, "disposal.approved", document["certificate"], detail, at=now)
