"""A newcomer's first hour: the package check `make` and .ci/run share, and a benchmark that
stops at once, in one line, when a tool it needs is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_DEPS = ROOT / "scripts" / "install-deps.sh"


def install_deps(purpose: str, *, python: str, unprivileged: bool) -> subprocess.CompletedProcess:
    """Run the script; UNPRIVILEGED runs it as `nobody` when we are root, so that it must tell
    what to run rather than run apt-get."""
    command = [str(INSTALL_DEPS), purpose]
    if unprivileged and os.geteuid() == 0:
        command = ["su", "nobody", "-s", "/bin/bash", "-c", " ".join(command)]
    env = {**os.environ, "PYTHON": python}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_nothing_missing_is_silent():
    # make test has installed everything by now, so this never reaches apt-get.
    result = install_deps("test", python=sys.executable, unprivileged=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_missing_package_gives_the_exact_apt_get_line_without_root():
    result = install_deps("build", python="/nonexistent/python3", unprivileged=True)
    assert result.returncode == 1
    assert "Missing packages: python3-dev python3-venv" in result.stderr
    assert "sudo apt-get install -y python3-dev python3-venv" in result.stderr


def test_the_scan_benchmark_names_a_missing_tool_and_its_package_before_measuring(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import scan

    monkeypatch.setitem(scan.TOOLS, "smbclient-not-installed", "smbclient")
    with pytest.raises(SystemExit) as stopped:
        scan.check_tools()
    assert str(stopped.value) == (
        "bench/scan.py: smbclient-not-installed is not installed. "
        "Fix: apt-get install -y smbclient (or run scripts/install-deps.sh as root)"
    )
