"""Real I/O faults under running searches (real files, real processes): a disk full for a
moment (a 2 MiB tmpfs, root only), half a record from a killed writer, a fragment in the
middle of a file, a 2 MiB record, a stale lock in a sub-folder, the journal deleted or
replaced, a plain Optuna worker beside a resumed search. After each: every other study
readable by us and by plain Optuna, no trial lost that was reported complete, a one-line
error where a search had to end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

import aimauto_nb as an
from aimauto_nb.errors import SearchError
from aimauto_nb.storage import lease as lease_mod
from aimauto_nb.storage import locks as locks_mod
from aimauto_nb.storage.journal import JournalFault, SafeJournalBackend
from aimauto_nb.storage.urls import open_storage

FAST = "import time\nx = hp.float(0.0, 1.0)\ntime.sleep(0.02)\nscore = x\n"
SLOW = "import time\nx = hp.float(0.0, 1.0)\ntime.sleep(0.1)\nscore = x\n"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


def _plain(path: Path) -> list[optuna.study.FrozenStudy]:
    """Every study of a journal file as plain Optuna reads it (raises if it cannot)."""
    storage = JournalStorage(JournalFileBackend(str(path)))
    studies = storage.get_all_studies()
    for s in studies:
        storage.get_all_trials(s._study_id)
    return studies


def _plain_study(path: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def _nothing_lost(search, path: Path) -> None:
    """Every trial the search reported complete is COMPLETE with its value on disk."""
    stored = {t.number: t for t in _plain_study(path, search.study_name).trials}
    for r in search.trials:
        if r.state == "complete":
            assert stored[r.number].state == TrialState.COMPLETE, r.number
            assert stored[r.number].values == [r.values["v"]]


def _one_line_failure(search, *words: str) -> str:
    assert search.state == "failed", (search.state, search.error)
    text = str(search.error)
    assert "\n" not in text and all(w in text for w in words), text
    assert search.counts()["running"] == 0
    return text


def _end(search, timeout: float = 120):
    """Wait for the search to end, failed or not."""
    try:
        search.wait(timeout)
    except SearchError:
        pass
    assert not search.running
    return search


def _wait_trials(search, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(search.trials) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(search.trials) >= n


# ---------------------------------------------------------------- a disk full


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs root and mount; skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_disk_full_for_a_moment_during_two_searches(small_disk, monkeypatch):
    folder = small_disk / ".aimauto"
    monkeypatch.setenv("AIMAUTO_DIR", str(folder))
    before = an.search(FAST, metrics="v:max", strategy="random", trials=3, name="before", display=False).wait(60)
    a = an.search(FAST, metrics="v:max", strategy="random", trials=2000, name="a", display=False)
    b = an.search(FAST, metrics="v:max", strategy="random", trials=2000, name="b", display=False)
    _wait_trials(a, 10)
    _wait_trials(b, 10)
    with open(before.storage_location, "ab") as f:
        f.write(b'{"op_code":4,"dat')  # and a torn tail, left by a killed kernel
    filler = _fill(small_disk)
    time.sleep(1.0)
    with pytest.warns(UserWarning, match="torn"):
        full = an.studies()  # on the full disk: the tail is cut, with no room for a backup
    assert "before" in {x.name for x in full} and not full.unreadable
    time.sleep(0.5)
    filler.unlink()
    _end(a)
    _end(b)
    for s in (a, b):
        path = Path(s.storage_location)
        if s.state == "failed":
            _one_line_failure(s, str(path), "No space left on device")
        else:
            assert s.state == "done"
        _nothing_lost(s, path)
    assert "failed" in (a.state, b.state)  # the fault did hit a write
    listed = an.studies()
    assert {x.name for x in listed} == {"before", "a", "b"} and not listed.unreadable
    for path in (folder / "studies").glob("*.log"):
        _plain(path)
    assert len(_plain_study(Path(before.storage_location), before.study_name).trials) == 3
    # resumed in this kernel, a failed search's trial left RUNNING on the full disk is retried
    for s in (a, b):
        again = an.search(FAST, metrics="v:max", strategy="random", trials=2, name=s.name, resume=True,
                          display=False).wait(60)
        assert again.state == "done" and again.study_name == s.study_name
        study = _plain_study(Path(s.storage_location), s.study_name)
        assert not study.get_trials(states=(TrialState.RUNNING,))


def test_a_write_that_fails_on_a_full_disk_is_cut_back_at_once(small_disk):
    path = small_disk / "j.log"
    backend = SafeJournalBackend(str(path))
    backend.append_logs([{"op_code": 0, "worker_id": "w", "study_name": "s",
                          "directions": [1]}])
    before = path.read_bytes()
    filler = _fill(small_disk)
    big = {"op_code": 1, "worker_id": "w", "study_id": 0, "user_attr": {"n": "x" * 200_000}}
    with pytest.raises(JournalFault, match=f"{path}: a write failed .*No space left on device"):
        backend.append_logs([big])
    assert path.read_bytes() == before  # no fragment for the next write to append to
    filler.unlink()
    backend.append_logs([big])
    assert [r["op_code"] for r in backend.read_logs(0)] == [0, 1]


# ------------------------------------------------------ fragments, big records


_KILLED_WRITER = ("import os, sys\nfd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)\n"
                  "os.write(fd, b'{\"op_code\":4,\"dat')\nos.kill(os.getpid(), 9)\n")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_half_a_record_from_a_killed_writer_mid_search_costs_nothing(aimauto_dir):
    other = an.search(FAST, metrics="v:max", strategy="random", trials=3, name="other", display=False).wait(60)
    s = an.search(SLOW, metrics="v:max", strategy="random", trials=30, name="live", display=False)
    _wait_trials(s, 5)
    path = Path(s.storage_location)
    p = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)])
    assert p.returncode == -signal.SIGKILL
    _end(s)
    assert s.state == "done" and s.counts()["complete"] == 30
    _nothing_lost(s, path)
    assert len(_plain_study(path, s.study_name).trials) == 30
    assert len(_plain_study(Path(other.storage_location), other.study_name).trials) == 3
    assert not an.studies().unreadable


def test_a_fragment_in_the_middle_is_skipped_with_a_warning_naming_file_and_offset(tmp_path):
    path = tmp_path / "j.log"
    url = f"journal:///{path}"
    an.search(FAST, metrics="v:max", strategy="random", trials=4, storage=url, name="j", display=False).wait(60)
    lines = path.read_bytes().splitlines(keepends=True)
    k = len(lines) // 2
    head = b"".join(lines[:k])
    glued = b'{"op_code":4,"dat'  # a plain Optuna writer appended a whole record to it
    alone = b'{"op_code":5,"x\n'  # a fragment a later newline closed
    path.write_bytes(head + glued + lines[k] + alone + b"".join(lines[k + 1:]))
    with pytest.warns(UserWarning) as caught:
        s = an.search(FAST, metrics="v:max", strategy="random", trials=1, storage=url, name="j", resume=True,
                      display=False).wait(60)
    text = " ".join(str(w.message) for w in caught)
    assert f"{path}: a fragment of {len(glued)} bytes at byte offset {len(head)}" in text
    assert f"byte offset {len(head) + len(glued) + len(lines[k])}" in text
    assert s.state == "done" and s.counts()["complete"] == 5  # every complete record kept


def test_a_2_mib_record_is_kept_through_a_torn_tail(tmp_path):
    path = tmp_path / "big.log"
    url = f"journal:///{path}"
    storage, _ = open_storage(url)
    study = optuna.create_study(study_name="big", storage=storage)
    study.set_user_attr("n", "x" * 2 ** 21)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with open(path, "ab") as f:
        f.write(b'{"op_code":4,"dat')  # a kill mid-write
    with pytest.warns(UserWarning, match="torn"):
        storage, _ = open_storage(url)
    again = optuna.load_study(study_name="big", storage=storage)
    assert again.user_attrs["n"] == "x" * 2 ** 21 and len(again.trials) == 2
    plain = _plain_study(path, "big")
    assert plain.user_attrs["n"] == "x" * 2 ** 21 and len(plain.trials) == 2


# ------------------------------------------------------------------- locks


def test_a_stale_optuna_lock_in_a_sub_folder_is_taken_over_without_spinning(
        tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    # Optuna's own lock, given the relative path: a dangling symlink left by a killed process
    code = ("import os\nfrom optuna.storages.journal import JournalFileSymlinkLock\n"
            "JournalFileSymlinkLock('sub/study.log').acquire()\nos.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", code], env=ENV)
    assert os.path.islink("sub/study.log.lock")
    monkeypatch.setattr(locks_mod, "LOCK_GRACE", 2.0)
    me = psutil.Process()
    cpu0, t0 = sum(me.cpu_times()[:2]), time.monotonic()
    s = an.search(FAST, metrics="v:max", strategy="random", trials=2, storage="journal:///sub/study.log", name="l",
                  display=False).wait(60)
    waited, cpu = time.monotonic() - t0, sum(me.cpu_times()[:2]) - cpu0
    assert s.state == "done" and 2.0 <= waited < 20
    assert cpu < 0.25 * waited, f"{cpu:.2f} s of CPU in {waited:.2f} s: the wait spins"
    err = capfd.readouterr().err
    assert "waiting for the journal lock" in err and str(tmp_path / "sub" / "study.log.lock") in err
    assert "took over" in err


def test_a_lock_of_a_killed_kernel_is_taken_over_at_once(tmp_path):
    path = tmp_path / "k.log"
    url = f"journal:///{path}"
    an.search(FAST, metrics="v:max", strategy="random", trials=1, storage=url, name="k", display=False).wait(60)
    code = ("import os, sys\nfrom aimauto_nb.storage.locks import FileLock\n"
            "FileLock(sys.argv[1]).acquire()\nos.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", code, f"{path}.lock"], env=ENV)
    assert path.with_name("k.log.lock").is_file()
    t0 = time.monotonic()
    s = an.search(FAST, metrics="v:max", strategy="random", trials=1, storage=url, name="k", resume=True,
                  display=False).wait(60)
    assert s.state == "done" and time.monotonic() - t0 < 10  # not the 30 s grace


# ------------------------------------------------------ the journal goes away


@pytest.mark.parametrize("how", ["deleted", "replaced"])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_journal_deleted_or_replaced_mid_search_ends_it_failed(aimauto_dir, how):
    other = an.search(FAST, metrics="v:max", strategy="random", trials=2, name="other", display=False).wait(60)
    s = an.search(SLOW, metrics="v:max", strategy="random", trials=40, name="gone", display=False)
    _wait_trials(s, 4)
    path = Path(s.storage_location)
    if how == "deleted":
        path.unlink()
    else:
        copy = path.with_suffix(".copy")
        shutil.copy(path, copy)
        os.replace(copy, path)
    _end(s)
    _one_line_failure(s, str(path), how)
    assert s.counts()["complete"] < 40
    listed = {x.study_name for x in an.studies()}
    assert other.study_name in listed
    assert len(_plain_study(Path(other.storage_location), other.study_name).trials) == 2


# -------------------------------------------- a plain Optuna worker on our study


_PLAIN_WORKER = textwrap.dedent("""
    import sys, time
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    storage = JournalStorage(JournalFileBackend(sys.argv[1]))
    study = optuna.load_study(study_name="shared", storage=storage)
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(0.4)
        return x
    study.optimize(objective, n_trials=8)
    print("worker done")
