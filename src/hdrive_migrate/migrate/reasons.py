"""Why a file failed or a user was blocked: ONE table of stable codes, each with what happened in
plain English and a fix a service-desk analyst can act on.

Rows and reports store only the code; the words live here, so they can be improved without
touching a database. Every code the engine records is in REASONS (a test checks).
"""

from typing import NamedTuple


class Reason(NamedTuple):
    explanation: str
    fix: str


_RESCAN = "run `hdrive-migrate scan --user UPN` and `hdrive-migrate plan`, then migrate again"

REASONS: dict[str, Reason] = {
    # Per file: the file failed, the user's other files went on.
    "changed-during-migration": Reason(
        "the file was being changed while it was copied (or changed since the scan), so the "
        "copy could not be trusted and was not kept",
        "ask the user to close the file (or wait until they have), then " + _RESCAN,
    ),
    "hash-mismatch": Reason(
        "the copy in OneDrive did not match the file byte for byte, even after a second try",
        "run migrate again; if it fails again, copy the file by hand and report the file to "
        "the migration team",
    ),
    "link-not-migrated": Reason(
        "the file is a link (shortcut, symlink or reparse point); OneDrive cannot hold one, so "
        "a reviewer's `migrate` for it was refused",
        "copy what the link points to into the user's H: drive as a real file, or change the "
        "review to another decision",
    ),
    "path-too-long": Reason(
        "the path in OneDrive would be longer than the 400 characters OneDrive allows",
        "shorten folder or file names in the H: drive, then " + _RESCAN,
    ),
    "name-refused": Reason(
        "OneDrive refused the file's name",
        "rename the file in the H: drive to a name OneDrive accepts, then " + _RESCAN,
    ),
    "too-large": Reason(
        "the file is larger than OneDrive accepts (250 GiB)",
        "split or archive the file, or keep it on a file share",
    ),
    "source-vanished": Reason(
        "the file was deleted or moved in the H: drive after the scan",
        "nothing if it was deleted on purpose; " + _RESCAN + " (a re-scan records it)",
    ),
    "source-unreadable": Reason(
        "the file could not be read from the H: drive (access denied, locked or damaged)",
        "give the migration account read access to the file (or ask the user to close it), "
        "then run migrate again",
    ),
    # Someone else's upload session (never ours: the engine records every session it asks
    # for before asking, and sends its own file under a temporary name when one of its own
    # holds the name). Failed rather than left pending: each run records one outcome for every
    # file, the operator sees it, and the next run tries the file again, by when the other
    # upload has finished (a clash settled as any other, never overwriting their file) or
    # expired.
    "target-busy": Reason(
        "OneDrive reported a name clash at the target path but no file is there: someone "
        "else's upload to the same path was still open",
        "run migrate again after 15 minutes, when the other upload has finished or expired",
    ),
    "upload-session-lost": Reason(
        "OneDrive lost the file's upload session on every try (it expired or was dropped, or "
        "kept other bytes than were sent)",
        "run migrate again; it starts the file afresh. If it recurs, check the network to "
        "Microsoft 365 and lower --concurrency",
    ),
    "service-unavailable": Reason(
        "OneDrive kept failing or did not answer, even after retries",
        "run migrate again later; check the Microsoft 365 service health page if it persists",
    ),
    "label-refused": Reason(
        "the file was copied, but OneDrive refused its retention label",
        "check the label is published to the user's OneDrive by a Purview retention label "
        "policy, then run migrate again",
    ),
    "no-longer-planned": Reason(
        "the file's upload was cancelled because its decision is no longer `migrate` (or it "
        "was deleted at the source); an earlier copy stays in OneDrive",
        "nothing, if the new decision is right; otherwise review the file to `migrate` and run "
        "migrate again",
    ),
    "graph-refused": Reason(
        "OneDrive refused the upload for a reason stated in the detail",
        "read the detail; fix the file in the H: drive if it names one, then run migrate again",
    ),
    # Per user: nothing more is sent to this user's OneDrive in this run.
    "no-onedrive": Reason(
        "the user's OneDrive has not been created (provisioned) yet",
        "pre-provision it (SharePoint Online PowerShell: Request-SPOPersonalSite -UserEmails "
        "UPN), wait for the queue, then run migrate again",
    ),
    "quota-full": Reason(
        "the user's OneDrive is full",
        "raise the user's OneDrive storage limit in the SharePoint admin centre (or free "
        "space), then run migrate again",
    ),
    "user-not-found": Reason(
        "the tenant has no user with this UPN",
        "correct the UPN in the user list, import it again, then run migrate again",
    ),
    "user-disabled": Reason(
        "the user's account or OneDrive is disabled or locked",
        "re-enable the account (or unlock the OneDrive site), then run migrate again",
    ),
    "access-denied": Reason(
        "the app may not write to this user's OneDrive",
        "grant the app registration Files.ReadWrite.All (application) with admin consent, then "
        "run `hdrive-migrate tenant check` and migrate again",
    ),
}


def explain(code: str) -> Reason:
    """The explanation and fix for CODE; KeyError for a code the engine does not record."""
    return REASONS[code]


def fix_for(code: str) -> str:
    """The fix a service-desk analyst can act on, for CODE."""
    return REASONS[code].fix
