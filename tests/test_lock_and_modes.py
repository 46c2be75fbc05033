"""The bench lock and the results files between users and against tampering.

Between users: the operator (``pi``) and the service user (``rig``) share the ``rig`` group; whichever takes
the lock first, the other can take it next, and each can read what the other's runs wrote. These tests run
other users as real processes (root here, as in CI: ``setuid`` to uids that exist nowhere else) and skip when
not root. Tampering: a symlink, a FIFO or a hard link where the lock file should be is refused (exit 2), the
symlink's target untouched.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import rig_cli

from rig.errors import RigError
from rig.lock import LOCK_FILE_MODE, BenchLock
from rig.results.writer import make_run_dir, write_csv_atomic, write_json_atomic

GROUP = 54321  # the shared group ('rig' on the Pi)
OPERATOR, SERVICE, OUTSIDER = 54001, 54002, 54003  # 'pi' and 'rig' are in the group, the outsider is not
root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                               reason="running as other users needs root (as in CI)")

# started as root, then becomes the user (the interpreter may sit where other users cannot reach it, e.g. /root)
TAKE_LOCK = """
import os, sys
import rig.results.writer
from rig.errors import RigError
from rig.lock import BenchLock
uid, *groups = map(int, sys.argv[2:])
os.setgroups(groups)
os.setgid(groups[0])
os.setuid(uid)
os.umask(0o022)
try:
    with BenchLock(sys.argv[1]):
        print("locked")
except RigError as error:
    print("refused:", error)
