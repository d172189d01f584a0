"""A user's OneDrive as the engine sees it: items, folders, upload sessions, labels.

Every request goes through `GraphCaller` (pacing, retries, error translation). Paths are
relative to the drive root, '/'-separated, and each name is percent-encoded on the way out
(`#`, `%`, spaces, non-ASCII and full-width characters included); the service decodes them.

Small files. Keeping timestamps costs two requests (4 RU) whatever the scheme, and the
retention label one more PATCH. Measured on the local tenant, 300 files of 1 KiB each way,
(a) and (b) both made 2.0 requests a file and cost the same client CPU (about 4 ms a file)
and wall time within noise, so the choice rests on what each leaves behind:
  (a) createUploadSession with fileSystemInfo, then one PUT of the bytes: 2 requests, 4 RU;
      timestamps and the conflict behaviour are set atomically with the content, one version.
  (b) simple PUT .../content, then PATCH fileSystemInfo: 2 requests, 4 RU; the file exists
      for a moment with the wrong times, and on SharePoint the PATCH makes a second version
      (rclone's reason for avoiding it on non-empty files).
  (c) nothing documented is cheaper: POST .../children with a `file` facet is refused on
      OneDrive for Business ("Cannot create a file without content",
      microsoftgraph/microsoft-graph-docs#5682), and the old multipart upload is
      OneDrive-personal only and deprecated.
So non-empty files use (a). A session cannot take a zero-byte file: a fragment's
Content-Range must name at least one byte (`bytes 0-0/1` is the smallest), so zero-byte files
use (b), as rclone does; an empty file's second version holds nothing.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from hdrive_migrate.graph.caller import GraphCaller
from hdrive_migrate.graph.errors import FileFailure, GraphError, NoDrive, RestartFile
from hdrive_migrate.graph.pacer import RequestKind

# The largest request body the service takes is just under 60 MiB; a small file goes in one.
MAX_ONE_REQUEST = 60 * 1024 * 1024 - 1
PAGE = 1000  # children per listing page: fewer pages, fewer requests (rclone uses 1000 too)
CONFLICTS = ("fail", "replace", "rename")
NAME_TAKEN = "nameAlreadyExists"

FolderSaved = Callable[[str, str, str], None]  # (drive id, folder path, folder id)


@dataclass(frozen=True)
class DriveItem:
    """What the engine needs of a driveItem. Times are fileSystemInfo's, the ones we set."""

    id: str
    name: str
    size: int
    quick_xor: str | None
    etag: str | None
    is_folder: bool
    modified: datetime | None
    created: datetime | None
    parent_id: str | None = None

    @classmethod
    def from_json(cls, body: dict) -> "DriveItem":
        times = body.get("fileSystemInfo") or {}
        hashes = (body.get("file") or {}).get("hashes") or {}
        return cls(
            id=body["id"],
            name=body.get("name", ""),
            size=int(body.get("size") or 0),
            quick_xor=hashes.get("quickXorHash"),
            etag=body.get("eTag"),
            is_folder="folder" in body,
            modified=parse_time(
                times.get("lastModifiedDateTime") or body.get("lastModifiedDateTime")
            ),
            created=parse_time(times.get("createdDateTime") or body.get("createdDateTime")),
            parent_id=(body.get("parentReference") or {}).get("id"),
        )


@dataclass(frozen=True)
class UploadSession:
    """An open upload session. URL carries its own token: it is kept out of repr and must be
    stored sealed, never logged."""

    url: str = field(repr=False)
    expires: datetime
    next_offset: int


def parse_time(value: str | None) -> datetime | None:
    """A Graph date-time (ISO 8601, 'Z' or an offset) as an aware datetime."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def graph_time(moment: datetime) -> str:
    """MOMENT (aware) as Graph takes it: UTC ISO 8601 with 'Z'."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def next_offset(ranges: list[str], total: int | None) -> int | None:
    """The first byte the service still expects, from nextExpectedRanges: open ("26-") or
    closed ("26-99") ranges, in any order. No range left means every byte arrived: TOTAL
    (None when the caller does not know it)."""
    starts = [int(item.split("-", 1)[0]) for item in ranges]
    return min(starts) if starts else total


def encode_path(path: str) -> str:
    """PATH's names percent-encoded one by one, joined by '/'; empty names dropped."""
    return "/".join(quote(name, safe="") for name in split_path(path))


def split_path(path: str) -> list[str]:
    return [name for name in path.split("/") if name]


def _id(value: str) -> str:
    return quote(value, safe="!")  # business drive ids start "b!"


