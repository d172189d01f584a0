"""`hdrive-migrate tenant check` end to end, against the real local tenant."""

import socket
from pathlib import Path

import pytest

from hdrive_migrate import __version__
from hdrive_migrate.cli import main
from hdrive_migrate.store import open_store

ALICE = ("alice@contoso.test", "Alice Example", "alice", True)
BOB = ("bob@contoso.test", "Bob Example", "bob", False)
CAROL = ("carol@contoso.test", "Carol Example", "carol", True)
FILES_FIX = "application permission Files.ReadWrite.All (or Sites.ReadWrite.All)"


def init_workspace(tmp_path: Path, url: str, capsys) -> Path:
    workspace = tmp_path / "ws"
    args = ["init", str(workspace), "--source", str(tmp_path), "--graph-url", url]
    assert run(capsys, *args, "--auth", "local", "--organisation", "Contoso")[0] == 0
    return workspace


def run(capsys, *args: str) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    assert err == ""
    return caught.value.code, out.splitlines()


def check(capsys, workspace: Path, *args: str) -> tuple[int, dict[str, str]]:
    """Exit code and each check's printed line, by check name."""
    code, lines = run(capsys, "tenant", "check", "-w", str(workspace), *args)
    by_name = {line[2:].split(":", 1)[0]: line for line in lines}
    assert list(by_name) == [
        "reachable",
        "authenticated",
        "read users",
        "read drive",
        "write drive",
    ]
    return code, by_name


def test_all_checks_pass(tenant, tmp_path, capsys):
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    code, lines = check(capsys, workspace)
    assert code == 0
    assert all(line.startswith("✓ ") for line in lines.values())
    assert lines["read drive"] == "✓ read drive: read the OneDrive of alice@contoso.test."
    assert "created and deleted the folder hdrive-migrate-check-" in lines["write drive"]


def test_the_check_folder_is_gone_and_traffic_is_decorated(tenant, tmp_path, capsys):
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    before = len(tenant.requests())  # the tenant is shared: earlier tests sent their own
    check(capsys, workspace, "--user", "carol@contoso.test")
    with tenant.client() as client:
        drive_id = tenant.drive_id("carol@contoso.test")
        children = client.get(f"/drives/{drive_id}/root/children").json()["value"]
    assert not [c for c in children if c["name"].startswith("hdrive-migrate-check-")]
    ours = [r for r in tenant.requests()[before:] if r["user_agent"].startswith("NONISV|")]
    assert {r["method"] for r in ours} >= {"GET", "POST", "DELETE"}
    assert {r["user_agent"] for r in ours} == {f"NONISV|Contoso|hdrive-migrate/{__version__}"}


def test_the_check_is_in_the_audit_log(tenant, tmp_path, capsys):
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    check(capsys, workspace)
    db = open_store(workspace / "state.db")
    (event,) = db["events"].rows_where("action = ?", ["tenant.check"])
    assert event["subject"] == tenant.url
    db.close()


def test_without_a_user_the_first_listed_with_a_onedrive_is_used(tenant_factory, tmp_path, capsys):
    running = tenant_factory(users=[BOB, CAROL])
    code, lines = check(capsys, init_workspace(tmp_path, running.url, capsys))
    assert code == 0
    assert lines["read drive"] == "✓ read drive: read the OneDrive of carol@contoso.test."


def test_missing_files_permission_names_it(tenant_factory, tmp_path, capsys):
    running = tenant_factory(users=[ALICE], app_permissions=frozenset({"User.Read.All"}))
    code, lines = check(capsys, init_workspace(tmp_path, running.url, capsys))
    assert code == 1
    assert lines["read users"].startswith("✓ ")
    assert lines["read drive"].startswith("✗ read drive: Graph answered 403 accessDenied")
    assert lines["write drive"].startswith("✗ write drive: not checked: read drive failed.")
    assert FILES_FIX in lines["write drive"]
    assert "admin consent" in lines["write drive"]


def test_missing_users_permission_names_it(tenant_factory, tmp_path, capsys):
    running = tenant_factory(users=[ALICE], app_permissions=frozenset({"Files.ReadWrite.All"}))
    workspace = init_workspace(tmp_path, running.url, capsys)
    code, lines = check(capsys, workspace)
    assert code == 1
    assert lines["authenticated"].startswith("✓ ")
    assert lines["read users"].startswith("✗ read users: Graph answered 403")
    assert "application permission User.Read.All and grant admin consent" in lines["read users"]
    assert "Fix: pass --user UPN" in lines["read drive"]
    code, lines = check(capsys, workspace, "--user", "alice@contoso.test")
    assert lines["read drive"].startswith("✓ ")
    assert lines["write drive"].startswith("✓ ")


def test_unprovisioned_onedrive_says_so(tenant, tmp_path, capsys):
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    code, lines = check(capsys, workspace, "--user", "bob@contoso.test")
    assert code == 1
    assert lines["read drive"] == (
        "✗ read drive: the OneDrive of bob@contoso.test is not provisioned. Fix: pre-provision "
        "it (SharePoint Online PowerShell: Request-SPOPersonalSite -UserEmails "
        "bob@contoso.test), wait for the queue, then check again"
    )
    assert lines["write drive"].startswith("✗ write drive: not checked: read drive failed.")


def test_unknown_user_says_so(tenant, tmp_path, capsys):
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    code, lines = check(capsys, workspace, "--user", "nobody@contoso.test")
    assert code == 1
    assert lines["read drive"] == (
        "✗ read drive: no user nobody@contoso.test in the tenant. Fix: check the UPN"
    )


def test_unreachable_url(tmp_path, capsys):
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1.0"
    code, lines = check(capsys, init_workspace(tmp_path, url, capsys))
    assert code == 1
    assert lines["reachable"].startswith(f"✗ reachable: cannot reach {url}: ")
    assert lines["reachable"].endswith("Fix: check [graph] url, the network and any proxy")
    assert lines["authenticated"].startswith("✗ authenticated: not checked: reachable failed.")


def with_mailbox(workspace: Path, mailbox: str) -> None:
    settings = (workspace / "hdrive.toml").read_text()
    (workspace / "hdrive.toml").write_text(
        settings.replace('# mailbox = ""', f'mailbox = "{mailbox}"')
    )


def mail_check(capsys, workspace: Path) -> tuple[int, list[str]]:
    code, lines = run(capsys, "tenant", "check", "-w", str(workspace))
    assert [line[2:].split(":", 1)[0] for line in lines][-1] == "send mail"
    return code, lines


def test_with_notices_sending_set_up_mail_send_is_checked_and_nothing_sent(
    tenant_factory, tmp_path, capsys
):
    mailbox = ("it@contoso.test", "IT", "it", False)
    tenant = tenant_factory([ALICE, mailbox])
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    with_mailbox(workspace, "it@contoso.test")
    code, lines = mail_check(capsys, workspace)
    assert code == 0 and lines[-1] == "✓ send mail: the app may send mail as it@contoso.test."
    with tenant.client() as client:
        sent = client.get("/users/it@contoso.test/mailFolders/sentitems/messages").json()
    assert sent["value"] == []


def test_missing_mail_send_names_it(tenant_factory, tmp_path, capsys):
    granted = {"User.Read.All", "Files.ReadWrite.All"}
    tenant = tenant_factory([ALICE], app_permissions=granted)
    workspace = init_workspace(tmp_path, tenant.url, capsys)
    with_mailbox(workspace, "alice@contoso.test")
    code, lines = mail_check(capsys, workspace)
    assert code == 1 and lines[-1].startswith("✗ send mail: Graph answered 403")
    assert "application permission Mail.Send" in lines[-1]
