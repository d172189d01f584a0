"""One user's status card as the service desk reads it out: a Report (migrate.status) put in
words, with what the user must do themselves. Pure: the Report, the user's names, their target
folder and the time in; no file or folder of theirs is ever named, only counts and reasons."""

from dataclasses import dataclass
from datetime import UTC, datetime

from hdrive_migrate.display import counted, size_text
from hdrive_migrate.migrate.status import (
    BLOCKED,
    FAILED,
    MIGRATED,
    MIGRATING,
    PENDING,
    PLANNED,
    SCANNED,
    WITH_EXCEPTIONS,
    Cause,
    Report,
    reason_cause,
)

# Each state as a sentence the analyst can say on the phone.
STATE_SENTENCES = {
    PENDING: "Their H: drive has not been looked at yet.",
    SCANNED: "Their H: drive has been listed; what moves is not decided yet.",
    PLANNED: "It is decided what moves; nothing has been copied yet.",
    MIGRATING: "Their files are being copied to OneDrive.",
    MIGRATED: "Every file that was to move is in OneDrive.",
    WITH_EXCEPTIONS: "Their files are in OneDrive, except the few listed under Problems.",
    FAILED: "The move did not succeed; the migration team has to fix it first.",
    BLOCKED: "The move cannot start until the problem below is fixed.",
}
KEEP_USING_H = "Nothing yet: keep using H: as usual. They will be told before their H: drive moves."
TEAM_FIRST = "Nothing yet: the migration team fixes the problem first. Keep using H: meanwhile."
# What a person must do themselves about a failure; a reason absent here needs nothing from
# them, because the migration team fixes it.
USER_ACTIONS = {
    "changed-during-migration": (
        "Close files open from H: (Word, Excel, Outlook) when the migration team asks, so they "
        "can be copied unchanged."
    ),
    "source-unreadable": (
        "Close any file open from H:, then call the service desk back; some files could not "
        "be read."
    ),
    "path-too-long": (
        "Shorten the names of deeply nested folders on H: (OneDrive allows 400 characters for "
        "the whole path); the migration team can say which."
    ),
    "name-refused": (
        "Rename the files whose names OneDrive refuses; the migration team can say which."
    ),
    "too-large": (
        "Agree with the migration team where their very large files (over 250 GiB) go: split, "
        "archived or kept on a file share."
    ),
    "link-not-migrated": (
        "Shortcuts cannot move to OneDrive: copy what a shortcut points to onto H: if they "
        "still need it."
    ),
}


@dataclass(frozen=True)
class Problem:
    """One failure reason: how many files, what happened, and the fix."""

    reason: str
    count: int
    explanation: str
    fix: str


@dataclass(frozen=True)
class Card:
    """What the page shows of one user: FACTS are (label, text) rows in order."""

    upn: str
    display_name: str | None
    state: str
    sentence: str
    cause: Cause | None
    facts: list[tuple[str, str]]
    to_migrate: int
    migrated: int
    problems: list[Problem]
    user_must: list[str]
    team_next: str

    @property
    def percent(self) -> int:
        """Share of the files to migrate that are in OneDrive, rounded down."""
        return 100 * self.migrated // self.to_migrate if self.to_migrate else 0


def status_card(
    found: Report, display_name: str | None, target_folder: str | None, now: datetime
) -> Card:
    """FOUND as a card, for the user named DISPLAY_NAME whose files go to TARGET_FOLDER in
    their OneDrive, read at NOW."""
    state, cause = found.state
    return Card(
        upn=found.upn,
        display_name=display_name,
        state=state,
        sentence=STATE_SENTENCES[state],
        cause=cause,
        facts=_facts(found, now),
        to_migrate=found.to_migrate,
        migrated=found.migrated_files,
        problems=[
            Problem(f.reason, f.count, reason_cause(f.reason).explanation, f.fix)
            for f in found.failures
        ],
        user_must=user_must(found, target_folder),
        team_next=found.next_step,
    )


def _facts(found: Report, now: datetime) -> list[tuple[str, str]]:
    rows = [("Wave", found.wave or "none yet")]
    if found.scanned_files is not None:
        size = f", {size_text(found.scanned_bytes)}" if found.scanned_bytes is not None else ""
        rows.append(("Found on H:", counted(found.scanned_files, "file") + size))
    if found.planned:
        rows.append(("Decided", ", ".join(f"{a} {n:,}" for a, n in found.planned.items())))
    if found.outcomes or found.to_migrate:
        rows.append(("In OneDrive", found.progress_text))
    if found.failed_files:
        rows.append(("Failed", counted(found.failed_files, "file")))
    if found.verification is not None:
        check = found.verification
        problems = check.missing + check.changed
        rows.append(
            (
                "Checked",
                f"{check.ok:,} of {check.checked:,} intact"
                + (f", {problems:,} moved, changed or deleted since" if problems else "")
                + (f" ({moment_text(check.at, now)})" if check.at else " (running)"),
            )
        )
    rows.append(("Last activity", moment_text(found.last_activity, now)))
    return rows


def user_must(found: Report, target_folder: str | None) -> list[str]:
    """What the user must do themselves, in the order they should do it."""
    state, _ = found.state
    where = f" in the folder “{target_folder}”" if target_folder else ""
    actions: list[str] = []
    if state in (MIGRATED, WITH_EXCEPTIONS):
        actions.append(f"Use OneDrive from now on: their H: drive files are there{where}.")
    check = found.verification
    if state == MIGRATED and check is not None and (check.missing or check.changed):
        actions.append(
            "Some copies were moved, changed or deleted in OneDrive since they were checked: "
            "nothing is wrong if they did it themselves; if not, tell the migration team."
        )
    actions += [USER_ACTIONS[f.reason] for f in found.failures if f.reason in USER_ACTIONS]
    if actions:
        return actions
    if state in (PENDING, SCANNED, PLANNED):
        return [KEEP_USING_H]
    if state == MIGRATING:
        return ["Nothing: keep working as usual while their files are copied."]
    return [TEAM_FIRST]


def moment_text(at: str | None, now: datetime) -> str:
    """AT (ISO 8601, as the workspace stores times) as `2025-06-02 14:05 UTC (3 hours ago)`."""
    if not at:
        return "never"
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:  # the workspace stores UTC; an older row may not say so
        moment = moment.replace(tzinfo=UTC)
    seconds = (now - moment).total_seconds()
    return f"{moment:%Y-%m-%d %H:%M} UTC" + (f" ({_ago(seconds)})" if seconds >= 0 else "")


def _ago(seconds: float) -> str:
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            return counted(int(seconds // length), unit) + " ago"
    return "just now"
