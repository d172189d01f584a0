"""The workspace settings file, hdrive.toml: written for people to edit, read strictly.

Secrets never live in the file: the client secret comes from HDRIVE_CLIENT_SECRET, the
certificate password from HDRIVE_CERTIFICATE_PASSWORD and the SMB password from
HDRIVE_SMB_PASSWORD, read only when connecting.

Mistakes in [graph] and [plan] are reported when a command first uses those settings, so that a
bad Graph URL or a missing hold register does not stop read-only commands such as `scan summary`;
every other mistake is reported when the file is read.
"""

import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from hdrive_migrate import naming
from hdrive_migrate.errors import ConfigError

CONFIG_NAME = "hdrive.toml"
CLIENT_SECRET_ENV = "HDRIVE_CLIENT_SECRET"
CERTIFICATE_PASSWORD_ENV = "HDRIVE_CERTIFICATE_PASSWORD"
SMB_USER_ENV = "HDRIVE_SMB_USER"
SMB_PASSWORD_ENV = "HDRIVE_SMB_PASSWORD"
LOCK_TIMEOUT_ENV = "HDRIVE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0  # seconds to wait for another command's write lock on state.db
MAX_LOCK_TIMEOUT = 86_400.0  # a day: SQLite counts the wait in milliseconds in a 32-bit int
DEFAULT_TARGET_FOLDER = "H Drive"
DEFAULT_API_PATH = "/v1.0"


class Auth(StrEnum):
    """How hdrive-migrate proves who it is to Graph."""

    LOCAL = "local"
    CERTIFICATE = "certificate"
    SECRET = "secret"
    MANAGED_IDENTITY = "managed-identity"


@dataclass(frozen=True)
class GraphSettings:
    """Where Graph is and how to authenticate; `url` is the service root without a trailing
    slash, e.g. https://graph.microsoft.com/v1.0."""

    url: str
    auth: Auth
    tenant_id: str | None = None
    client_id: str | None = None
    certificate_path: Path | None = None
    organisation: str | None = None  # required for real tenants; see REQUIRED_FOR_AUTH


@dataclass(frozen=True)
class _Invalid:
    """Stands in for a setting whose section holds a mistake; reading the setting raises it."""

    error: ConfigError


@dataclass(frozen=True)
class MigrateSettings:
    """[migrate]: how hard `migrate` drives the tenant. The quotas are Microsoft's published
    per-app figures for a tenant of 15,001-50,000 licences (graph-protocol.md)."""

    concurrency: int = 16  # files in flight at once
    chunk_mib: int = 10  # upload-session chunk, rounded down to a multiple of 320 KiB
    quota_ru_per_minute: int = 5_000
    quota_ru_per_day: int = 4_800_000


@dataclass(frozen=True)
class NoticesSettings:
    """[notices]: the messages `notices` writes and sends to users. `mailbox` is the service
    mailbox `--send` sends from (None: sending is not set up); `messages_per_minute` keeps
    under Exchange Online's sending limit of 30 messages a minute per mailbox."""

    mailbox: str | None = None
    service_desk: str = "the IT service desk"
    review_by_days: int = 7  # days users have to look through their H: drive after a notice
    messages_per_minute: int = 30


@dataclass(frozen=True)
class Config:
    """The validated contents of hdrive.toml.

    Reading a setting whose [graph] or [plan] section holds a mistake raises that mistake's
    ConfigError (see DEFERRED_SECTIONS); validate_all raises it at once.
    """

    source_root: str
    graph: GraphSettings
    target_folder: str = DEFAULT_TARGET_FOLDER
    smb_user: str | None = None  # the password only ever comes from HDRIVE_SMB_PASSWORD
    trust_access_time: bool = False  # OneFS keeps atime tracking off by default
    scan_exclude: tuple[str, ...] = ()  # globs relative to a user's folder, never scanned
    scan_listers: int | None = None  # lister processes; None: one per core
    name_mapping: str = "fullwidth"  # how names OneDrive refuses are made acceptable
    replacement: str = "_"  # the character name_mapping = "replace" puts in
    holds_file: Path | None = None  # the default hold register for `plan`
    migrate: MigrateSettings = MigrateSettings()
    notices: NoticesSettings = NoticesSettings()

    def __getattribute__(self, name: str) -> object:
        # One place for every reader: commands read settings as plain attributes.
        value = object.__getattribute__(self, name)
        if isinstance(value, _Invalid):
            raise value.error
        return value


