"""The columns of every CSV a report writes, in order: a contract with the spreadsheets and
Power BI models people build on them, so changed only on purpose.

items.csv starts with the columns of SharePoint Migration Tool's ItemReport, in its order, so
models built for SPMT keep working; ours follow. What each SPMT column holds here:

- Source: the file on the share (source root, home folder, path); Destination: its path in
  the user's OneDrive (the path it was sent to, else the planned one; empty when the decision
  is not migrate); File name, Extension (without the dot), File size (bytes, as scanned);
  Content type: always `File` (plans hold files, not folders).
- Status, Result category, Message: see `rows.STATUSES`: the outcome in SPMT's words, a
  category (a reason code from docs/failures.md for failures), and what happened.
- Source item ID: empty (a share has no item ids); Destination item ID: the OneDrive item id;
  Package number and Incremental round: empty (SPMT's batching, which we do not have);
  Migration job ID: the migrate run that recorded the outcome; Task ID: the user's UPN (one
  task per H: drive); Device name: empty (runs record no host).
"""

from hdrive_migrate.policy.record import ACTIONS

SPMT_ITEM_COLUMNS = (
    "Source",
    "Destination",
    "File name",
    "Extension",
    "File size",
    "Content type",
    "Status",
    "Result category",
    "Message",
    "Source item ID",
    "Destination item ID",
    "Package number",
    "Migration job ID",
    "Incremental round",
    "Task ID",
    "Device name",
)
OUR_ITEM_COLUMNS = ("decision", "rule", "policy version", "SHA-256", "QuickXorHash")
ITEM_COLUMNS = SPMT_ITEM_COLUMNS + OUR_ITEM_COLUMNS

# Which effective decisions (plan.current) each records register lists.
REGISTERS = {
    "excluded.csv": ("exclude",),
    "review.csv": ("review",),
    "held.csv": ("hold",),
    "evidence.csv": ("divert_evidence",),
    "disposal.csv": ("dispose_after_approval",),
}
# The policy that decided a file, in every register and manifest: columns, not a comment row,
# which spreadsheets would take for a record.
POLICY_COLUMNS = ("plan_run", "policy_id", "policy_version", "policy_sha256")
REGISTER_COLUMNS = (
    "upn",
    "source_path",
    "path",
    "size",
    "modified",
    "sha256",
    "quick_xor",
    "decision",
    "rule",
    "rule_description",
    "reason",
    "reviewer",
    "label",
    # Only in disposal.csv does it fill: the disposal certificate that approved the file.
    "disposal_certificate",
    *POLICY_COLUMNS,
)
MANIFEST_COLUMNS = (
    "source_path",
    "target_path",
    "size",
    "sha256",
    "quick_xor",
    "target_item_id",
    "outcome",
    "time",
    "decision",
    "rule",
    *POLICY_COLUMNS,
)

# A planned file's outcome: its transfer's state, else one of the last two.
NOT_STARTED = "not-started"  # decided migrate, no transfer yet
NOT_MIGRATED = "not-migrated"  # decided otherwise, and never sent
OUTCOMES = (
    "migrated",
    "renamed",
    "skipped-identical",
    "failed",
    "blocked",
    "sending",
    "removed",
    NOT_STARTED,
    NOT_MIGRATED,
)


def summary_columns() -> tuple[str, ...]:
    """summary.csv: one row per user."""
    by_decision = [f"decision_{a}_{kind}" for a in ACTIONS for kind in ("files", "bytes")]
    by_outcome = [f"outcome_{o}_{kind}" for o in OUTCOMES for kind in ("files", "bytes")]
    return (
        "upn",
        "wave",
        "state",
        "cause",
        "scanned_files",
        "scanned_bytes",
        "planned_files",
        "planned_bytes",
        *by_decision,
        *by_outcome,
        "failed_files",
        "failures",
        "last_activity",
        "next_step",
        # report.cutover: whether the user is on cutover.csv, and if not, why not.
        "cutover",
        "cutover_blocked_by",
    )


SUMMARY_COLUMNS = summary_columns()
FAILURE_COLUMNS = ("reason", "files", "bytes", "users", "explanation", "fix", "users_affected")
