"""The engine's pure parts: windows, the read-rate bucket, the memory budget, what a file needs
next, the requests a file costs, sealing, and the one table of failure reasons."""

import ast
import asyncio
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hdrive_migrate.migrate as engine_package
from hdrive_migrate import naming
from hdrive_migrate.errors import HdriveError
from hdrive_migrate.graph.pacer import RequestKind
from hdrive_migrate.migrate.forecast import file_requests
from hdrive_migrate.migrate.limits import (
    BURST_SECONDS,
    Bucket,
    ByteBudget,
    Window,
    parse_window,
    wait_for,
)
from hdrive_migrate.migrate.reasons import REASONS, fix_for
from hdrive_migrate.migrate.run import check_chunk
from hdrive_migrate.migrate.sealing import KEY_FILE, Sealer
from hdrive_migrate.migrate.transfer import PARTIAL_PREFIX, partial_name
from hdrive_migrate.migrate.work import Job, Next, next_step

times = st.times().map(lambda t: t.replace(microsecond=0))
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)


@given(times, times, moments)
def test_a_window_is_open_exactly_until_its_end(start, end, now):
    if start == end:
        return
    window = Window(start, end)
    if window.is_open(now):
        left = window.seconds_to_end(now)
        assert 0 < left <= 86400
        assert window.is_open(now + timedelta(seconds=left - 1))
        assert not window.is_open(now + timedelta(seconds=left))
    else:
        wait = window.seconds_to_start(now)
        assert window.is_open(now + timedelta(seconds=wait))


def test_a_night_window_crosses_midnight():
    night = parse_window("22:00-06:30")
    assert night == Window(time(22), time(6, 30))
    assert night.is_open(datetime(2026, 3, 1, 23, 59))
    assert night.is_open(datetime(2026, 3, 2, 6, 29))
    assert not night.is_open(datetime(2026, 3, 2, 6, 30))
    assert str(night) == "22:00-06:30"


@pytest.mark.parametrize("text", ["25:00-06:00", "22:00", "9:00-10:00", "10:00-10:00", ""])
def test_a_bad_window_is_one_line_with_a_fix(text):
    with pytest.raises(HdriveError) as error:
        parse_window(text)
    assert "Fix: " in str(error.value) and "\n" not in str(error.value)


@given(
    st.floats(1e3, 1e9),
    st.lists(st.tuples(st.integers(0, 50_000_000), st.floats(0, 5)), min_size=1, max_size=40),
)
def test_the_read_rate_never_exceeds_its_cap(rate, takes):
    """Bytes allowed to start by any moment stay within rate * elapsed + one burst."""
    bucket, now, started = Bucket(rate, 0.0, 0.0), 0.0, 0
    for size, gap in takes:
        now += gap
        bucket, wait = wait_for(bucket, size, now)
        now += wait
        started += size
        assert started <= rate * now + rate * BURST_SECONDS + 1


def test_the_memory_budget_holds_no_more_than_its_capacity():
    async def main() -> int:
        budget, peak = ByteBudget(100), 0

        async def hold(size: int) -> None:
            nonlocal peak
            async with budget.hold(size):
                peak = max(peak, budget.held)
                await asyncio.sleep(0.001)

        await asyncio.gather(*(hold(size) for size in [60, 60, 30, 150, 10, 90] * 5))
        assert budget.held == 0
        return peak

    assert asyncio.run(main()) == 150  # only the oversized hold, alone, passes the capacity


def job(**changes) -> Job:
    base = Job(
        upn="a@x", drive_id="d", home="a", path="f.txt", target="H Drive/f.txt",
        planned="H Drive/f.txt", label=None, size=10, created=None, modified=100.0, link=False,
        sha256="s", quick_xor="q", state=None, sent_size=None, sent_modified=None,
        sent_sha256=None, item_id=None, ours=False, sealed=None, next_offset=None,
    )  # fmt: skip
    return replace(base, **changes)


DONE = dict(state="migrated", sent_size=10, sent_modified=100.0, sent_sha256="s")


