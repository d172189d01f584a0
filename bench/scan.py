"""Scanner speed and memory, each beside a baseline measured in the same run.

Whole commands, start-up included, on generated trees of home drives (default 100,000 files
over 40 users, then 1,000,000 files over as many users):
- local path: `hdrive-migrate scan` against `find ROOT -printf '%s %T@ %p\\n'` on the same warm
  tree, on both trees (goal: at least half find's rate)
- SMB on loopback (a real Samba server), on the first tree: `hdrive-migrate scan` against
  `smbclient -c 'recurse ON; ls'` on the same share (goal: at least smbclient's rate)
- peak memory of the scan on both trees (goal: flat, under 200 MB at 1,000,000 files)

The large tree takes a few GB of (sparse) disk under BENCH_DIR or /tmp; it is removed as soon
as it is measured.

    python bench/scan.py [--files 100000] [--users 40] [--large-files 1000000] [--listers N]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import pytest  # noqa: E402

from hometree import make_tree  # noqa: E402
from peak import run_measured  # noqa: E402
from samba import samba_share  # noqa: E402

BIN = Path(sys.executable).parent / "hdrive-migrate"
# Each tool the baselines and the Samba server need, and the Debian package that provides it.
TOOLS = {"find": "findutils", "smbd": "samba", "pdbedit": "samba", "smbclient": "smbclient"}
MEMORY_GOAL = 200e6
# "Flat": five times the files may cost at most this much more peak memory.
FLAT_GROWTH = 1.25


def check_tools() -> None:
    """Stop before any measuring when a tool is missing, rather than after minutes of it."""
    if not BIN.exists():
        sys.exit(f"bench/scan.py: {BIN} is missing. Fix: run `make bench`, which sets up .venv")
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/usr/bin") is None:
            sys.exit(
                f"bench/scan.py: {tool} is not installed. "
                f"Fix: apt-get install -y {package} (or run scripts/install-deps.sh as root)"
            )


def verdict(met: bool) -> str:
    return "goal met" if met else "goal NOT met"


def run_child(command: list[str], env: dict | None = None) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of COMMAND and its processes, its output not kept."""
    seconds, peak, _, _ = run_measured(command, env=env, keep_stdout=False)
    return seconds, peak


def count_entries(root: Path) -> int:
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(root))


def workspace(folder: Path, source: str, users: list[str], env: dict | None) -> Path:
    ws = folder / "ws"
    subprocess.run(
        [
            str(BIN),
            "init",
            str(ws),
            "--source",
            source,
            "--graph-url",
            "http://127.0.0.1:9/v1.0",
            "--auth",
            "local",
        ],
        check=True,
        capture_output=True,
    )
    csv = folder / "users.csv"
    csv.write_text("folder,upn\n" + "".join(f"{u},{u}@bench.test\n" for u in users))
    subprocess.run(
        [str(BIN), "users", "import", str(csv), "-w", str(ws)],
        check=True,
        capture_output=True,
        env=env,
    )
    return ws


def scan_once(
    folder: Path, source: str, users: list[str], listers: list[str], env=None
) -> tuple[float, int]:
    ws = workspace(folder, source, users, env)
    seconds, rss = run_child([str(BIN), "scan", *listers, "-w", str(ws)], env=env)
    return seconds, rss


def local_figures(root: Path, users: list[str], work: Path, listers: list[str]) -> dict:
    """Rates of find and of the scan on ROOT, warm (find runs once before it is timed)."""
    entries = count_entries(root)
    subprocess.run(["find", str(root), "-printf", "%s %T@ %p\n"], stdout=subprocess.DEVNULL)
    find_seconds, _ = run_child(["find", str(root), "-printf", "%s %T@ %p\n"])
    scan_seconds, rss = scan_once(work, str(root), users, listers)
    return {"find": entries / find_seconds, "scan": entries / scan_seconds, "rss": rss}


def smb_figures(root: Path, users: list[str], work: Path, listers: list[str]) -> dict:
    try:
        with samba_share(root) as share:
            return smb_figures_from(share, users, count_entries(root), work, listers)
    except pytest.fail.Exception as failure:  # samba.py reports a failed start this way
        sys.exit(f"bench/scan.py: the Samba server did not start: {failure}")


def smb_figures_from(share, users: list[str], entries: int, work: Path, listers: list[str]) -> dict:
    smbclient = [
        "smbclient",
        f"//{share.host}/{share.share}",
        "-p",
        str(share.port),
        "-U",
        f"{share.user}%{share.password}",
        "-c",
        "recurse ON; ls",
    ]
    client_seconds, _ = run_child(smbclient)
    env = {**os.environ, "HDRIVE_SMB_USER": share.user, "HDRIVE_SMB_PASSWORD": share.password}
    scan_seconds, _ = scan_once(work / "smb", share.url, users, listers, env=env)
    return {"smbclient": entries / client_seconds, "scan": entries / scan_seconds}


def print_local(files: int, local: dict) -> None:
    share = local["scan"] / local["find"]
    print(
        f"local path   {files:>9,} files  hdrive-migrate scan {local['scan']:>10,.0f} entries/s"
        f"   find -printf {local['find']:>10,.0f} entries/s   "
        f"({share:.2f}x find; goal at least 0.5x: {verdict(share >= 0.5)})",
        flush=True,
    )


def print_smb(files: int, smb: dict) -> None:
    share = smb["scan"] / smb["smbclient"]
    print(
        f"SMB loopback {files:>9,} files  hdrive-migrate scan {smb['scan']:>10,.0f} entries/s"
        f"   smbclient ls {smb['smbclient']:>10,.0f} entries/s   "
        f"({share:.2f}x smbclient; goal at least 1.0x: {verdict(share >= 1)})",
        flush=True,
    )


def print_memory(files: int, rss: int, large_files: int, large_rss: int) -> None:
    met = large_rss < MEMORY_GOAL and large_rss <= rss * FLAT_GROWTH
    print(
        f"peak memory  {files:,} files: {rss / 1e6:.0f} MB   "
        f"{large_files:,} files: {large_rss / 1e6:.0f} MB   "
        f"(goal: flat, at most {FLAT_GROWTH}x, and under {MEMORY_GOAL / 1e6:.0f} MB: "
        f"{verdict(met)})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument(
        "--large-files", type=int, default=1_000_000, help="files in the second, local tree"
    )
    parser.add_argument(
        "--listers", type=int, help="passed to `scan --listers` (default: the scan's own)"
    )
    args = parser.parse_args()
    listers = ["--listers", str(args.listers)] if args.listers else []
    check_tools()
    print(f"scanner on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        work = Path(folder)
        os.chmod(work, 0o755)  # Samba reads the tree as an unprivileged user
        root = work / "homes"
        users = make_tree(root, args.files, args.users)
        local = local_figures(root, users, work / "local", listers)
        print_local(args.files, local)
        print_smb(args.files, smb_figures(root, users, work, listers))
        shutil.rmtree(root)
        large = work / "large"
        users = make_tree(large, args.large_files, args.users)
        large_local = local_figures(large, users, work / "local-large", listers)
        shutil.rmtree(large)
        print_local(args.large_files, large_local)
        print_memory(args.files, local["rss"], args.large_files, large_local["rss"])


if __name__ == "__main__":
    main()