""")


def test_a_plain_optuna_worker_beside_a_resumed_search_keeps_its_trials(tmp_path, monkeypatch):
    monkeypatch.setattr(lease_mod, "LEASE_INTERVAL", 0.2)  # look for stale trials often
    path = tmp_path / "shared.log"
    url = f"journal:///{path}"
    an.search(FAST, metrics="v:max", strategy="random", trials=1, storage=url, name="shared", display=False).wait(60)
    worker = subprocess.Popen([sys.executable, "-c", _PLAIN_WORKER, str(path)], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    study = _plain_study(path, "shared")
    deadline = time.monotonic() + 60
    while not study.get_trials(states=(TrialState.RUNNING,)) and time.monotonic() < deadline:
        time.sleep(0.05)
    s = an.search(SLOW, metrics="v:max", strategy="random", trials=6, storage=url, name="shared", resume=True,
                  display=False).wait(120)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0 and "worker done" in out, err
    assert s.state == "done" and s.launched == 6
    trials = _plain_study(path, "shared").trials
    assert not [t.number for t in trials if t.state != TrialState.COMPLETE]
    assert len(trials) == 1 + 8 + 6
    assert not [k for k in _plain_study(path, "shared").user_attrs if k.startswith("aimauto_nb.lease.")]


def test_an_old_unowned_running_trial_is_failed_once_at_open(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    an.search(FAST, metrics="v:max", strategy="random", trials=1, storage=url, name="u", display=False).wait(60)
    t = optuna.load_study(study_name="u", storage=url).ask()
    t.suggest_float("x", 0.0, 1.0)
    monkeypatch.setattr(lease_mod, "LEASE_GRACE", 0.5)
    time.sleep(1.0)
    s = an.search(FAST, metrics="v:max", strategy="random", trials=1, storage=url, name="u", resume=True,
                  display=False).wait(60)
    rec = {r.number: r for r in s.trials}[t.number]
    assert rec.state == "failed" and "interrupted" in rec.error


def test_a_backend_opened_on_a_missing_folder_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path / "no" / "j.log")):
        SafeJournalBackend(str(tmp_path / "no" / "j.log"))
