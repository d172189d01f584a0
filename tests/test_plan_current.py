"""plan.current: the two SQL forms of a user's effective decisions give the same rows."""

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from hdrive_migrate.plan.current import EFFECTIVE_SQL, EVERY_EFFECTIVE_SQL
from hdrive_migrate.store import migrate

UPNS = ("alice@x.test", "bob@x.test")
PATHS = ("a.txt", "b/c.docx", "B/c.docx", "d.pst")
RUNS = (1, 2)

reviews = st.lists(
    st.tuples(
        st.sampled_from(RUNS),
        st.sampled_from(UPNS),
        st.sampled_from(PATHS),
        st.sampled_from(("migrate", "exclude", "review")),
    ),
    max_size=12,
)


def _store(current: dict[str, int], recorded: list[tuple]) -> Database:
    db = Database(memory=True)
    migrate(db)
    for run in RUNS:
        db.execute(
            "INSERT INTO plan_runs(id, policy_id, policy_version, policy_sha256, policy_file,"
            " policy_labels, policy_approved_by, target_folder, as_of, tool_version, started_at,"
            " status) VALUES (?, 'p', '1', 's', 'f', '[]', '[]', 'Home', '2026-01-01', '0', '',"
            " 'complete')",
            [run],
        )
        db.execute(
            "INSERT INTO plan_rules VALUES (?, 0, 'R1', 'rule', 'migrate', 'L', 'keep')", [run]
        )
        for upn in UPNS:
            for path in PATHS:
                db.execute(
                    "INSERT INTO decisions VALUES (?, ?, ?, 'migrate', 0, 1, NULL, NULL)",
                    [run, upn, path],
                )
    for upn, run in current.items():
        db.execute("INSERT INTO plan_users VALUES (?, ?)", [upn, run])
    db.conn.executemany(
        "INSERT INTO reviews(run_id, upn, path, decision, label, note, reviewer, source_file,"
        " source_line, at) VALUES (?, ?, ?, ?, NULL, NULL, 'R', 'r.csv', 1, '')",
        recorded,
    )
    return db


@settings(max_examples=60)
@given(st.fixed_dictionaries({upn: st.sampled_from(RUNS) for upn in UPNS}), reviews)
def test_every_effective_decision_is_as_the_file_by_file_form_gives_it(current, recorded):
    db = _store(current, recorded)
    for upn in (*UPNS, UPNS[0].upper()):
        by_file = db.execute(f"{EFFECTIVE_SQL} ORDER BY d.path", {"upn": upn}).fetchall()
        every = db.execute(f"{EVERY_EFFECTIVE_SQL} ORDER BY d.path", {"upn": upn}).fetchall()
        assert every == by_file
        assert len(every) == len(PATHS)