"""


def as_user(uid: int, groups: list[int], args: list[str]) -> subprocess.CompletedProcess:
    """Run ``args`` as ``uid`` with primary group ``groups[0]`` and umask 022 (a login's default)."""
    def become() -> None:
        os.setgroups(groups)
        os.setgid(groups[0])
        os.setuid(uid)
        os.umask(0o022)

    return subprocess.run(args, capture_output=True, text=True, timeout=60, preexec_fn=become,
                          env={**os.environ, "HOME": "/nonexistent"})


def take_lock_as(uid: int, groups: list[int], path) -> str:
    done = subprocess.run([sys.executable, "-c", TAKE_LOCK, str(path), str(uid), *map(str, groups)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def shared_tmp():
    """A temporary folder other users can reach (pytest's own is under a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="rig-users-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def lock_dir(shared_tmp):
    """/run/lock/rig as the tmpfiles.d entry makes it: root, group 'rig', 2770."""
    folder = shared_tmp / "lock"
    folder.mkdir()
    os.chown(folder, 0, GROUP)
    os.chmod(folder, 0o2770)
    return folder


@root_only
def test_the_lock_one_group_member_made_is_taken_by_the_next_and_refused_to_outsiders(lock_dir):
    path = lock_dir / "i2c1-gpio17.lock"
    assert take_lock_as(OPERATOR, [1000 + OPERATOR, GROUP], path) == "locked"  # 'pi' runs rig check first
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (OPERATOR, GROUP, 0o660)
    assert take_lock_as(SERVICE, [GROUP], path) == "locked"  # then the service takes it: same group, 0660
    assert take_lock_as(OUTSIDER, [OUTSIDER], path).startswith("refused: cannot create the bench lock")


@root_only
def test_a_held_lock_is_refused_to_another_group_member_naming_the_holder(lock_dir):
    path = lock_dir / "i2c1-gpio17.lock"
    with BenchLock(path):  # root holds the bench; its file is 0660 in the folder's group whatever root's umask
        assert stat.S_IMODE(path.stat().st_mode) == LOCK_FILE_MODE and path.stat().st_gid == GROUP
        answer = take_lock_as(SERVICE, [GROUP], path)
    assert answer.startswith("refused: the bench is in use by another rig process (pid")


@root_only
def test_an_old_lock_file_the_group_cannot_write_is_still_locked(lock_dir):
    # a lock file left 0644 by another user (an older rig, a hand-made one): flock needs only a read-only open
    path = lock_dir / "i2c1-gpio17.lock"
    path.write_text("")
    os.chown(path, OPERATOR, GROUP)
    os.chmod(path, 0o644)
    assert take_lock_as(SERVICE, [GROUP], path) == "locked"
    with BenchLock(path):
        assert take_lock_as(SERVICE, [GROUP], path).startswith("refused: the bench is in use")


def test_a_missing_system_lock_folder_is_made_2770(tmp_path, monkeypatch):
    import rig.lock

    folder = tmp_path / "run-lock-rig"
    monkeypatch.setattr(rig.lock, "SYSTEM_LOCK_DIR", folder)
    old = os.umask(0o022)
    try:
        with BenchLock(rig.lock.bench_lock_path("real", 1, 17)):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2770  # setgid: lock files take the folder's group
    assert stat.S_IMODE((folder / "i2c1-gpio17.lock").stat().st_mode) == 0o660


def test_an_old_world_writable_system_lock_folder_of_ours_is_made_2770(tmp_path, monkeypatch):
    import rig.lock

    folder = tmp_path / "run-lock-rig"
    folder.mkdir()
    os.chmod(folder, 0o1777)  # as rig made it before
    monkeypatch.setattr(rig.lock, "SYSTEM_LOCK_DIR", folder)
    with BenchLock(rig.lock.bench_lock_path("real", 1, 17)):
        pass
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2770


def test_a_symlinked_system_lock_folder_is_refused(tmp_path, monkeypatch):
    import rig.lock

    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "run-lock-rig").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setattr(rig.lock, "SYSTEM_LOCK_DIR", tmp_path / "run-lock-rig")
    with pytest.raises(RigError, match="symbolic link"):
        BenchLock(rig.lock.bench_lock_path("real", 1, 17)).acquire()
    assert not any((tmp_path / "elsewhere").iterdir())


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "bench.lock").symlink_to(target)
    with pytest.raises(RigError, match="symbolic link"):
        BenchLock(tmp_path / "bench.lock").acquire()
    assert target.read_text() == "keep me"
    (tmp_path / "dangling.lock").symlink_to(tmp_path / "made-through-the-link")
    with pytest.raises(RigError, match="symbolic link"):
        BenchLock(tmp_path / "dangling.lock").acquire()
    assert not (tmp_path / "made-through-the-link").exists()


def test_a_folder_as_the_lock_file_is_refused(tmp_path):
    (tmp_path / "bench.lock").mkdir()
    with pytest.raises(RigError, match="is a folder: refused"):
        BenchLock(tmp_path / "bench.lock").acquire()


def test_a_hard_linked_lock_file_is_refused_and_the_other_name_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    os.link(target, tmp_path / "bench.lock")
    with pytest.raises(RigError, match="other hard links"):
        BenchLock(tmp_path / "bench.lock").acquire()
    assert target.read_text() == "keep me"


def test_a_fifo_as_the_lock_file_is_exit_2_at_once(tmp_path):
    # rig check on the simulator locks in its results folder: a FIFO planted there must neither hang nor crash
    out = tmp_path / "results"
    out.mkdir()
    os.mkfifo(out / ".rig-sim-bench.lock")
    result = rig_cli(["check", "--sim", "--out", out])
    assert result.returncode == 2, result.stderr
    assert "FIFO" in result.stderr and ".rig-sim-bench.lock" in result.stderr


def test_every_file_of_a_run_gets_one_group_readable_mode_and_folders_2750(tmp_path):
    old = os.umask(0o022)
    try:
        run_dir = make_run_dir(tmp_path / "results", 0.0, "Acme belt")
        write_json_atomic(run_dir / "run.json", {"outcome": "RUNNING"})  # temp file + rename
        write_csv_atomic(run_dir / "summary.csv", [{"a": 1}], ["a"])
        from rig.results.writer import SamplesWriter

        SamplesWriter(run_dir / "samples.csv", ["t_s"]).close()  # appended row by row
    finally:
        os.umask(old)
    for folder in (tmp_path / "results", run_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o2750
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run_dir.iterdir() if not p.name.startswith(".")}
    assert set(modes) == {"run.json", "summary.csv", "samples.csv", "run.log"}
    assert set(modes.values()) == {0o640}, modes


def test_a_stricter_umask_is_obeyed_by_every_file_alike(tmp_path):
    old = os.umask(0o077)
    try:
        run_dir = make_run_dir(tmp_path / "results", 0.0, "Acme belt")
        write_json_atomic(run_dir / "run.json", {"outcome": "RUNNING"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o2700
    assert {stat.S_IMODE(p.stat().st_mode) for p in run_dir.iterdir()} == {0o600}


@root_only
def test_the_operator_reads_every_file_of_a_run_the_service_wrote(shared_tmp):
    # the service's results folder: group 'rig', setgid (as /var/lib/rig/results after its first run)
    base = shared_tmp / "results"
    base.mkdir()
    os.chown(base, 0, GROUP)
    os.chmod(base, 0o2750)
    from test_disk_full import PROFILE, SEQUENCE, open_bench  # a short run: a pulse-free 30 s measure

    from rig.run import run_sequence

    run_dir = run_sequence(PROFILE, SEQUENCE, open_bench, base).run_dir
    files = sorted(p for p in run_dir.iterdir() if not p.name.startswith("."))
    assert {"run.json", "samples.csv", "summary.csv", "run.log"} <= {p.name for p in files}
    readable = as_user(OPERATOR, [1000 + OPERATOR, GROUP], ["cat", *map(str, files)])
    assert readable.returncode == 0, readable.stderr
    refused = as_user(OUTSIDER, [OUTSIDER], ["cat", str(run_dir / "run.json")])
    assert refused.returncode != 0  # not world-readable
