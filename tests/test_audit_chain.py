"""The tamper-evident audit log: every entry holds the hash of the one before, so `audit
verify` finds an entry edited, removed, inserted or moved (the database edited directly, as
someone with the file would), names the first bad one, and two processes writing at once
still make one chain. Migration 5 chains a log written before the chain existed."""

import itertools
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from hdrive_migrate.cli import main
from hdrive_migrate.config import Auth, Config, GraphSettings
from hdrive_migrate.report.audit import verify_chain
from hdrive_migrate.store import migrate, open_store, record_event, transaction
from hdrive_migrate.store.chain import GENESIS, event_hash
from hdrive_migrate.store.migrations import MIGRATIONS
from hdrive_migrate.workspace import create_workspace

START = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)
ACTIONS = ["scan", "plan", "status.viewed", "review.imported", "disposal.approved"]


@pytest.fixture
def ws(tmp_path) -> Path:
    """A workspace whose log holds its creation and ten more entries."""
    homes = tmp_path / "homes"
    homes.mkdir()
    settings = Config(
        source_root=str(homes), graph=GraphSettings(url="http://127.0.0.1:9/v1.0", auth=Auth.LOCAL)
    )
    workspace = tmp_path / "ws"
    opened = create_workspace(workspace, settings)
    for number in range(10):
        record_event(
            opened.db,
            ACTIONS[number % len(ACTIONS)],
            f"user{number}@contoso.test",
            {"files": number, "name": "Siân's =notes"},
            actor=f"operator{number % 3}",
            at=START + timedelta(minutes=number),
        )
    opened.close()
    return workspace


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    return caught.value.code, out, err


def verify(ws: Path, capsys) -> tuple[int, str]:
    code, out, err = run(["audit", "verify", "-w", str(ws)], capsys)
    assert err == ""
    return code, out


def tamper(ws: Path, *statements: tuple) -> None:
    """Run STATEMENTS on the workspace's database as someone editing the file would: the
    append-only triggers dropped first, as they must be."""
    with sqlite3.connect(ws / "state.db") as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        for sql, *params in statements:
            conn.execute(sql, params)


def entry(ws: Path, event_id: int) -> tuple:
    with sqlite3.connect(ws / "state.db") as conn:
        return conn.execute("SELECT at, action FROM events WHERE id = ?", [event_id]).fetchone()


def named(ws: Path, event_id: int) -> str:
    """How verify names an entry of the log as it is now."""
    at, action = entry(ws, event_id)
    return f"audit log entry {event_id} ({at}, {action}): "


def test_an_intact_log_verifies_with_its_count_and_span(ws, capsys):
    code, out = verify(ws, capsys)
    with sqlite3.connect(ws / "state.db") as conn:
        (first, last) = conn.execute("SELECT MIN(at), MAX(at) FROM events").fetchone()
    assert code == 0
    assert out == f"audit log intact: 11 entries, {first} to {last}\n"


def test_an_edited_entry_is_named(ws, capsys):
    tamper(ws, ("UPDATE events SET detail = '{\"files\": 0}' WHERE id = 5",))
    code, out = verify(ws, capsys)
    assert code == 1
    assert out.startswith(named(ws, 5) + "its contents do not match its hash")
    assert out.count("\n") == 1 and ". Fix: " in out


@pytest.mark.parametrize("column", ["at", "actor", "action", "subject"])
def test_an_edit_of_any_column_is_found(ws, capsys, column):
    tamper(ws, (f"UPDATE events SET {column} = {column} || 'x' WHERE id = 7",))
    code, out = verify(ws, capsys)
    assert (code, out.startswith(named(ws, 7))) == (1, True)


def test_a_deleted_entry_is_found_at_the_entry_after_it(ws, capsys):
    tamper(ws, ("DELETE FROM events WHERE id = 4",))
    code, out = verify(ws, capsys)
    assert code == 1
    assert out.startswith(named(ws, 5) + "it does not follow entry 3")


def test_deleting_the_first_entry_is_found(ws, capsys):
    tamper(ws, ("DELETE FROM events WHERE id = 1",))
    code, out = verify(ws, capsys)
    assert out.startswith(named(ws, 2) + "it does not follow the start of the log")
    assert code == 1


