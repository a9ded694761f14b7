"""Searches persist by default: a journal under $AIMAUTO_DIR (.aimauto/), a study per run,
resume continues the latest one, studies() lists them; metric names for Optuna's tools;
trials_dataframe() and summary()."""

import json
import subprocess
import sys
import textwrap

import optuna
import pytest

import aimauto_nb as an
from aimauto_nb.storage.default import DefaultStorage, storage_setting

from .conftest import TREE_CELL

FAILING = """
from sklearn.tree import DecisionTreeClassifier
depth = hp.int(1, 8)
if depth == 8:
    raise RuntimeError("depth 8 is not allowed")
model = DecisionTreeClassifier(max_depth=depth, random_state=0)
"""


def _journal(folder, study_name):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(folder / "studies" / f"{study_name}.log")))


def test_a_search_without_storage_is_written_to_the_default_journal(aimauto_dir, cancer):
    s = an.search(TREE_CELL, data=cancer, trials=3, metrics="accuracy,size", seed=0,
                  display=False).wait()
    assert s.name == "search" and s.study_name.startswith("search-")
    assert s.storage_location == str(aimauto_dir / "studies" / f"{s.study_name}.log")
    study = optuna.load_study(study_name=s.study_name, storage=_journal(aimauto_dir, s.study_name))
    assert len(study.trials) == 3
    assert study.metric_names == ["accuracy", "size"]
    attrs = study.user_attrs
    assert attrs["aimauto_nb.name"] == "search" and "hp.int(1, 8)" in attrs["aimauto_nb.cell"]
    assert attrs["aimauto_nb.metrics"] == ["accuracy", "size (bytes)"]
    # the best and Pareto models are kept beside the journal
    assert (aimauto_dir / "models" / s.study_name / f"trial-{s.best.number}.pkl").is_file()


def test_rerunning_keeps_the_old_run_and_resume_continues_the_latest(aimauto_dir, cancer):
    first = an.search(TREE_CELL, data=cancer, trials=2, display=False).wait()
    second = an.search(TREE_CELL, data=cancer, trials=3, display=False).wait()
    assert second.study_name != first.study_name and len(second.trials) == 3
    resumed = an.search(TREE_CELL, data=cancer, trials=2, resume=True, display=False).wait()
    assert resumed.study_name == second.study_name
    assert len(resumed.trials) == 5 and resumed.launched == 2
    other = an.search(TREE_CELL, data=cancer, trials=1, name="other", resume=True, display=False).wait()
    assert other.study_name.startswith("other-") and len(other.trials) == 1  # nothing to resume

    listed = an.studies()
    assert [(s.name, s.study_name, s.trials) for s in listed] == [
        ("search", first.study_name, 2), ("search", second.study_name, 5),
        ("other", other.study_name, 1)]
    assert listed[1].best == {"accuracy": resumed.best.values["accuracy"]}
    assert listed[0].started is not None and listed[0].started <= listed[1].started
    table = str(listed)
    assert table.splitlines()[0].split() == ["name", "study", "started", "trials", "best"]
    assert f"{second.study_name}" in table and "5/5" in table
    assert "<table>" in listed._repr_html_()


def test_resume_after_a_restart_needs_no_storage(aimauto_dir):
    script = textwrap.dedent(f"""
        import json, sys
        from sklearn.datasets import load_breast_cancer
        import aimauto_nb as an
        s = an.search({TREE_CELL!r}, data=load_breast_cancer(return_X_y=True), trials=2, seed=0,
                      resume=sys.argv[1] == "resume", display=False).wait()
        m = s.best_model
        print(json.dumps({{"study": s.study_name, "n": len(s.trials),
                          "depth": m.max_depth == s.best_params["max_depth"]}}))
    """)

    def run(mode):
        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run("fresh")
    again = run("resume")
    assert again["study"] == first["study"] and again["n"] == 4 and again["depth"]


@pytest.mark.parametrize("storage", [False, ":memory:"])
def test_memory_on_request_writes_nothing(aimauto_dir, cancer, storage):
    s = an.search(TREE_CELL, data=cancer, trials=2, storage=storage, display=False).wait()
    assert s.storage_location == "memory" and s.study_name == "search"
    assert not any(aimauto_dir.iterdir())
    assert s.study.metric_names == ["accuracy"]


def test_bad_storage_settings_are_named(aimauto_dir, cancer, monkeypatch):
    with pytest.raises(ValueError, match="storage must be"):
        an.search(TREE_CELL, data=cancer, trials=1, storage=True, display=False)
    blocker = aimauto_dir / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("AIMAUTO_DIR", str(blocker))
    with pytest.raises(ValueError, match="storage: .*a-file.*is a file"):
        an.search(TREE_CELL, data=cancer, trials=1, display=False)


