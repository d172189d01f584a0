"""The wall time and peak memory of one command and the processes it starts, measured from a
small process of their own.

Linux carries a process's peak resident size across fork and exec: a child forked (or
vforked) from a bench that has just generated a million records reports the bench's size as
its own peak. So the command is started from this module run as a fresh interpreter, a few
megabytes in size, which times it and reads its peak with wait4.

    seconds, peak_bytes, stdout, stderr = run_measured(command, env=...)
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def run_measured(
    command: list[str], *, env: dict | None = None, keep_stdout: bool = True
) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS in bytes, stdout, stderr) of COMMAND; a failed command ends the
    bench with the end of its stderr. Without KEEP_STDOUT its output goes to /dev/null (find's
    over a million files need not be stored)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        stdout = out if keep_stdout else subprocess.DEVNULL
        seconds, peak, code = measured(command, stdout=stdout, stderr=err, env=env)
        out.seek(0)
        err.seek(0)
        errors = err.read()
        if code != 0:
            sys.exit(f"bench: {' '.join(command[:3])} failed: {errors.strip()[-2000:]}")
        return seconds, peak, out.read(), errors


def measured(command: list[str], **popen) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in bytes, exit code) of COMMAND, run with POPEN's arguments
    (stdout, stderr, env) from a small launcher; its figures come back on a pipe of their own."""
    read_end, write_end = os.pipe()
    launcher = [sys.executable, __file__, str(write_end), *command]
    with subprocess.Popen(launcher, pass_fds=(write_end,), **popen) as process:
        os.close(write_end)
        with os.fdopen(read_end) as figures:
            report = figures.read()
    if not report:
        sys.exit(f"bench: the launcher for {' '.join(command[:3])} failed ({process.returncode})")
    seconds, peak, code = json.loads(report)
    return seconds, peak, code


def _launch(write_end: int, command: list[str]) -> None:
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    with os.fdopen(write_end, "w") as figures:
        json.dump([seconds, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)], figures)


if __name__ == "__main__":
    _launch(int(sys.argv[1]), sys.argv[2:])
