"""The SQLite write gate across processes: a writer waits for another process's lock without
polling, gives up at its timeout, and a lock it gave up on is never left held."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from peewee import OperationalError

from models.writegate import WriteGate

HOLDER = """
import fcntl, sys
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


class OtherProcess:
    """Another process holding the gate's file lock until told to let go."""

    def __init__(self, path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def let_go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)


def free_elsewhere(path: str) -> bool:
    """Whether a third process could take the lock right now."""
    probe = (
        "import fcntl, sys\n"
        "f = open(sys.argv[1], 'a')\n"
        "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", probe, path], check=False).returncode == 0


def test_a_writer_waits_for_another_process_and_goes_on_when_it_lets_go(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "db.sqlite"), timeout=60)
    other = OtherProcess(gate.path)
    inside = threading.Event()

    def write() -> None:
        with gate.hold():
            inside.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not inside.wait(0.2)  # still held by the other process
    other.let_go()
    writer.join(timeout=30)
    assert inside.is_set()
    assert free_elsewhere(gate.path)  # and let go again after the write


def test_a_writer_gives_up_at_its_timeout_and_leaves_nothing_held(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "db.sqlite"), timeout=0.2)
    other = OtherProcess(gate.path)
    with pytest.raises(OperationalError, match="write queue timeout"), gate.hold():
        pass
    other.let_go()
    # The helper takes the lock once the other process lets go, finds nobody waiting and frees
    # it: the next writer of this process gets in, and then so does another process.
    gate.timeout = 60
    with gate.hold():
        pass
    assert free_elsewhere(gate.path)


def test_a_writer_after_one_that_gave_up_gets_the_lock_the_helper_takes(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "db.sqlite"), timeout=0.2)
    other = OtherProcess(gate.path)
    with pytest.raises(OperationalError), gate.hold():
        pass
    gate.timeout = 60
    inside = threading.Event()

    def write() -> None:
        with gate.hold():
            inside.set()

    writer = threading.Thread(target=write)  # queued behind the helper's pending flock
    writer.start()
    assert not inside.wait(0.2)
    other.let_go()
    writer.join(timeout=30)
    assert inside.is_set()
    assert free_elsewhere(gate.path)


def test_nested_write_transactions_of_a_thread_pass_the_gate_once(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "db.sqlite"), timeout=60)
    with gate.hold(), gate.hold():
        assert not free_elsewhere(gate.path)
    assert free_elsewhere(gate.path)


def _count(path: str, gate_path: str, rounds: int) -> None:
    gate = WriteGate(gate_path, timeout=60)

    def work() -> None:
        for _ in range(rounds):
            with gate.hold():  # a read-modify-write that loses counts if two overlap
                value = int(Path(path).read_text())
                Path(path).write_text(str(value + 1))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_threads_of_several_processes_never_overlap_inside_the_gate(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    base = str(tmp_path / "db.sqlite")
    WriteGate(base, timeout=60)  # the parent's gate, unused: the children open their own
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_count, args=(str(counter), base, 150)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert int(counter.read_text()) == 3 * 3 * 150


def test_a_forked_child_opens_its_own_lock_and_helper(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "db.sqlite"), timeout=0.2)
    other = OtherProcess(gate.path)
    with pytest.raises(OperationalError), gate.hold():  # the parent's helper now waits
        pass
    other.let_go()
    pid = os.fork()
    if pid == 0:  # the child: the parent's helper thread does not exist here
        code = 1
        try:
            gate.timeout = 30
            with gate.hold():
                fd = os.open(gate.path, os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    code = 2  # a second description got the lock: ours did not hold it
                except BlockingIOError:
                    code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
