"""One user's plan decided as a set: the policy's SQL form (policy/sql.py) run in one
`INSERT ... SELECT` over the inventory, giving the rows `plan.reference.decisions` gives.

Python still judges what SQL cannot, from within the statement or before it: each row's
name, extension and folder tests (one call per row; folders are judged once each), rows whose
path is not ASCII (the reference matcher), copies of the same content (which copy is kept
depends on decisions, so `reference.kept_copies` picks it among the few candidates), paths on
a hold register glob, and target names for a drive with any name OneDrive may refuse or twins
that differ only in case (`TargetTree`).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlite_utils import Database

from hdrive_migrate import naming
from hdrive_migrate.plan.reference import LINK_REASON, kept_copies
from hdrive_migrate.plan.targets import TargetTree, may_rename
from hdrive_migrate.policy.compile import MAX_CACHED_FOLDERS, CompiledPolicy
from hdrive_migrate.policy.record import FileRecord
from hdrive_migrate.policy.sql import SqlPolicy

if TYPE_CHECKING:
    from hdrive_migrate.plan.run import PlanRequest

FILES = "files WHERE upn = :upn AND change != 'deleted'"


def plan_user_sql(
    db: Database,
    run_id: int,
    upn: str,
    compiled: CompiledPolicy,
    sql: SqlPolicy,
    request: "PlanRequest",
) -> tuple[dict[str, int], int]:
    """As `run.plan_user`, with the rows written by SQL; call it inside a transaction."""
    held = request.holds.checker(upn)
    whole = upn.lower() in request.holds.whole_drives
    has_globs = bool(request.holds.globs.get(upn.lower())) and not whole
    _functions(db, compiled, sql, held)
    on_hold = "hm_held(f.path)" if has_globs else ("1" if whole else "0")
    duplicates = _write_duplicates(db, upn, compiled, request)
    targets = _write_targets(db, upn, request)
    statement, params = insert_statement(compiled, sql, on_hold, duplicates, targets)
    prefix = f"{request.target_folder}/"
    values = {"run": run_id, "upn": upn, "prefix": prefix, "prefix_length": len(prefix)}
    db.execute(statement, params | values)
    counts = dict(
        db.execute(
            "SELECT action, count(*) FROM decisions WHERE run_id = ? AND upn = ? GROUP BY action",
            [run_id, upn],
        ).fetchall()
    )
    on_hold_files = db.execute(
        "SELECT count(*) FROM files AS f WHERE f.upn = :upn AND f.change != 'deleted'"
        f" AND f.is_dir = 0 AND {on_hold}",
        {"upn": upn},
    ).fetchone()[0]
    return counts, on_hold_files


def _functions(db: Database, compiled: CompiledPolicy, sql: SqlPolicy, held) -> None:
    conn = db.conn
    conn.create_function("hm_parts", 1, _parts_function(sql.folder_bits), deterministic=True)
    conn.create_function("hm_held", 1, lambda path: int(bool(held(path))))

    def match(path, size, modified, created, accessed, attributes, on_hold, duplicate):
        record = FileRecord(
            "", path, size, modified, created, accessed, attributes, on_hold, duplicate
        )
        return compiled.match(record)

    conn.create_function("hm_match", 8, match, deterministic=True)


def _parts_function(folder_bits: Callable[[str], int]) -> Callable[[str], int]:
    """One call per row: the folder bits << 32 | (1 + the last '.' index) << 16 | (1 + the
    last '/' index), for paths under 65,536 characters. Folders repeat: their bits are kept."""
    cache: dict[str, int] = {}

    def parts(path: str) -> int:
        slash = path.rfind("/")
        folder = path[:slash] if slash > 0 else ""
        bits = cache.get(folder)
        if bits is None:
            if len(cache) >= MAX_CACHED_FOLDERS:
                cache.clear()
            bits = cache[folder] = folder_bits(folder.lower())
        return bits << 32 | (path.rfind(".") + 1) << 16 | (slash + 1)

    return parts


def _write_duplicates(db: Database, upn: str, compiled: CompiledPolicy, request) -> bool:
    """Record in temp.plan_duplicates each younger copy and the copy kept in its place; False
    when the user has none. Only content held by two files or more is read."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS plan_duplicates("
        "path TEXT PRIMARY KEY, original TEXT NOT NULL) WITHOUT ROWID"
    )
    db.execute("DELETE FROM temp.plan_duplicates")
    copies = f"{FILES} AND is_dir = 0 AND size != 0 AND sha256 IS NOT NULL AND sha256 != ''"
    candidates = db.execute(
        "SELECT path, is_dir, size, modified, created, accessed, attributes, link, sha256"
        f" FROM {copies} AND sha256 IN"
        f" (SELECT sha256 FROM {copies} GROUP BY sha256 HAVING count(*) > 1)",
        {"upn": upn},
    ).fetchall()
    kept = kept_copies(candidates, upn, compiled, request.holds)
    db.conn.executemany("INSERT INTO temp.plan_duplicates VALUES (?, ?)", kept.items())
    return bool(kept)


