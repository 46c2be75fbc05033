"""The code version a run records needs no git ownership check: the installed package's version and the commit
`make` wrote at install time; without that file, git is asked with the checkout marked safe, so the `rig`
service user running a checkout another user owns still gets the commit ("dubious ownership" otherwise)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import pytest

from rig.run.manifest import code_commit

OWNER, SERVICE = 54001, 54002
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def make_repo(folder: Path) -> str:
    """A one-commit git repository in ``folder``; its commit's 12-digit abbreviation."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "HOME": str(folder)}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, env=env)
    out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"], check=True,
                         capture_output=True, text=True, env=env)
    return out.stdout.strip()


def test_the_commit_written_at_install_time_wins_and_needs_no_git(tmp_path, monkeypatch):
    (tmp_path / "_build_commit.txt").write_text("0123456789ab-dirty\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no git to be found
    assert code_commit(tmp_path / "_build_commit.txt", tmp_path) == "0123456789ab-dirty"


@needs_git
def test_without_the_file_git_answers_with_the_checkout_marked_safe(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    commit = make_repo(tmp_path)
    assert code_commit(tmp_path / "missing.txt", tmp_path) == commit


SERVICE_READS_COMMIT = """
import os, sys
from pathlib import Path
from rig.run.manifest import code_commit
import subprocess
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[2]))
os.environ["HOME"] = "/nonexistent"
plain = subprocess.run(["git", "-C", sys.argv[1], "describe", "--always"], capture_output=True, text=True)
print(plain.returncode, code_commit(Path(sys.argv[1]) / "missing.txt", Path(sys.argv[1])))
"""


@needs_git
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="running as another user needs root")
def test_the_service_user_gets_the_commit_of_a_checkout_another_user_owns():
    folder = Path(tempfile.mkdtemp(prefix="rig-checkout-"))
    try:
        os.chmod(folder, 0o755)
        (folder / "f.txt").write_text("x")
        commit = make_repo(folder)
        for path in (folder, *folder.rglob("*")):
            os.chown(path, OWNER, OWNER, follow_symlinks=False)
        done = subprocess.run([sys.executable, "-c", SERVICE_READS_COMMIT, str(folder), str(SERVICE)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        plain_status, found = done.stdout.split()
        assert plain_status != "0"  # git alone refuses: dubious ownership
        assert found == commit
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_run_records_the_installed_version_and_a_commit(tmp_path):
    from test_disk_full import PROFILE, SEQUENCE, open_bench  # a short run

    from rig.run import run_sequence

    run_dir = run_sequence(PROFILE, SEQUENCE, open_bench, tmp_path).run_dir
    record = json.loads((run_dir / "run.json").read_text())
    assert record["versions"]["rig"] == version("rig")
    assert record["code_commit"] == code_commit()