SCHEMA: dict[str, tuple[str, ...]] = {
    "source": ("root", "smb_user", "trust_access_time"),
    "graph": ("url", "auth", "tenant_id", "client_id", "certificate_path", "organisation"),
    "target": ("folder", "name_mapping", "replacement"),
    "scan": ("exclude", "listers"),
    "plan": ("holds",),
    "migrate": ("concurrency", "chunk_mib", "quota_ru_per_minute", "quota_ru_per_day"),
    "notices": ("mailbox", "service_desk", "review_by_days", "messages_per_minute"),
}
# Sections only some commands need, and the Config field each becomes: their mistakes wait until
# a command reads that field.
DEFERRED_SECTIONS = {
    "graph": "graph",
    "plan": "holds_file",
    "migrate": "migrate",
    "notices": "notices",
}
NAME_MAPPINGS = ("fullwidth", "replace")
# Keys whose value is not a string: (section, key) -> (type, how to write one).
NON_STRING_KEYS: dict[tuple[str, str], tuple[type, str]] = {
    ("source", "trust_access_time"): (bool, "trust_access_time = false"),
    ("scan", "exclude"): (list, 'exclude = ["AppData/**", "*.vhdx"]'),
    ("scan", "listers"): (int, "listers = 4"),
    ("migrate", "concurrency"): (int, "concurrency = 16"),
    ("migrate", "chunk_mib"): (int, "chunk_mib = 10"),
    ("migrate", "quota_ru_per_minute"): (int, "quota_ru_per_minute = 5000"),
    ("migrate", "quota_ru_per_day"): (int, "quota_ru_per_day = 4800000"),
    ("notices", "review_by_days"): (int, "review_by_days = 7"),
    ("notices", "messages_per_minute"): (int, "messages_per_minute = 30"),
}
# Whole-number keys and the range each must fall in: (lowest, highest).
INT_RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("scan", "listers"): (1, 256),
    ("migrate", "concurrency"): (1, 256),
    # An upload chunk must stay under 60 MiB and hold at least one 320 KiB unit.
    ("migrate", "chunk_mib"): (1, 59),
    ("migrate", "quota_ru_per_minute"): (10, 10_000_000),
    ("migrate", "quota_ru_per_day"): (100, 10_000_000_000),
    ("notices", "review_by_days"): (1, 365),
    ("notices", "messages_per_minute"): (1, 10_000),
}

# Keys each auth method cannot work without; organisation is required for real tenants because
# Microsoft prioritises traffic whose User-Agent names the organisation.
REQUIRED_FOR_AUTH: dict[Auth, tuple[str, ...]] = {
    Auth.LOCAL: (),
    Auth.CERTIFICATE: ("tenant_id", "client_id", "certificate_path", "organisation"),
    Auth.SECRET: ("tenant_id", "client_id", "organisation"),
    Auth.MANAGED_IDENTITY: ("organisation",),
}

