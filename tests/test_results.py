"""Pure functions over trial records (domination, front, best) and the Results store's
snapshots."""

import threading

from aimauto_nb.core.results import Identity, Results, TrialRecord, best_of, dominates, pareto_front
from aimauto_nb.runtime.metrics import parse_metrics

ACC_SIZE = parse_metrics("acc:max,size:min")


def rec(n, acc, size, state="complete"):
    return TrialRecord(n, state=state, values={"acc": acc, "size": size})


def test_domination_needs_one_strict_improvement():
    assert dominates(rec(0, 0.9, 10), rec(1, 0.8, 10), ACC_SIZE)
    assert not dominates(rec(0, 0.9, 10), rec(1, 0.9, 10), ACC_SIZE)
    assert not dominates(rec(0, 0.9, 20), rec(1, 0.8, 10), ACC_SIZE)


def test_pareto_front_is_the_non_dominated_complete_trials():
    records = [rec(0, 0.9, 30), rec(1, 0.8, 10), rec(2, 0.85, 40), rec(3, 0.95, 50),
               rec(4, 0.99, 1, state="failed")]
    assert [r.number for r in pareto_front(records, ACC_SIZE)] == [0, 1, 3]
    single = parse_metrics("acc:max")
    assert [r.number for r in pareto_front(records, single)] == [3]


def test_best_breaks_ties_on_the_next_metric():
    records = [rec(0, 0.9, 30), rec(1, 0.9, 10), rec(2, 0.8, 1)]
    assert best_of(records, ACC_SIZE).number == 1
    assert best_of([], ACC_SIZE) is None


def test_store_keeps_the_front_incrementally_like_the_batch_function():
    import random

    rnd = random.Random(0)
    store = Results(ACC_SIZE)
    records = [rec(i, rnd.random(), rnd.random()) for i in range(60)]
    for r in records:
        store.put(r)
    snap = store.snapshot()
    assert list(snap.front) == pareto_front(records, ACC_SIZE)
    assert store.keep_numbers() == {r.number for r in snap.front} | {snap.best.number}


def test_a_snapshot_is_immutable_and_does_not_move():
    store = Results(ACC_SIZE, identity=Identity(name="s", strategy="tpe", protocol="p", budget=3))
    store.put(rec(0, 0.5, 5, state="running"))
    snap = store.snapshot()
    store.put(rec(0, 0.5, 5))
    store.put(rec(1, 0.7, 9))
    assert snap.counts == {"running": 1, "complete": 0, "failed": 0, "pruned": 0}
    assert snap.best is None and snap.trials[0].state == "running"
    later = store.snapshot()
    assert later.counts["complete"] == 2 and later.finished == 2
    assert "s: pending | 2/3 trials" in later.status_line()


def test_snapshots_taken_while_writing_are_consistent():
    store = Results(ACC_SIZE)

    def writer():
        for i in range(400):
            store.put(rec(i, 0.5, 5, state="running"))
            store.put(rec(i, (i * 37 % 101) / 101, i * 53 % 97))

    t = threading.Thread(target=writer)
    t.start()
    seen = 0
    while t.is_alive() or seen == 0:
        snap = store.snapshot()
        numbers = {r.number for r in snap.trials if r.state == "complete"}
        assert sum(snap.counts.values()) == len(snap.trials)
        assert {r.number for r in snap.front} <= numbers
        assert snap.best is None or snap.best.number in numbers
        seen += 1
    t.join()