@pytest.mark.parametrize(
    ("changes", "step", "reason"),
    [
        ({}, Next.SEND, None),
        (DONE, Next.SKIP, None),
        ({**DONE, "state": "skipped-identical"}, Next.SKIP, None),
        ({**DONE, "state": "failed"}, Next.SEND, None),
        ({**DONE, "state": "removed"}, Next.SEND, None),
        ({**DONE, "size": 11}, Next.SEND, None),
        ({**DONE, "modified": 101.0}, Next.SEND, None),
        ({**DONE, "sha256": "other"}, Next.SEND, None),
        ({**DONE, "sha256": None}, Next.SKIP, None),  # scanned without --hash since
        ({"sealed": "x"}, Next.RESUME, None),
        ({"link": True}, Next.REFUSE, "link-not-migrated"),
        ({"target": "H Drive/" + "x" * 400}, Next.REFUSE, "path-too-long"),
        ({"size": 251 * 1024**3}, Next.REFUSE, "too-large"),
    ],
)
def test_what_a_file_needs_next(changes, step, reason):
    assert next_step(job(**changes))[:2] == (step, reason)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"size": 0}, {RequestKind.WRITE: 2}),
        ({"size": 1}, {RequestKind.WRITE: 1, RequestKind.UPLOAD_CHUNK: 1}),
        ({"size": 100, "label": "L"}, {RequestKind.WRITE: 2, RequestKind.UPLOAD_CHUNK: 1}),
        ({"size": 250}, {RequestKind.WRITE: 2, RequestKind.UPLOAD_CHUNK: 3}),
        ({"size": 300, "sealed": "x"}, {RequestKind.WRITE: 2, RequestKind.UPLOAD_CHUNK: 3,
                                         RequestKind.SESSION: 1}),
    ],
)  # fmt: skip
def test_the_requests_a_file_costs(changes, expected):
    assert file_requests(job(**changes), chunk=100) == expected


@pytest.mark.parametrize("chunk", [0, 100, 320 * 1024 + 1, 60 * 1024 * 1024])
def test_a_chunk_onedrive_refuses_is_refused_before_anything_is_sent(chunk):
    with pytest.raises(HdriveError, match="chunk_mib"):
        check_chunk(chunk)


def test_sealed_urls_open_only_with_their_key(tmp_path: Path):
    url = "https://tenant/_upload/abc?tempauth=secret"
    sealed = Sealer(tmp_path).seal(url)
    assert "secret" not in sealed
    assert Sealer(tmp_path).unseal(sealed) == url
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / KEY_FILE).unlink()
    assert Sealer(tmp_path).unseal(sealed) is None  # a lost key: the file starts again


def recorded_codes() -> set[str]:
    """Every reason code the engine's source can record: the second argument of an
    Outcome("failed", ...) or of a REFUSE, and what failure_code and block_reason return."""
    codes: set[str] = set()
    for path in Path(engine_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            called = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Outcome"
            if called and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                codes.add(node.args[1].value)
            if isinstance(node, ast.Tuple) and len(node.elts) > 1:
                first = node.elts[0]
                if isinstance(first, ast.Attribute) and first.attr == "REFUSE":
                    codes.add(node.elts[1].value)
            if isinstance(node, ast.FunctionDef) and node.name in ("failure_code", "block_reason"):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Constant):
                        codes.add(inner.value.value)
                    if isinstance(inner, ast.IfExp):
                        codes |= {inner.body.value, inner.orelse.value}
    return codes


def test_every_code_the_engine_records_has_an_explanation_and_a_fix():
    codes = recorded_codes()
    assert {"changed-during-migration", "hash-mismatch", "no-onedrive", "quota-full"} <= codes
    assert codes <= set(REASONS)
    for code in REASONS:
        assert REASONS[code].explanation and fix_for(code)


valid_names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300).filter(
    lambda name: "/" not in name and not naming.name_problems(name)
)
TAG = len(PARTIAL_PREFIX) + 8  # the prefix and 8 hex digits


@given(valid_names, st.integers(1, 399))
def test_a_temporary_name_is_valid_new_each_time_and_fits_the_path_limit(name, depth):
    folder = ("H Drive/" + "f" * depth)[:depth]
    target = f"{folder}/{name}"
    if naming.path_too_long(target):
        return
    partial = partial_name(name, target)
    assert partial.startswith(PARTIAL_PREFIX) and not naming.name_problems(partial)
    assert partial != partial_name(name, target)
    if len(folder) + 1 + TAG <= naming.MAX_PATH_CHARACTERS:
        assert not naming.path_too_long(f"{folder}/{partial}")
    if not naming.path_too_long(f"{folder}/{partial[:TAG]} {name}"):
        assert partial[TAG:] == f" {name}"  # all of the name, when it fits


def test_disclosures_count_what_each_user_sent_and_never_name_a_file():
    from hdrive_migrate.migrate.run import disclosures

    rows = [
        ("a@x.test", "migrated", "Personal working files", 3, 300),
        ("a@x.test", "renamed", None, 1, 50),
        ("a@x.test", "skipped-identical", "Personal working files", 2, 20),
        ("a@x.test", "failed", None, 1, 10),
        ("b@x.test", "blocked", None, 4, 40),
    ]
    found = disclosures(7, rows)
    assert found["a@x.test"] == {
        "run": 7,
        "uploaded_files": 4,
        "uploaded_bytes": 350,
        "identical_files": 2,
        "failed_files": 1,
        "blocked_files": 0,
        "labels_applied": {"Personal working files": 3},
    }
    assert found["b@x.test"]["blocked_files"] == 4
    assert found["b@x.test"]["uploaded_files"] == 0