# The only hosts kiota's token provider will send a token to over plain http.
SDK_PLAIN_HTTP_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_MAILBOX = re.compile(r"[^@\s\"<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_TOML_LINE = re.compile(r"at line (\d+), column \d+")
_HEADER = re.compile(r"\s*\[\s*([^\]\s]+)\s*\]")
# Words that make a key a secret, whatever section it is in or however it is spelt.
_SECRET_WORDS = ("secret", "password", "passwd")


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1), with or without brackets."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(workspace_dir: Path) -> Config:
    """Read and validate WORKSPACE_DIR/hdrive.toml; every mistake raises ConfigError naming the
    file, the line where it can tell, and the fix."""
    path = Path(workspace_dir) / CONFIG_NAME
    try:
        # utf-8-sig: Notepad starts the files it saves as UTF-8 with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"no {CONFIG_NAME} in {workspace_dir}",
            fix="run `hdrive-migrate init DIR ...` first, or point --workspace/-w "
            "(or HDRIVE_WORKSPACE) at an existing workspace",
            where=str(path),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {CONFIG_NAME}: {exc}",
            fix="make it a readable UTF-8 text file",
            where=str(path),
        ) from exc
    return parse_config(text, path)


def validate_all(config: Config) -> Config:
    """CONFIG, once the first mistake in any of its deferred sections has been raised."""
    for field in DEFERRED_SECTIONS.values():
        getattr(config, field)
    return config


