"""Worker pools leave nothing running when the process that owns them dies."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

OWNER = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from generation.pools import process_pool
pool = process_pool(2)
assert sorted(pool.map(abs, [-1, -2, -3])) == [1, 2, 3]
print("ready", flush=True)
os.kill(os.getpid(), signal.SIG{how})
"""


def _session_members(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":  # fields: state, ppid, pgrp, sid
                members.append(int(entry.name))
    return members


def _left_running_after(how: str) -> list[int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER.format(repo=str(REPO), how=how)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its session holds the pool's forkserver and workers
    )
    assert owner.stdout.readline().strip() == "ready"
    owner.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _session_members(owner.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _session_members(owner.pid)
    for pid in left:  # leave nothing behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    return left


def test_a_killed_owner_leaves_no_pool_worker_running():
    assert _left_running_after("KILL") == []


def test_an_owner_that_ends_without_shutting_its_pool_leaves_no_worker_running():
    assert _left_running_after("TERM") == []
