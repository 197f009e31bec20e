"""Crash-safe saving: SIGKILL a process at many points while it saves over an existing model;
the path always holds the complete old or the complete new model, and the next successful
save removes temp files orphaned by killed writers. Also disk-full (file size limit),
read-only location and directory targets: a clear status and the old file intact."""

import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest

import recur
from conftest import ROOT, build_c

TRIALS = int(os.environ.get("RECUR_KILL_TRIALS", "200"))


def temps(d, name):
    return [f for f in os.listdir(d) if f.startswith(f".{name}.tmp-")]


def test_kill_during_save(tmp_path):
    helper = build_c(ROOT / "Tests" / "reliability" / "save_loop.c", ROOT / ".build" / "reliability" / "save_loop")
    path = tmp_path / "model.recur"
    # The two models the helper alternates between: learn their fingerprints.
    p = subprocess.Popen([str(helper), str(path)], stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == b"ready"
    time.sleep(0.2)
    p.kill()
    p.wait()
    rng = random.Random(1)
    seen = set()
    corrupted = 0
    orphans_seen = 0
    for trial in range(TRIALS):
        p = subprocess.Popen([str(helper), str(path)], stdout=subprocess.PIPE)
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0, 0.15))
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        try:
            m = recur.Model.load(path)
            seen.add(m.fingerprint[1])
            m.close()
        except recur.RecurError:
            corrupted += 1
        orphans_seen += len(temps(tmp_path, "model.recur")) > 0
    assert corrupted == 0
    assert len(seen) == 2  # both the old and the new model were found, never anything else
    assert orphans_seen > 0  # some kills did land mid-save (a temp file was left behind)
    # The next successful save removes the orphans (their writers are dead).
    m = recur.Model.load(path)
    m.save(path)
    assert temps(tmp_path, "model.recur") == []
    print(f"\n{TRIALS} kill-during-save trials: 0 corrupted files, {orphans_seen} left an orphaned temp file")


def test_live_writer_temp_is_not_removed(tmp_path):
    path = tmp_path / "m.recur"
    m = recur.Model.load(ROOT / "models" / "vowels-5speakers.recur")
    live = tmp_path / f".m.recur.tmp-{os.getppid()}-abcdef"  # a live process (our parent)
    live.write_bytes(b"in progress")
    dead = tmp_path / ".m.recur.tmp-999999-abcdef"  # no such pid
    dead.write_bytes(b"orphan")
    m.save(path)
    assert live.exists() and not dead.exists()


SAVE_SNIPPET = """
import sys, resource, signal
sys.path.insert(0, {src!r})
import recur
m = recur.Model.load({model!r})
{setup}
try:
    m.save({target!r})
except recur.RecurError as e:
    print(e.status, e.message)
"""


def run_save(target, setup=""):
    code = SAVE_SNIPPET.format(src=str(ROOT / "bindings" / "python" / "src"),
                               model=str(ROOT / "models" / "vowels-5speakers.recur"), target=str(target), setup=setup)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_disk_full_keeps_old_file(tmp_path):
    old = recur.Model.load(ROOT / "models" / "feedbacknet-10-20-5.recur")
    path = tmp_path / "m.recur"
    old.save(path)
    before = path.read_bytes()
    # RLIMIT_FSIZE makes write() fail with EFBIG part-way, as a full disk does.
    r = run_save(path, "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))")
    assert r.stdout.startswith("-20 "), r.stdout + r.stderr  # RECUR_E_IO
    assert "cannot write" in r.stdout and "errno" in r.stdout
    assert path.read_bytes() == before
    assert temps(tmp_path, "m.recur") == []


def test_read_only_location_and_directory(tmp_path):
    r = run_save("/proc/recur-test.recur")
    assert r.stdout.startswith("-20 "), r.stdout + r.stderr
    assert "temporary file" in r.stdout
    d = tmp_path / "adir"
    d.mkdir()
    r = run_save(d)
    assert r.stdout.startswith("-21 "), r.stdout + r.stderr  # RECUR_E_NOT_REGULAR_FILE
    assert d.is_dir() and list(d.iterdir()) == []


def test_read_only_directory_keeps_old_file(tmp_path):
    """A directory made read-only by a read-only bind mount (root can write to chmod-ed
    directories, so permissions alone would not test this). Skipped where mounting is not
    allowed."""
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "m.recur"
    recur.Model.load(ROOT / "models" / "feedbacknet-10-20-5.recur").save(path)
    before = path.read_bytes()
    if subprocess.run(["mount", "--bind", str(d), str(d)], capture_output=True).returncode != 0:
        pytest.skip("bind mounts not permitted here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(d)], capture_output=True).returncode != 0:
            pytest.skip("read-only remount not permitted here")
        r = run_save(path)
        assert r.stdout.startswith("-20 "), r.stdout + r.stderr  # RECUR_E_IO
        assert "Read-only file system" in r.stdout
        assert path.read_bytes() == before and temps(d, "m.recur") == []
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)