class DriveClient:
    """OneDrive operations for the engine, on CALLER.

    Folder ids are cached per (drive, path), compared case-insensitively as OneDrive compares
    names. SEED pre-fills the cache (from the workspace); ON_FOLDER is told of every folder id
    learnt, so the engine can persist it.
    """

    def __init__(
        self,
        caller: GraphCaller,
        *,
        seed: dict[tuple[str, str], str] | None = None,
        on_folder: FolderSaved | None = None,
    ) -> None:
        self.caller = caller
        self._folders: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[str]] = {}
        self._roots: dict[str, str] = {}
        self._on_folder = on_folder
        for (drive_id, path), folder_id in (seed or {}).items():
            self._folders[_folder_key(drive_id, path)] = folder_id

    async def _json(self, method: str, url: str, kind: RequestKind, **kwargs) -> dict:
        return (await self.caller.request(method, url, kind=kind, **kwargs)).json()

    # Drives and items

    async def drive_id(self, upn: str) -> str:
        """The id of UPN's OneDrive; NoDrive when the user has none (404)."""
        try:
            body = await self._json("GET", f"/users/{quote(upn, safe='@')}/drive", RequestKind.READ)
        except FileFailure as exc:
            if exc.status != 404:
                raise
            raise NoDrive(
                f"{upn} has no OneDrive: {exc.what}",
                fix="check the user exists and is licensed, then pre-provision the OneDrive "
                "(Request-SPOPersonalSite) or have the user sign in once; then migrate again",
                status=404,
                code=exc.code,
                request_id=exc.request_id,
            ) from exc
        return body["id"]

    async def item_at(self, drive_id: str, path: str) -> DriveItem | None:
        """The item at PATH (relative to the drive root), or None when nothing is there."""
        url = f"/drives/{_id(drive_id)}/root"
        if split_path(path):
            url += f":/{encode_path(path)}:"
        return await self._item_or_none(url)

    async def item_in(self, drive_id: str, parent_id: str, name: str) -> DriveItem | None:
        """The item called NAME in folder PARENT_ID, or None."""
        url = f"/drives/{_id(drive_id)}/items/{_id(parent_id)}:/{quote(name, safe='')}:"
        return await self._item_or_none(url)

    async def _item_or_none(self, url: str) -> DriveItem | None:
        try:
            return DriveItem.from_json(await self._json("GET", url, RequestKind.READ))
        except FileFailure as exc:
            if exc.status == 404:
                return None
            raise

    async def delete(self, drive_id: str, item_id: str) -> None:
        """Move an item to the recycle bin; already gone is fine."""
        try:
            await self.caller.request(
                "DELETE", f"/drives/{_id(drive_id)}/items/{_id(item_id)}", kind=RequestKind.WRITE
            )
        except FileFailure as exc:
            if exc.status != 404:
                raise

    async def rename(self, drive_id: str, item_id: str, name: str) -> DriveItem:
        """Give the item NAME in its folder; FileFailure nameAlreadyExists when something is
        called NAME there already (never replaced: conflictBehavior fail)."""
        body = {"name": name, "@microsoft.graph.conflictBehavior": "fail"}
        url = f"/drives/{_id(drive_id)}/items/{_id(item_id)}"
        return DriveItem.from_json(await self._json("PATCH", url, RequestKind.WRITE, json=body))

    async def set_label(self, drive_id: str, item_id: str, label: str) -> None:
        """Apply the Purview retention label LABEL to the item."""
        await self.caller.request(
            "PATCH",
            f"/drives/{_id(drive_id)}/items/{_id(item_id)}/retentionLabel",
            kind=RequestKind.WRITE,
            json={"name": label},
        )

    async def walk(
        self, drive_id: str, path: str, *, page: int = PAGE
    ) -> AsyncIterator[tuple[str, DriveItem]]:
        """Every item below the folder at PATH, with its path relative to that folder, listed
        PAGE children a request (folders before their contents). Nothing when the folder is
        missing."""
        top = f"/drives/{_id(drive_id)}/root"
        top += f":/{encode_path(path)}:/children" if split_path(path) else "/children"
        folders = [("", f"{top}?$top={page}")]
        while folders:
            prefix, url = folders.pop()
            async for item in self._children(url):
                relative = prefix + item.name
                yield relative, item
                if item.is_folder:
                    children = f"/drives/{_id(drive_id)}/items/{_id(item.id)}/children"
                    folders.append((relative + "/", f"{children}?$top={page}"))

    async def _children(self, url: str | None) -> AsyncIterator[DriveItem]:
        while url:
            try:
                answer = await self._json("GET", url, RequestKind.LIST)
            except FileFailure as exc:
                if exc.status == 404:  # removed while we listed: nothing below it any more
                    return
                raise
            for body in answer.get("value", []):
                yield DriveItem.from_json(body)
            url = answer.get("@odata.nextLink")

    # Folders

    def seed_folder(self, drive_id: str, path: str, folder_id: str) -> None:
        """Tell the cache a folder's id, known from an earlier run."""
        self._folders[_folder_key(drive_id, path)] = folder_id

    def forget_folder(self, drive_id: str, path: str) -> None:
        """Drop a cached id found stale (the folder was removed), so it is made again."""
        self._folders.pop(_folder_key(drive_id, path), None)

    async def ensure_folder(self, drive_id: str, path: str) -> str:
        """The id of the folder at PATH, creating it and its parents when missing.

        Concurrent callers asking for the same folder share one creation; another process
        creating it first (409 nameAlreadyExists) counts as success. A file in the way raises
        FileFailure.
        """
        names = split_path(path)
        if not names:
            return await self._root_id(drive_id)
        key = _folder_key(drive_id, path)
        if key in self._folders:
            return self._folders[key]
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._make_folder(drive_id, names))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: one waiter giving up must not cancel the creation the others wait for.
        return await asyncio.shield(pending)

    async def _make_folder(self, drive_id: str, names: list[str]) -> str:
        parent_id = await self.ensure_folder(drive_id, "/".join(names[:-1]))
        folder_id = await self._create_folder(drive_id, parent_id, names[-1])
        path = "/".join(names)
        self._folders[_folder_key(drive_id, path)] = folder_id
        if self._on_folder is not None:
            self._on_folder(drive_id, path, folder_id)
        return folder_id

    async def _create_folder(self, drive_id: str, parent_id: str, name: str) -> str:
        body = {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}
        url = f"/drives/{_id(drive_id)}/items/{_id(parent_id)}/children"
        try:
            return (await self._json("POST", url, RequestKind.WRITE, json=body))["id"]
        except FileFailure as exc:
            if NAME_TAKEN not in (exc.code, exc.inner_code):
                raise
            existing = await self.item_in(drive_id, parent_id, name)
            if existing is not None and existing.is_folder:
                return existing.id
            raise FileFailure(
                f"cannot create folder {name!r}: a file of that name is in the way",
                fix="rename or move that file in the user's OneDrive, then migrate again",
                where=exc.where,
                status=exc.status,
                code=exc.code,
            ) from exc

    async def _root_id(self, drive_id: str) -> str:
        if drive_id not in self._roots:
            url = f"/drives/{_id(drive_id)}/root"
            self._roots[drive_id] = (await self._json("GET", url, RequestKind.READ))["id"]
        return self._roots[drive_id]

    # Upload sessions

    async def create_session(
        self,
        drive_id: str,
        parent_id: str,
        name: str,
        *,
        size: int,
        created: datetime,
        modified: datetime,
        conflict: str = "fail",
        defer_commit: bool = False,
    ) -> UploadSession:
        """Open an upload session for NAME in PARENT_ID carrying the file's times and CONFLICT
        behaviour (fail, replace, rename). SIZE lets the service refuse at once (507) when
        the drive has no room. A name taken under `fail` raises FileFailure nameAlreadyExists;
        so does an open session for the same name (OneDrive allows one at a time)."""
        if conflict not in CONFLICTS:
            raise ValueError(f"conflict must be one of {CONFLICTS}, not {conflict!r}")
        url = (
            f"/drives/{_id(drive_id)}/items/{_id(parent_id)}:/{quote(name, safe='')}:"
            "/createUploadSession"
        )
        body = {
            "item": {
                "@microsoft.graph.conflictBehavior": conflict,
                "fileSize": size,
                "fileSystemInfo": {
                    "createdDateTime": graph_time(created),
                    "lastModifiedDateTime": graph_time(modified),
                },
            },
            "deferCommit": defer_commit,
        }
        answer = await self._json("POST", url, RequestKind.WRITE, json=body)
        return UploadSession(
            url=answer["uploadUrl"],
            expires=parse_time(answer["expirationDateTime"]),
            next_offset=next_offset(answer.get("nextExpectedRanges") or ["0-"], size),
        )

    async def put_chunk(self, url: str, data: bytes, start: int, total: int) -> DriveItem | int:
        """Send DATA as bytes START.. of a TOTAL-byte file. Returns the item when this
        completed the upload, else the next offset the service expects.

        The service discards a chunk cut off mid-way; the caller sends it again. If it did
        keep a chunk whose answer was lost, the repeat gets 416 and the offset the session
        reports is returned instead. RestartFile when the session is gone: after a final
        chunk that may mean the file was committed, so look at the target before sending
        it again.
        """
        end = start + len(data) - 1
        try:
            response = await self.caller.request(
                "PUT",
                url,
                kind=RequestKind.UPLOAD_CHUNK,
                content=data,
                headers={"Content-Range": f"bytes {start}-{end}/{total}"},
                upload_session=True,
                ok=(200, 201, 202),
            )
        except FileFailure as exc:
            if exc.status != 416:
                raise
            return await self._offset_after_overlap(url, total, exc)
        body = response.json()
        if response.status_code == 202:
            return next_offset(body.get("nextExpectedRanges") or [], total)
        return DriveItem.from_json(body)

    async def _offset_after_overlap(self, url: str, total: int, error: FileFailure) -> int:
        offset = await self.session_offset(url, total=total)
        if offset is None:
            raise RestartFile(
                "the upload session ended after a repeated chunk",
                fix="nothing: the target is checked and the file sent again if needed",
                where=error.where,
                status=error.status,
                code=error.code,
            ) from error
        return offset

    async def session_offset(self, url: str, *, total: int | None = None) -> int | None:
        """The next offset the session at URL expects, or None when it is gone (404, expired,
        completed). With every byte received (a deferred commit pending) it returns TOTAL,
        which callers using defer_commit must pass."""
        try:
            response = await self.caller.request(
                "GET", url, kind=RequestKind.SESSION, upload_session=True, ok=(200,)
            )
        except RestartFile:
            return None
        return next_offset(response.json().get("nextExpectedRanges") or [], total)

    async def commit(self, url: str) -> DriveItem:
        """Complete a defer_commit session whose bytes have all arrived."""
        response = await self.caller.request(
            "POST",
            url,
            kind=RequestKind.WRITE,
            content=b"",
            upload_session=True,
            ok=(200, 201),
        )
        return DriveItem.from_json(response.json())

    async def cancel(self, url: str) -> None:
        """Cancel the session at URL; one already gone is fine."""
        with suppress(RestartFile):
            await self.caller.request("DELETE", url, kind=RequestKind.SESSION, upload_session=True)

    # Small files in two requests

    async def upload_small(
        self,
        drive_id: str,
        parent_id: str,
        name: str,
        data: bytes,
        *,
        created: datetime,
        modified: datetime,
        conflict: str = "fail",
    ) -> DriveItem:
        """Upload a file that fits one request (under 60 MiB) with its times kept, by the
        cheapest scheme (see the module docstring): two requests either way."""
        if len(data) > MAX_ONE_REQUEST:
            raise ValueError(f"{len(data)} bytes do not fit one request; use a session")
        if not data:
            return await self._upload_empty(drive_id, parent_id, name, created, modified, conflict)
        session = await self.create_session(
            drive_id,
            parent_id,
            name,
            size=len(data),
            created=created,
            modified=modified,
            conflict=conflict,
        )
        try:
            done = await self.put_chunk(session.url, data, 0, len(data))
        except GraphError:
            await self._cancel_quietly(session.url)
            raise
        if isinstance(done, DriveItem):
            return done
        await self._cancel_quietly(session.url)
        raise RestartFile(
            f"the service took {done} of {len(data)} bytes in one request",
            fix="nothing: the file is sent again",
        )

    async def _upload_empty(
        self,
        drive_id: str,
        parent_id: str,
        name: str,
        created: datetime,
        modified: datetime,
        conflict: str,
    ) -> DriveItem:
        if conflict not in CONFLICTS:
            raise ValueError(f"conflict must be one of {CONFLICTS}, not {conflict!r}")
        url = (
            f"/drives/{_id(drive_id)}/items/{_id(parent_id)}:/{quote(name, safe='')}:/content"
            f"?@microsoft.graph.conflictBehavior={conflict}"
        )
        item = DriveItem.from_json(await self._json("PUT", url, RequestKind.WRITE, content=b""))
        times = {
            "createdDateTime": graph_time(created),
            "lastModifiedDateTime": graph_time(modified),
        }
        try:
            body = await self._json(
                "PATCH",
                f"/drives/{_id(drive_id)}/items/{_id(item.id)}",
                RequestKind.WRITE,
                json={"fileSystemInfo": times},
            )
        except GraphError:
            # Left behind, the empty file would look like someone else's on the next try.
            await self._quietly(self.delete(drive_id, item.id))
            raise
        return DriveItem.from_json(body)

    async def _cancel_quietly(self, url: str) -> None:
        # An open session blocks a new one for the same name until it expires (~15 min).
        await self._quietly(self.cancel(url))

    @staticmethod
    async def _quietly(cleanup: Awaitable[None]) -> None:
        """Best-effort cleanup after a failure: the original error is what gets reported."""
        with suppress(GraphError):
            await cleanup


def _folder_key(drive_id: str, path: str) -> tuple[str, str]:
    return drive_id, "/".join(split_path(path)).casefold()