def lock_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds a command waits while another holds the write lock on state.db:
    HDRIVE_LOCK_TIMEOUT, else DEFAULT_LOCK_TIMEOUT; ConfigError when it is not such a number."""
    text = environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_LOCK_TIMEOUT:  # NaN fails this too
        raise ConfigError(
            f'"{text}" is not a number of seconds from 0 to {MAX_LOCK_TIMEOUT:g}',
            fix=f"set {LOCK_TIMEOUT_ENV} to how long a command may wait for another one "
            "writing to the same workspace, e.g. 30, or unset it",
            where=LOCK_TIMEOUT_ENV,
        )
    return seconds


def write_config(path: Path, settings: Config) -> Config:
    """Validate SETTINGS as load_config would, then write them to PATH as a commented file.

    Never overwrites: an existing file raises ConfigError. Returns the validated Config (the URL
    normalised), which is exactly what load_config will read back.
    """
    config = validate_all(parse_config(render_config(settings), path))
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(render_config(config))
    except FileExistsError:
        raise ConfigError(
            f"{path.name} already exists",
            fix=f"edit {path} directly, or choose a new workspace directory",
            where=str(path),
        ) from None
    return config


def parse_config(text: str, path: Path) -> Config:
    """Validate the TOML TEXT of the file at PATH (used for messages and relative paths).

    A mistake in one of DEFERRED_SECTIONS is kept in the Config and raised when that setting is
    read; every other mistake raises ConfigError here."""
    locate = _Locator(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, path) from exc
    _check_shape(data, locate)
    source, graph, target, scan, plan, migrate, notices = (
        data.get(section, {}) for section in SCHEMA
    )
    return Config(
        source_root=_source_root(source, locate),
        graph=_deferred(
            "graph", graph, locate, lambda: _graph_settings(graph, locate, path.parent)
        ),
        target_folder=_target_folder(target, locate),
        smb_user=_optional(source, "smb_user"),
        trust_access_time=source.get("trust_access_time", False),
        scan_exclude=_exclude_globs(scan, locate),
        scan_listers=scan.get("listers"),
        name_mapping=_name_mapping(target, locate),
        replacement=_replacement(target, locate),
        holds_file=_deferred("plan", plan, locate, lambda: _holds_file(plan, locate, path.parent)),
        migrate=_deferred("migrate", migrate, locate, lambda: _migrate_settings(migrate, locate)),
        notices=_deferred("notices", notices, locate, lambda: _notices_settings(notices, locate)),
    )


def _deferred(section: str, table: dict, locate: "_Locator", read: Callable[[], object]) -> object:
    """What READ makes of [SECTION], or an _Invalid holding the first mistake in the section."""
    try:
        for key, value in table.items():
            _check_key(section, key, value, locate)
        return read()
    except ConfigError as exc:
        return _Invalid(exc)


def render_config(config: Config) -> str:
    """hdrive.toml text for CONFIG, each key explained; unset optional keys are commented out."""
    graph = config.graph
    cert = str(graph.certificate_path) if graph.certificate_path else None
    return "\n".join(
        [
            "# hdrive-migrate workspace settings. Edit freely, then run `hdrive-migrate tenant "
            "check`.",
            f'# Secrets never go here: set {CLIENT_SECRET_ENV} (auth = "secret") or '
            f"{CERTIFICATE_PASSWORD_ENV}",
            "# (a password-protected certificate) in the environment instead.",
            "",
            "[source]",
            "# Where the H: drives live: a local or mounted path, \\\\server\\share\\path or",
            "# smb://server[:port]/share/path.",
            _line("root", config.source_root),
            f"# SMB user (DOMAIN\\user or user@domain); or set {SMB_USER_ENV}. The password is",
            f"# read only from {SMB_PASSWORD_ENV}.",
            _line("smb_user", config.smb_user),
            "# Whether the share keeps real last-access times (OneFS: off unless enabled).",
            "# Policies may judge access age only when this is true.",
            f"trust_access_time = {str(config.trust_access_time).lower()}",
            "",
            "[graph]",
            "# Graph service root: https://graph.microsoft.com/v1.0 for Microsoft 365,",
            "# http://127.0.0.1:PORT/v1.0 for a local tenant (`hdrive-migrate tenant serve`).",
            _line("url", graph.url),
            "# local (local tenant only), certificate (preferred), secret or managed-identity.",
            _line("auth", str(graph.auth)),
            "# Directory (tenant) id or primary domain; certificate and secret auth.",
            _line("tenant_id", graph.tenant_id),
            "# Application (client) id of the app registration; with managed-identity, the",
            "# client id of a user-assigned identity (leave out for the system-assigned one).",
            _line("client_id", graph.client_id),
            "# PEM or PKCS#12 file holding the certificate and its private key; relative paths",
            "# start at this directory.",
            _line("certificate_path", cert),
            "# Your organisation, sent in the User-Agent: Microsoft prioritises decorated traffic.",
            _line("organisation", graph.organisation),
            "",
            "[target]",
            "# Folder created in each user's OneDrive to hold their H: drive.",
            _line("folder", config.target_folder),
            "# Names OneDrive refuses become acceptable ones: fullwidth puts look-alike characters",
            "# in (a:b.txt -> a：b.txt, as rclone does); replace puts `replacement` in (as SPMT).",  # noqa: RUF001 (the look-alike is the point)
            _line("name_mapping", config.name_mapping),
            _line("replacement", config.replacement),
            "",
            "[plan]",
            "# The hold register (CSV upn,path; an empty path holds the whole drive) that `plan`",
            "# reads when --holds is not given; relative paths start at this directory.",
            _line("holds", str(config.holds_file) if config.holds_file else None),
            "",
            "[scan]",
            "# Paths never scanned, as globs relative to each user's folder (** crosses folders).",
            "# Isilon .snapshot and ~snapshot folders are always skipped.",
            "exclude = [" + ", ".join(_toml_string(glob) for glob in config.scan_exclude) + "]",
            "# Processes listing folders beside the one writing the inventory (default: one per",
            "# core); `scan --listers N` overrides it for one run.",
            f"listers = {config.scan_listers}" if config.scan_listers else "# listers = 4",
            "",
            "[migrate]",
            "# Files in flight at once, and the upload chunk in MiB (under 60; rounded down to a",
            "# multiple of 320 KiB as OneDrive requires).",
            f"concurrency = {config.migrate.concurrency}",
            f"chunk_mib = {config.migrate.chunk_mib}",
            "# The app's resource-unit budgets (Microsoft's figures for 15,001-50,000 licences;",
            "# see SharePoint's throttling guidance for other tenant sizes).",
            f"quota_ru_per_minute = {config.migrate.quota_ru_per_minute}",
            f"quota_ru_per_day = {config.migrate.quota_ru_per_day}",
            "",
            "[notices]",
            "# `hdrive-migrate notices` writes each user a message before and after their wave.",
            "# The service mailbox `--send` sends from (the app needs Mail.Send), who users call,",
            "# how many days they get to look through their H: drive, and the sending pace",
            "# (Exchange Online allows a mailbox 30 messages a minute, 10,000 recipients a day).",
            _line("mailbox", config.notices.mailbox),
            _line("service_desk", config.notices.service_desk),
            f"review_by_days = {config.notices.review_by_days}",
            f"messages_per_minute = {config.notices.messages_per_minute}",
            "",
        ]
    )


def _line(key: str, value: str | None) -> str:
    if value is None:
        return f'# {key} = ""'
    return f"{key} = {_toml_string(value)}"


def _toml_string(value: str) -> str:
    """A TOML string for VALUE: a literal string when possible, so Windows paths stay readable."""
    if "'" not in value and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"'{value}'"
    # JSON string escapes are a subset of TOML basic-string escapes, except DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


class _Locator:
    """Turns a section and key into `file:line` by scanning the text, since tomllib keeps no
    positions, and builds the ConfigError for a mistake there."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, section: str | None, key: str | None, what: str, fix: str) -> ConfigError:
        """A ConfigError at KEY in [SECTION] (SECTION None: before any header; KEY None: the
        header itself, or the whole file when the line is not found)."""
        line = self._find(section, key) or self._find(section, None)
        where = f"{self.path}:{line}" if line else str(self.path)
        setting = f"{section}.{key}" if section and key else None
        return ConfigError(what, fix=fix, where=where, setting=setting)

    def _find(self, section: str | None, key: str | None) -> int | None:
        current = None
        key_pattern = re.compile(rf"\s*[\"']?{re.escape(key or '')}[\"']?\s*=")
        for number, text in enumerate(self.lines, start=1):
            header = _HEADER.match(text)
            if header:
                current = header.group(1).strip("\"'")
                if key is None and current == section:
                    return number
            elif key is not None and current == section and key_pattern.match(text):
                return number
        return None


