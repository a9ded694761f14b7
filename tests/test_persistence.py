import subprocess
import sys
import textwrap
import time

import optuna
import pytest

import aimauto_nb as an
from aimauto_nb.storage.lease import LEASE_GRACE, OWNER_ATTR, SEEN_ATTR

from .conftest import TREE_CELL


def _script(db, trials, resume):
    return textwrap.dedent(f"""
        import json
        from sklearn.datasets import load_breast_cancer
        import aimauto_nb as an
        cell = {TREE_CELL!r}
        s = an.search(cell, data=load_breast_cancer(return_X_y=True), trials={trials}, seed=0,
                      storage="sqlite:///{db}", name="study1", resume={resume}, display=False)
        s.wait()
        m = s.best_model
        print(json.dumps({{"n": len(s.trials), "launched": s.launched, "best": s.best.number,
                          "depth": m.max_depth, "fitted": hasattr(m, "tree_")}}))
    """)


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_resume_in_a_new_process_continues_the_study_and_keeps_models(tmp_path):
    db = tmp_path / "s.db"
    first = _run(_script(db, 4, False))
    assert first["n"] == 4 and first["fitted"]
    second = _run(_script(db, 3, True))
    assert second["launched"] == 3 and second["n"] == 7  # budget counts the new trials
    assert second["fitted"]
    # best_model after a restart, with no new trial: loaded from beside the database
    code = textwrap.dedent(f"""
        import json
        from sklearn.datasets import load_breast_cancer
        import aimauto_nb as an
        s = an.search({TREE_CELL!r}, data=load_breast_cancer(return_X_y=True), trials=1,
                      storage="sqlite:///{db}", name="study1", resume=True, display=False)
        best_before = s.best.number
        m = s.model(best_before)
        print(json.dumps({{"best": best_before, "depth": m.max_depth, "params": s.best_params}}))
    """)
    third = _run(code)
    assert third["depth"] == third["params"]["max_depth"]
    assert (db.parent / "s.db.models" / "study1").is_dir()


def test_existing_study_without_resume_is_an_error(tmp_path, cancer):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    an.search(TREE_CELL, data=cancer, trials=1, storage=url, display=False).wait()
    with pytest.raises(ValueError, match="already exists.*resume=True"):
        an.search(TREE_CELL, data=cancer, trials=1, storage=url, display=False)


def test_resume_with_another_space_is_an_error(tmp_path, cancer):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    an.search(TREE_CELL, data=cancer, trials=1, storage=url, display=False).wait()
    other = TREE_CELL.replace("hp.int(1, 8)", "hp.int(1, 20)")
    with pytest.raises(ValueError, match="cannot resume 'search'.*differ"):
        an.search(other, data=cancer, trials=1, storage=url, resume=True, display=False)
    with pytest.raises(ValueError, match="cannot resume"):
        an.search(TREE_CELL, data=cancer, trials=1, storage=url, resume=True, display=False,
                  metrics="accuracy,size")


def test_stale_running_trials_are_failed_and_retried_on_resume(tmp_path, cancer):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    an.search(TREE_CELL, data=cancer, trials=2, storage=url, display=False).wait()
    # A kernel killed mid-trial leaves a RUNNING trial behind, its lease long expired.
    study = optuna.load_study(study_name="search", storage=url)
    t = study.ask()
    t.set_user_attr(OWNER_ATTR, "host:1:dead")
    t.set_user_attr(SEEN_ATTR, time.time() - LEASE_GRACE - 5)
    t.suggest_int("max_depth", 1, 8)
    t.suggest_categorical("criterion", ["gini", "entropy"])
    stale = dict(t.params)
    s = an.search(TREE_CELL, data=cancer, trials=2, storage=url, resume=True, display=False).wait()
    recs = {r.number: r for r in s.trials}
    assert recs[t.number].state == "failed" and "interrupted" in recs[t.number].error
    new = [r for r in s.trials if r.number > t.number]
    assert new[0].params == stale and new[0].state == "complete"
    assert sum(r.state == "complete" for r in s.trials) == 4


def test_journal_storage(tmp_path, cancer):
    url = f"journal:///{tmp_path / 'j.log'}"
    an.search(TREE_CELL, data=cancer, trials=2, storage=url, name="j", display=False).wait()
    s = an.search(TREE_CELL, data=cancer, trials=1, storage=url, name="j", resume=True,
                  display=False).wait()
    assert len(s.trials) == 3 and s.best_model is not None
