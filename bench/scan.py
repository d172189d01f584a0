"""Scanner speed and memory, each beside a baseline measured in the same run.

On a generated tree of home drives (default 200,000 files over 50 users):
- local path: `hdrive-migrate scan` against `find ROOT -printf '%s %T@ %p\\n'`
  (goal: half find's rate)
- SMB on loopback (a real Samba server): `hdrive-migrate scan` against
  `smbclient -c 'recurse ON; ls'` on the same share (goal: faster than smbclient)
- peak memory of the scan at 200,000 and at 1,000,000 files (goal: flat, under 200 MB)

    python bench/scan.py [--files 200000] [--users 50] [--large-files 1000000]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import pytest  # noqa: E402

from hometree import make_tree  # noqa: E402
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


def run_child(command: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stdout), measuring only this child with wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command[:3])} failed: {stderr.decode()[-2000:]}")
    return seconds, usage.ru_maxrss * 1024, stdout.decode()


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


def scan_once(folder: Path, source: str, users: list[str], env=None) -> tuple[float, int]:
    ws = workspace(folder, source, users, env)
    seconds, rss, _ = run_child([str(BIN), "scan", "-w", str(ws)], env=env)
    return seconds, rss


def local_figures(root: Path, users: list[str], entries: int, work: Path) -> dict:
    subprocess.run(["find", str(root), "-printf", "%s %T@ %p\n"], stdout=subprocess.DEVNULL)
    find_seconds, _, _ = run_child(["find", str(root), "-printf", "%s %T@ %p\n"])
    scan_seconds, rss = scan_once(work / "local", str(root), users)
    return {"find": entries / find_seconds, "scan": entries / scan_seconds, "rss": rss}


def smb_figures(root: Path, users: list[str], entries: int, work: Path) -> dict:
    try:
        with samba_share(root) as share:
            return smb_figures_from(share, users, entries, work)
    except pytest.fail.Exception as failure:  # samba.py reports a failed start this way
        sys.exit(f"bench/scan.py: the Samba server did not start: {failure}")


def smb_figures_from(share, users: list[str], entries: int, work: Path) -> dict:
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
    client_seconds, _, _ = run_child(smbclient)
    env = {**os.environ, "HDRIVE_SMB_USER": share.user, "HDRIVE_SMB_PASSWORD": share.password}
    scan_seconds, _ = scan_once(work / "smb", share.url, users, env=env)
    return {"smbclient": entries / client_seconds, "scan": entries / scan_seconds}


def memory_at(files: int, users: int, work: Path) -> int:
    root = work / f"tree{files}"
    names = make_tree(root, files, users)
    _, rss = scan_once(work / f"mem{files}", str(root), names)
    return rss


def print_local(local: dict) -> None:
    share = local["scan"] / local["find"]
    print(
        f"local path   hdrive-migrate scan {local['scan']:>10,.0f} entries/s   "
        f"find -printf   {local['find']:>10,.0f} entries/s   "
        f"({share:.0%} of find; goal at least 50%: {verdict(share >= 0.5)})",
        flush=True,
    )


def print_smb(smb: dict) -> None:
    share = smb["scan"] / smb["smbclient"]
    print(
        f"SMB loopback hdrive-migrate scan {smb['scan']:>10,.0f} entries/s   "
        f"smbclient ls   {smb['smbclient']:>10,.0f} entries/s   "
        f"({share:.0%} of smbclient; goal above 100%: {verdict(share > 1)})",
        flush=True,
    )


def print_memory(files: int, rss: int, large_files: int, large_rss: int) -> None:
    met = max(rss, large_rss) < MEMORY_GOAL and large_rss <= rss * FLAT_GROWTH
    print(
        f"peak memory  {files:,} files: {rss / 1e6:.0f} MB   "
        f"{large_files:,} files: {large_rss / 1e6:.0f} MB   "
        f"(goal: flat, at most {FLAT_GROWTH}x, and under {MEMORY_GOAL / 1e6:.0f} MB: "
        f"{verdict(met)})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--large-files",
        type=int,
        default=1_000_000,
        help="files in the second tree, for the memory figure",
    )
    args = parser.parse_args()
    check_tools()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        work = Path(folder)
        os.chmod(work, 0o755)  # Samba reads the tree as an unprivileged user
        root = work / "homes"
        users = make_tree(root, args.files, args.users)
        entries = count_entries(root)
        print(f"scanner: {args.files:,} files over {args.users} users ({entries:,} entries)")
        local = local_figures(root, users, entries, work)
        print_local(local)
        print_smb(smb_figures(root, users, entries, work))
        large_rss = memory_at(args.large_files, args.users, work)
        print_memory(args.files, local["rss"], args.large_files, large_rss)


if __name__ == "__main__":
    main()