def test_the_folder_is_fixed_when_the_search_is_set_up(aimauto_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("AIMAUTO_DIR")
    monkeypatch.chdir(tmp_path)
    setting = storage_setting(None)
    assert setting == DefaultStorage(tmp_path / ".aimauto")
    assert storage_setting(False) is None and storage_setting("sqlite:///x.db") == "sqlite:///x.db"


def test_studies_of_an_empty_folder_and_of_another_storage(aimauto_dir, cancer, tmp_path):
    listed = an.studies()
    assert listed == [] and str(listed) == "no stored searches"
    assert not (aimauto_dir / "journal.log").exists()  # listing creates nothing
    url = f"sqlite:///{tmp_path / 's.db'}"
    an.search(TREE_CELL, data=cancer, trials=2, storage=url, name="db1", display=False).wait()
    (entry,) = an.studies(url)
    assert (entry.name, entry.study_name, entry.trials, entry.complete) == ("db1", "db1", 2, 2)


def test_delete_study_removes_it_and_its_models(aimauto_dir, cancer):
    s = an.search(TREE_CELL, data=cancer, trials=2, display=False).wait()
    keep = an.search(TREE_CELL, data=cancer, trials=1, display=False).wait()
    assert (aimauto_dir / "models" / s.study_name).is_dir()
    an.delete_study(s.study_name)
    assert [x.study_name for x in an.studies()] == [keep.study_name]
    assert not (aimauto_dir / "models" / s.study_name).exists()
    with pytest.raises(KeyError, match="no stored study 'nope'"):
        an.delete_study("nope")


def test_trials_dataframe_uses_the_metric_names(cancer):
    s = an.search(FAILING, data=cancer, trials=8, metrics="accuracy,size", strategy="grid",
                  storage=False, display=False).wait()
    df = s.trials_dataframe()
    assert len(df) == 8
    assert {"number", "values_accuracy", "values_size", "params_depth", "state",
            "user_attrs_error", "duration"} <= set(df.columns)
    assert not any("values_0" in c or "choice_index" in c for c in df.columns)
    failed = df[df.state == "FAIL"]
    assert len(failed) == 1 and "depth 8 is not allowed" in failed.user_attrs_error.iloc[0]
    multi = s.trials_dataframe(multi_index=True)
    assert ("values", "accuracy") in multi.columns and ("user_attrs", "error") in multi.columns
    one = an.search(TREE_CELL, data=cancer, trials=2, storage=False, display=False).wait()
    assert "value_accuracy" in one.trials_dataframe().columns


def test_summary_prints_the_best_trials_first(cancer, capsys):
    s = an.search(TREE_CELL, data=cancer, trials=6, metrics="accuracy,size", seed=0,
                  storage=False, display=False).wait()
    s.summary(num_trials=3)
    out = capsys.readouterr().out
    assert out.startswith("Results summary\n")
    assert "Showing 3 best trials" in out and "Objective: accuracy (maximize), size (minimize)" in out
    numbers = [int(line.split()[1]) for line in out.splitlines() if line.endswith(" summary")
               and line.startswith("Trial ")]
    ranked = sorted((r for r in s.trials if r.state == "complete"),
                    key=lambda r: (-r.values["accuracy"], r.values["size"]))
    assert numbers[0] == s.best.number and len(numbers) == 3
    assert [r.values["accuracy"] for r in ranked[:3]] == \
        [s.trials[n].values["accuracy"] for n in numbers]
    assert f"max_depth: {s.best.params['max_depth']}" in out and "Score: accuracy=" in out


def test_the_default_journal_is_not_fsynced_unless_asked(cancer, monkeypatch):
    import os

    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real(fd))
    an.search(TREE_CELL, data=cancer, trials=2, display=False).wait()
    assert calls == []  # handed to the OS on every write (a crashed kernel loses nothing)
    monkeypatch.setenv("AIMAUTO_FSYNC", "1")
    an.search(TREE_CELL, data=cancer, trials=2, display=False).wait()
    assert len(calls) >= 4  # Optuna's backend: an fsync per write


def test_a_killed_kernel_loses_no_finished_trial(aimauto_dir, cancer):
    import os
    import signal
    import time

    slow = TREE_CELL + "\nimport time\ntime.sleep(0.4)\n"
    script = textwrap.dedent(f"""
        from sklearn.datasets import load_breast_cancer
        import aimauto_nb as an
        an.search({slow!r}, data=load_breast_cancer(return_X_y=True), trials=50, display=False).wait()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = an.studies()
            if listed and listed[0].complete >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the search never wrote 3 trials")
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # as the out-of-memory killer would
        proc.wait(10)
    done = an.studies()[0].complete
    assert done >= 3
    s = an.search(slow, data=cancer, trials=2, resume=True, display=False).wait()
    assert sum(r.state == "complete" for r in s.trials) >= done + 2