def test_entries_removed_from_the_end_are_found(ws, capsys):
    tamper(ws, ("DELETE FROM events WHERE id >= 10",))
    code, out = verify(ws, capsys)
    assert code == 1
    assert out.startswith(named(ws, 9) + "the log ends here, but entry 11 was written")


def test_an_inserted_entry_is_named(ws, capsys):
    # Made to look like its neighbours: a copy of entry 6 with a new time, put after entry 5
    # by moving the later entries up one.
    tamper(
        ws,
        ("UPDATE events SET id = id + 100 WHERE id > 5",),
        ("UPDATE events SET id = id - 99 WHERE id > 100",),
        (
            "INSERT INTO events(id, at, actor, action, subject, detail, prev_hash, hash)"
            " SELECT 6, '2025-06-03T09:04:30.000+00:00', actor, action, subject, detail,"
            " prev_hash, hash FROM events WHERE id = 7",
        ),
    )
    code, out = verify(ws, capsys)
    assert code == 1
    assert out.startswith(named(ws, 6))


def test_an_entry_added_at_the_end_with_a_correct_hash_is_found(ws, capsys):
    with sqlite3.connect(ws / "state.db") as conn:
        last_hash = conn.execute("SELECT hash FROM events WHERE id = 11").fetchone()[0]
    fields = (12, "2025-06-04T00:00:00.000+00:00", "someone", "scan", "x@contoso.test", "{}")
    forged = event_hash(fields, last_hash)
    tamper(
        ws,
        (
            "INSERT INTO events(id, at, actor, action, subject, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            *fields,
            last_hash,
            forged,
        ),
    )
    code, out = verify(ws, capsys)
    assert code == 1
    assert out.startswith(named(ws, 12) + "the last entry hdrive-migrate wrote is 11")


def test_two_swapped_entries_are_found_at_the_first(ws, capsys):
    tamper(
        ws,
        ("UPDATE events SET id = -1 WHERE id = 3",),
        ("UPDATE events SET id = 3 WHERE id = 4",),
        ("UPDATE events SET id = 4 WHERE id = -1",),
    )
    code, out = verify(ws, capsys)
    assert code == 1
    assert out.startswith(named(ws, 3))


def test_swapped_contents_keeping_the_ids_are_found(ws, capsys):
    columns = "at, actor, action, subject, detail, prev_hash, hash"
    with sqlite3.connect(ws / "state.db") as conn:
        three = conn.execute(f"SELECT {columns} FROM events WHERE id = 3").fetchone()
        eight = conn.execute(f"SELECT {columns} FROM events WHERE id = 8").fetchone()
    assign = ", ".join(f"{column} = ?" for column in columns.split(", "))
    tamper(
        ws,
        (f"UPDATE events SET {assign} WHERE id = 3", *eight),
        (f"UPDATE events SET {assign} WHERE id = 8", *three),
    )
    code, out = verify(ws, capsys)
    assert (code, out.startswith(named(ws, 3))) == (1, True)


def test_the_tool_itself_cannot_change_or_delete_an_entry(ws):
    db = open_store(ws / "state.db")
    for sql in ("UPDATE events SET actor = 'x' WHERE id = 2", "DELETE FROM events WHERE id = 2"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), transaction(db):
            db.execute(sql)
    db.close()


def test_an_event_written_inside_a_transaction_is_chained_and_rolled_back_with_it(ws):
    db = open_store(ws / "state.db")
    with pytest.raises(RuntimeError), transaction(db):
        record_event(db, "plan", "run 9", {"users": 1})
        raise RuntimeError("the plan failed")
    with transaction(db):
        record_event(db, "plan", "run 10", {"users": 1})
    verdict = verify_chain(db)
    db.close()
    assert (verdict.broken, verdict.entries) == (None, 12)