def _syntax_error(exc: tomllib.TOMLDecodeError, path: Path) -> ConfigError:
    message = str(exc)
    found = _TOML_LINE.search(message)
    where = f"{path}:{found.group(1)}" if found else str(path)
    what = _TOML_LINE.sub("", message).replace("()", "").strip()
    return ConfigError(
        f"not valid TOML: {what}",
        fix="correct that line; values need quotes, and Windows paths read best in single "
        "quotes, e.g. root = '\\\\server\\share\\home'",
        where=where,
    )


def _check_shape(data: dict, locate: _Locator) -> None:
    """No secret anywhere; every section known and a table; every key of a section read now
    known and of its type (those of DEFERRED_SECTIONS are checked when the section is read)."""
    _refuse_secrets(data, locate)
    for section, table in data.items():
        if section in SCHEMA and not isinstance(table, dict):
            raise locate.error(
                None,
                section,
                f"{section} must be a section",
                f"write it as a [{section}] header followed by its keys",
            )
        if section not in SCHEMA and isinstance(table, dict):
            raise locate.error(
                section,
                None,
                f"unknown section [{section}]",
                _suggest(f"[{section}]", [f"[{s}]" for s in SCHEMA], "sections"),
            )
        if section not in SCHEMA:
            raise locate.error(
                None,
                section,
                f"unknown key {section} outside any section",
                f"put it under one of {', '.join(f'[{s}]' for s in SCHEMA)}, or remove it",
            )
        if section in DEFERRED_SECTIONS:
            continue
        for key, value in table.items():
            _check_key(section, key, value, locate)