def _write_targets(db: Database, upn: str, request: "PlanRequest") -> bool:
    """Record in temp.plan_targets each file whose OneDrive path is not the target folder
    plus its own; False when there is none."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS plan_targets("
        "path TEXT PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID"
    )
    db.execute("DELETE FROM temp.plan_targets")
    every_path = f"SELECT path FROM {FILES}"
    if not may_rename(path for (path,) in db.execute(every_path, {"upn": upn})):
        return False
    paths = [path for (path,) in db.execute(every_path, {"upn": upn})]
    tree = TargetTree(request.target_folder, paths, request.mapping)
    if not tree.renamed:
        return False
    files = db.execute(f"{every_path} AND is_dir = 0", {"upn": upn}).fetchall()
    rows = [
        (path, target) for (path,) in files if (target := tree.target(path)) != tree.prefix + path
    ]
    db.conn.executemany("INSERT INTO temp.plan_targets VALUES (?, ?)", rows)
    return bool(rows)


def insert_statement(
    compiled: CompiledPolicy, sql: SqlPolicy, on_hold: str, duplicates: bool, targets: bool
) -> tuple[str, dict[str, object]]:
    """The INSERT for one user (parameters :run, :upn, :prefix and :prefix_length to add).
    Each level is a subquery SQLite runs as a co-routine (OFFSET keeps it from being
    flattened), so each value is worked out once per row, and passes on only what the next
    level reads."""
    parts = sql.needs_name or sql.needs_folder
    joins = ""
    original = target = "NULL"
    if duplicates:
        joins += " LEFT JOIN temp.plan_duplicates AS d ON d.path = f.path"
        original = "d.original"
    if targets:
        joins += " LEFT JOIN temp.plan_targets AS t ON t.path = f.path"
        target = "t.target"
    carried = "path, size, modified, created, accessed, attributes, link, on_hold, duplicate"
    carried += ", original, target, ascii"
    rows = (
        "SELECT f.path AS path, f.size AS size, f.modified AS modified, f.created AS created,"
        " f.accessed AS accessed, f.attributes AS attributes, f.link AS link,"
        f" {on_hold} AS on_hold, {original} IS NOT NULL AS duplicate, {original} AS original,"
        f" {target} AS target,"
        " length(CAST(f.path AS BLOB)) = length(f.path) AND length(f.path) < 65536 AS ascii"
        f"{', hm_parts(f.path) AS s' if parts else ''}"
        f" FROM files AS f{joins}"
        " WHERE f.upn = :upn AND f.change != 'deleted' AND f.is_dir = 0"
    )
    if parts:
        rows = _level(
            f"{carried}, lower(substr(path, (s & 65535) + 1)) AS name,"
            " CASE WHEN (s >> 16 & 65535) > (s & 65535) + 1"
            " THEN lower(substr(path, (s >> 16 & 65535) + 1)) ELSE '' END AS ext,"
            " s >> 32 AS fb",
            rows,
        )
    reference = "hm_match(path, size, modified, created, accessed, attributes, on_hold, duplicate)"
    rows = _level(
        "path, link, original, target,"
        f" CASE WHEN ascii THEN {sql.mask} ELSE {reference} END AS mask",
        rows,
    )
    rules = compiled.rules
    params = dict(sql.params) | {f"a{rule.index}": rule.action for rule in rules}
    # The deciding rule is the lowest bit set: `mask & -mask` is that bit alone.
    lowest = " ".join(f"WHEN {1 << rule.index} THEN {rule.index}" for rule in rules[:-1])
    action = " ".join(f"WHEN {1 << rule.index} THEN :a{rule.index}" for rule in rules[:-1])
    default = rules[-1].index
    rows = (
        _level(
            "path, link, original, target, mask,"
            f" CASE mask & -mask {lowest} ELSE {default} END AS rule,"
            f" CASE mask & -mask {action} ELSE :a{default} END AS decided,"
            " CASE WHEN target IS NULL THEN length(path) + :prefix_length ELSE length(target) END"
            " AS target_length",
            rows,
        )
        if lowest
        else _level(
            f"path, link, original, target, mask, {default} AS rule, :a{default} AS decided,"
            " CASE WHEN target IS NULL THEN length(path) + :prefix_length ELSE length(target) END"
            " AS target_length",
            rows,
        )
    )
    params |= {
        "link_reason": LINK_REASON,
        "max_path": naming.MAX_PATH_CHARACTERS,
        "too_long": f" characters; OneDrive allows {naming.MAX_PATH_CHARACTERS}",
    }
    placed = """
        SELECT :run, :upn, path,
            CASE WHEN decided != 'migrate' THEN decided WHEN link THEN 'review'
                 WHEN target_length > :max_path THEN 'review' ELSE 'migrate' END,
            rule, mask,
            CASE WHEN decided = 'migrate' AND link THEN :link_reason
                 WHEN decided = 'migrate' AND target_length > :max_path
                 THEN 'target path is ' || target_length || :too_long
                 ELSE 'duplicate of ' || original END,
            CASE WHEN decided != 'migrate' OR link THEN NULL
                 WHEN target_length > :max_path THEN coalesce(target, :prefix || path)
                 ELSE target END
    """
    statement = (
        "INSERT INTO decisions(run_id, upn, path, action, rule, matched, reason, target_path)"
        f" {placed} FROM ({rows})"
    )
    return statement, params


def _level(columns: str, inner: str) -> str:
    return f"SELECT {columns} FROM ({inner} LIMIT -1 OFFSET 0)"
