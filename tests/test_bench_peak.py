"""bench/peak.py: the peak memory a benchmark prints is the command's own, not that of the
large process that started it (Linux carries a peak across fork and exec)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
MIB = 1024 * 1024
# A parent of this size, starting a command of a few MiB, shows the difference beyond doubt.
PARENT_BYTES = 300 * MIB
COMMAND_BYTES = 60 * MIB

MEASURE = f"""
import subprocess, sys
sys.path.insert(0, {str(BENCH)!r})
from peak import measured
ballast = bytearray({PARENT_BYTES})
ballast[::4096] = b"x" * len(ballast[::4096])  # touched, so resident
grow = "b = bytearray({COMMAND_BYTES}); b[::4096] = b'x' * len(b[::4096])"
for command in (["true"], [sys.executable, "-c", grow], ["sh", "-c", "exit 3"]):
    seconds, peak, code = measured(command, stdout=subprocess.DEVNULL)
    print(seconds, peak, code)
"""


def test_a_command_started_by_a_large_bench_reports_its_own_peak():
    done = subprocess.run(
        [sys.executable, "-c", MEASURE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    true, grown, failed = (line.split() for line in done.stdout.splitlines())
    # `true` is tiny: its peak is the launcher's few MiB, far from the parent's 300.
    assert 0 < float(true[0]) < 10 and int(true[1]) < 40 * MIB and true[2] == "0"
    assert COMMAND_BYTES <= int(grown[1]) < PARENT_BYTES
    assert failed[2] == "3"