def _refuse_secrets(data: dict, locate: _Locator) -> None:
    """Checked before anything else, and in every section: a secret in the file is a leak to
    stop now, whatever the command."""
    for section, table in data.items():
        if isinstance(table, dict):
            for key in table:
                _refuse_secret(section, key, locate)
        else:
            _refuse_secret(None, section, locate)


def _refuse_secret(section: str | None, key: str, locate: _Locator) -> None:
    """A ConfigError for KEY (in [SECTION], None: outside any) when it names a secret."""
    if not any(word in key.lower() for word in _SECRET_WORDS):
        return
    named = f"[{section}] {key}" if section else key
    raise locate.error(
        section,
        key,
        f"{named} is a secret, and secrets never go in {CONFIG_NAME}",
        f"delete it from the file and set {_secret_variable(section, key)} in the environment "
        "of the commands that need it instead",
    )


def _secret_variable(section: str | None, key: str) -> str:
    """The environment variable meant for the secret KEY in [SECTION]."""
    key = key.lower()
    if "secret" in key:
        return CLIENT_SECRET_ENV
    if "cert" in key or section == "graph":  # the certificate's is the only password Graph needs
        return CERTIFICATE_PASSWORD_ENV
    if "smb" in key or section == "source":
        return SMB_PASSWORD_ENV
    return (
        f"{CLIENT_SECRET_ENV}, {SMB_PASSWORD_ENV} or {CERTIFICATE_PASSWORD_ENV} (whichever it is)"
    )


def _check_key(section: str, key: str, value: object, locate: _Locator) -> None:
    if key not in SCHEMA[section]:
        raise locate.error(
            section,
            key,
            f"unknown key [{section}] {key}",
            _suggest(key, list(SCHEMA[section]), f"keys in [{section}]"),
        )
    expected, example = NON_STRING_KEYS.get((section, key), (str, f'{key} = "..."'))
    if expected is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    if expected is bool and isinstance(value, bool):
        return
    if expected is int and isinstance(value, int) and not isinstance(value, bool):
        low, high = INT_RANGES[(section, key)]
        if low <= value <= high:
            return
        raise locate.error(
            section,
            key,
            f"[{section}] {key} = {value} is outside {low:,}-{high:,}",
            f"write a whole number from {low:,} to {high:,}, e.g. {example}",
        )
    if expected is not str or not isinstance(value, str):
        raise locate.error(
            section,
            key,
            f"[{section}] {key} must be {_kind(expected)}, not {type(value).__name__}",
            f"write it as {example}",
        )


def _kind(expected: type) -> str:
    return {
        str: "a string",
        bool: "true or false",
        list: "a list of strings",
        int: "a whole number",
    }[expected]


def _migrate_settings(migrate: dict, locate: _Locator) -> MigrateSettings:
    """[migrate] with defaults for what it leaves out (every key was checked by _check_key)."""
    return MigrateSettings(**migrate)


def _notices_settings(notices: dict, locate: _Locator) -> NoticesSettings:
    """[notices] with defaults for what it leaves out; the mailbox must be an address."""
    mailbox = _optional(notices, "mailbox")
    if mailbox is not None and not _MAILBOX.fullmatch(mailbox):
        raise locate.error(
            "notices",
            "mailbox",
            f'[notices] mailbox = "{mailbox}" is not a mail address',
            "give the service mailbox notices are sent from, e.g. mailbox = "
            '"it-migration@force.police.uk"',
        )
    service_desk = notices.get("service_desk", NoticesSettings.service_desk).strip()
    if not service_desk:
        raise locate.error(
            "notices",
            "service_desk",
            "[notices] service_desk is empty",
            'say who users call, e.g. service_desk = "Service desk, 01234 567890"',
        )
    rest = {
        key: notices[key] for key in ("review_by_days", "messages_per_minute") if key in notices
    }
    return NoticesSettings(mailbox=mailbox, service_desk=service_desk, **rest)


