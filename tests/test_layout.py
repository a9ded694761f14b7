"""The default folder keeps one journal file per study: an unreadable file costs that study
only (studies() names it in one line), the single journal.log of earlier versions is still
listed and resumed in place, delete_study removes the file, and the folder is one Optuna
storage for listing and the dashboard."""

from __future__ import annotations

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

import aimauto_nb as an
from aimauto_nb.storage.default import DefaultStorage

CELL = "x = hp.float(0.0, 1.0)\nscore = x\n"


def _run(name="s", trials=2, **kw):
    return an.search(CELL, metrics="v:max", strategy="random", trials=trials, name=name,
                     display=False, **kw).wait(60)


def test_each_run_has_its_own_file_and_an_unreadable_one_is_named_in_one_line(aimauto_dir):
    a, b = _run("a"), _run("b")
    files = sorted(p.name for p in (aimauto_dir / "studies").glob("*.log"))
    assert files == sorted([f"{a.study_name}.log", f"{b.study_name}.log"])
    bad = aimauto_dir / "studies" / f"{a.study_name}.log"
    bad.write_bytes(b"\x00\x01 not a journal\n")
    listed = an.studies()
    assert [s.study_name for s in listed] == [b.study_name]
    (line,) = listed.unreadable
    assert str(bad) in line and "\n" not in line and line in str(listed)
    again = _run("b", resume=True)  # the other study is untouched
    assert again.study_name == b.study_name and len(again.trials) == 4


def test_the_journal_of_earlier_versions_is_listed_and_resumed_in_place(aimauto_dir):
    legacy = aimauto_dir / "journal.log"
    old = _run("old", storage=f"journal:///{legacy}")  # what earlier versions wrote
    study = optuna.load_study(study_name="old", storage=JournalStorage(JournalFileBackend(str(legacy))))
    study.set_user_attr("aimauto_nb.started", "2026-01-01T10:00:00+00:00")
    new = _run("new")
    assert {s.study_name for s in an.studies()} == {"old", new.study_name}
    resumed = _run("old", resume=True)
    assert resumed.study_name == "old" and len(resumed.trials) == len(old.trials) + 2
    assert resumed.storage_location == str(legacy)
    assert not (aimauto_dir / "studies" / "old.log").exists()
    fresh = _run("old")  # a new run of that name gets its own file
    assert (aimauto_dir / "studies" / f"{fresh.study_name}.log").is_file()
    assert _run("old", resume=True).study_name == fresh.study_name  # the latest run


def test_delete_study_removes_its_file(aimauto_dir):
    a, b = _run("a"), _run("b")
    an.delete_study(a.study_name)
    assert not (aimauto_dir / "studies" / f"{a.study_name}.log").exists()
    assert [s.study_name for s in an.studies()] == [b.study_name]


def test_the_folder_is_one_optuna_storage(aimauto_dir):
    a, b = _run("a", trials=3), _run("b", trials=2)
    folder = DefaultStorage(aimauto_dir).open()
    names = {s.study_name: s._study_id for s in folder.get_all_studies()}
    assert set(names) == {a.study_name, b.study_name}
    study = optuna.load_study(study_name=a.study_name, storage=folder)
    assert len(study.trials) == 3
    t = study.trials[1]
    assert folder.get_trial(t._trial_id).number == 1  # ids name one trial across files
    assert folder.get_study_name_from_id(names[b.study_name]) == b.study_name
    study.optimize(lambda tr: tr.suggest_float("x", 0.0, 1.0), n_trials=1)
    plain = optuna.load_study(study_name=a.study_name, storage=JournalStorage(JournalFileBackend(
        str(aimauto_dir / "studies" / f"{a.study_name}.log"))))
    assert len(plain.trials) == 4
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        folder.create_new_study([optuna.study.StudyDirection.MINIMIZE], a.study_name)


def test_two_runs_started_in_one_second_get_two_files(aimauto_dir):
    import datetime as dt

    folder = DefaultStorage(aimauto_dir).open()
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert [folder.reserve("s", when) for _ in range(3)] == [
        "s-20260102-030405", "s-20260102-030405-2", "s-20260102-030405-3"]
    assert folder.latest("s") == "s-20260102-030405-3"


def test_an_unreadable_journal_of_earlier_versions_costs_only_its_studies(aimauto_dir):
    a = _run("a")
    legacy = aimauto_dir / "journal.log"
    legacy.write_bytes(b"garbage, not a journal\n")
    with pytest.warns(UserWarning, match="journal.log cannot be read"):
        again = _run("a", resume=True)
    assert again.study_name == a.study_name and len(again.trials) == 4
    listed = an.studies()
    assert [s.study_name for s in listed] == [a.study_name]
    assert len(listed.unreadable) == 1 and str(legacy) in listed.unreadable[0]