# --- two processes writing at once ------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    from hdrive_migrate.store import open_store, record_event
    db = open_store(sys.argv[1], lock_timeout=60)
    while time.time() < float(sys.argv[3]):
        pass
    for number in range(int(sys.argv[4])):
        record_event(db, "test.write", sys.argv[2], {"n": number})
    db.close()
    """
)


def test_two_processes_writing_at_once_keep_one_valid_chain(ws):
    start, count = time.time() + 1.5, 150
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(ws / "state.db"), name, str(start), str(count)]
        )
        for name in ("first", "second")
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    db = open_store(ws / "state.db")
    verdict = verify_chain(db)
    subjects = [row[0] for row in db.execute("SELECT subject FROM events WHERE id > 11")]
    db.close()
    assert verdict.broken is None and verdict.entries == 11 + 2 * count
    assert sorted(set(subjects)) == ["first", "second"]
    # Interleaved, so the writers really did contend for the chain's head.
    changes = sum(1 for a, b in itertools.pairwise(subjects) if a != b)
    assert changes >= 1


# --- migration 5 ------------------------------------------------------------------------


def test_migration_5_chains_a_log_written_before_the_chain(tmp_path, capsys):
    path = tmp_path / "state.db"
    old = Database(path)
    migrate(old, MIGRATIONS[:4])
    rows = [
        {
            "at": (START + timedelta(seconds=n)).isoformat(timespec="milliseconds"),
            "actor": "old-operator",
            "action": "scan",
            "subject": f"u{n}@contoso.test",
            "detail": json.dumps({"files": n}),
        }
        for n in range(5)
    ]
    old["events"].insert_all(rows)
    old.close()
    db = open_store(path)
    chained = list(db.execute("SELECT id, prev_hash, hash FROM events ORDER BY id"))
    head = db.execute("SELECT id, hash FROM events_head").fetchone()
    assert verify_chain(db).broken is None
    record_event(db, "status.viewed", "u1@contoso.test", actor="operator")
    verdict = verify_chain(db)
    db.close()
    assert [row[0] for row in chained] == [1, 2, 3, 4, 5]
    assert chained[0][1] == GENESIS
    assert all(chained[n][1] == chained[n - 1][2] for n in range(1, 5))
    assert head == (5, chained[-1][2])
    assert (verdict.broken, verdict.entries) == (None, 6)


def test_migration_5_on_an_empty_log_starts_the_chain(tmp_path):
    db = open_store(tmp_path / "state.db")
    assert db.execute("SELECT id, hash FROM events_head").fetchone() == (0, GENESIS)
    assert verify_chain(db).entries == 0 and verify_chain(db).broken is None
    record_event(db, "scan", "a@contoso.test")
    assert db.execute("SELECT prev_hash FROM events").fetchone()[0] == GENESIS
    db.close()


# --- properties -------------------------------------------------------------------------

texts = st.text(max_size=20)
events = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS),
        texts,
        st.dictionaries(st.sampled_from(["files", "bytes", "note", "names"]), texts, max_size=3),
        st.text(min_size=1, max_size=10),
        st.integers(min_value=0, max_value=10**9),
    ),
    min_size=1,
    max_size=8,
)


def logged(sequence) -> Database:
    db = Database(memory=True)
    migrate(db)
    for action, subject, detail, actor, seconds in sequence:
        at = START + timedelta(seconds=seconds)
        record_event(db, action, subject, detail, actor=actor, at=at)
    return db


@given(events)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_any_sequence_of_events_verifies(sequence):
    verdict = verify_chain(logged(sequence))
    assert (verdict.broken, verdict.entries) == (None, len(sequence))


COLUMNS = ("at", "actor", "action", "subject", "detail", "prev_hash", "hash")


@given(events, st.data())
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_any_single_field_change_is_found_at_that_entry(sequence, data):
    db = logged(sequence)
    target = data.draw(st.integers(min_value=1, max_value=len(sequence)), label="entry")
    column = data.draw(st.sampled_from(COLUMNS), label="column")
    before = db.execute(f"SELECT {column} FROM events WHERE id = ?", [target]).fetchone()[0]
    after = data.draw(st.text(max_size=70).filter(lambda text: text != before), label="value")
    db.execute("DROP TRIGGER events_no_update")
    db.execute(f"UPDATE events SET {column} = ? WHERE id = ?", [after, target])
    broken = verify_chain(db).broken
    assert broken is not None and broken.entry.id == target


@given(events, st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_any_change_of_an_id_is_found(sequence, data):
    db = logged(sequence)
    target = data.draw(st.integers(min_value=1, max_value=len(sequence)), label="entry")
    new_id = data.draw(
        st.integers(min_value=-5, max_value=20).filter(lambda n: not 1 <= n <= len(sequence)),
        label="new id",
    )
    db.execute("DROP TRIGGER events_no_update")
    db.execute("UPDATE events SET id = ? WHERE id = ?", [new_id, target])
    assert verify_chain(db).broken is not None