def _name_mapping(target: dict, locate: _Locator) -> str:
    value = target.get("name_mapping", "fullwidth").strip()
    if value not in NAME_MAPPINGS:
        raise locate.error(
            "target",
            "name_mapping",
            f'[target] name_mapping = "{value}" is not one of {", ".join(NAME_MAPPINGS)}',
            'write name_mapping = "fullwidth" (look-alike characters) or "replace"',
        )
    return value


def _replacement(target: dict, locate: _Locator) -> str:
    value = target.get("replacement", "_")
    problem = naming.replacement_problem(value)
    if problem is not None:
        raise locate.error(
            "target",
            "replacement",
            f'[target] replacement = "{value}": {problem}',
            'use one character such as "_" or "-"',
        )
    return value


def _holds_file(plan: dict, locate: _Locator, workspace_dir: Path) -> Path | None:
    value = _optional(plan, "holds")
    if value is None:
        return None
    path = (workspace_dir / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise locate.error(
            "plan",
            "holds",
            f'[plan] holds = "{value}" is not a file',
            "correct the path (relative paths start at the workspace directory) or remove "
            "the key and give --holds to each plan",
        )
    return path


def _exclude_globs(scan: dict, locate: _Locator) -> tuple[str, ...]:
    globs = tuple(glob.strip() for glob in scan.get("exclude", []))
    if any(not glob or glob.startswith("/") for glob in globs):
        raise locate.error(
            "scan",
            "exclude",
            "[scan] exclude has an empty or absolute glob",
            'write globs relative to a user\'s folder, e.g. exclude = ["AppData/**"]',
        )
    return globs


def _suggest(name: str, known: list[str], label: str) -> str:
    """A fix offering the KNOWN name closest to NAME, then listing them all."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}?" if close else "remove it or correct it;"
    return f"{hint} Known {label}: {', '.join(known)}"


def _required(table: dict, section: str, key: str, locate: _Locator, why: str) -> str:
    value = table.get(key, "").strip()
    if not value:
        raise locate.error(
            section, key, f"[{section}] {key} is required {why}", f"set {key} under [{section}]"
        )
    return value


def _optional(table: dict, key: str) -> str | None:
    return table.get(key, "").strip() or None


def _source_root(source: dict, locate: _Locator) -> str:
    return _required(source, "source", "root", locate, "(where the H: drives are)")


def _target_folder(target: dict, locate: _Locator) -> str:
    folder = target.get("folder", DEFAULT_TARGET_FOLDER)
    if not folder or naming.name_problems(folder, at_drive_root=True):
        raise locate.error(
            "target",
            "folder",
            f'[target] folder = "{folder}" is not a name OneDrive accepts',
            'use one folder name without " * : < > ? / \\ |, surrounding spaces or a '
            'trailing dot, e.g. folder = "H Drive"',
        )
    return folder


def _graph_settings(graph: dict, locate: _Locator, workspace_dir: Path) -> GraphSettings:
    auth = _auth(graph, locate)
    for key in REQUIRED_FOR_AUTH[auth]:
        _required(graph, "graph", key, locate, f'for auth = "{auth}"')
    return GraphSettings(
        url=_graph_url(graph, auth, locate),
        auth=auth,
        tenant_id=_tenant_id(graph, locate),
        client_id=_client_id(graph, locate),
        certificate_path=_certificate_path(graph, locate, workspace_dir),
        organisation=_organisation(graph, locate),
    )


def _auth(graph: dict, locate: _Locator) -> Auth:
    choices = [str(a) for a in Auth]
    value = _required(graph, "graph", "auth", locate, f"(one of {', '.join(choices)})")
    if value in choices:
        return Auth(value)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    raise locate.error(
        "graph",
        "auth",
        f'[graph] auth = "{value}" is not one of {", ".join(choices)}',
        f'did you mean auth = "{close[0]}"?' if close else "pick one of them",
    )


def _graph_url(graph: dict, auth: Auth, locate: _Locator) -> str:
    """The service root, normalised: no trailing slash, /v1.0 when the URL has no path."""
    value = _required(graph, "graph", "url", locate, "(the Graph service root)")
    parts = urlsplit(value)
    problem = _url_problem(value, parts, auth)
    if problem is not None:
        raise locate.error("graph", "url", *problem)
    path = parts.path.rstrip("/") or DEFAULT_API_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _url_problem(value: str, parts: SplitResult, auth: Auth) -> tuple[str, str] | None:
    """(what, fix) when URL VALUE cannot serve AUTH, else None."""
    if not _is_service_root(parts):
        return (
            f'[graph] url = "{value}" is not an http(s) service root',
            'use e.g. url = "https://graph.microsoft.com/v1.0"',
        )
    host = parts.hostname.lower()
    if auth is Auth.LOCAL and not is_loopback_host(host):
        return (
            f'[graph] auth = "local" sends a placeholder token, but url host {host} is not '
            "this machine",
            "point url at a local tenant (http://127.0.0.1:PORT/v1.0), or choose auth = "
            '"certificate", "secret" or "managed-identity" for a real tenant',
        )
    if auth is not Auth.LOCAL and parts.scheme != "https":
        return (
            f'[graph] url = "{value}" is plain http, which would expose the {auth} token',
            "use an https:// URL",
        )
    if parts.scheme == "http" and host not in SDK_PLAIN_HTTP_HOSTS:
        return (
            f'[graph] url = "{value}" is plain http to {host}, where the Graph SDK refuses to '
            "send a token",
            "use http://127.0.0.1:PORT/v1.0 (or localhost, [::1]) for a local tenant",
        )
    return None


def _is_service_root(parts: SplitResult) -> bool:
    """An http(s) URL with a host and a valid port, and no credentials, query or fragment."""
    try:
        port_ok = parts.port != 0
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and port_ok
        and parts.username is None
        and not (parts.query or parts.fragment)
    )


def _tenant_id(graph: dict, locate: _Locator) -> str | None:
    value = _optional(graph, "tenant_id")
    if value is not None and not (_GUID.fullmatch(value) or _DOMAIN.fullmatch(value)):
        raise locate.error(
            "graph",
            "tenant_id",
            f'[graph] tenant_id = "{value}" is neither a GUID nor a domain name',
            "copy the Directory (tenant) ID from the Entra admin centre, e.g. "
            '"72f988bf-86f1-41af-91ab-2d7cd011db47", or use the domain, e.g. '
            '"contoso.onmicrosoft.com"',
        )
    return value


def _client_id(graph: dict, locate: _Locator) -> str | None:
    value = _optional(graph, "client_id")
    if value is not None and not _GUID.fullmatch(value):
        raise locate.error(
            "graph",
            "client_id",
            f'[graph] client_id = "{value}" is not a GUID',
            "copy the Application (client) ID of the app registration from the Entra admin centre",
        )
    return value


def _certificate_path(graph: dict, locate: _Locator, workspace_dir: Path) -> Path | None:
    value = _optional(graph, "certificate_path")
    if value is None:
        return None
    path = (workspace_dir / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise locate.error(
            "graph",
            "certificate_path",
            f'[graph] certificate_path = "{value}" is not a file',
            "correct the path (relative paths start at the workspace directory) or put the "
            "PEM/PKCS#12 certificate there",
        )
    return path


def _organisation(graph: dict, locate: _Locator) -> str | None:
    value = _optional(graph, "organisation")
    # It travels in the User-Agent header: printable ASCII, and | separates its fields.
    if value is not None and not (value.isascii() and value.isprintable() and "|" not in value):
        raise locate.error(
            "graph",
            "organisation",
            f'[graph] organisation = "{value}" cannot go in a User-Agent header',
            'use plain ASCII letters, digits, spaces and punctuation other than "|", '
            'e.g. organisation = "Contoso Ltd"',
        )
    return value
