import math

import pytest

from aimauto_nb import hp
from aimauto_nb.errors import SpaceError
from aimauto_nb.space.analysis import analyze
from aimauto_nb.space.markers import HP
from aimauto_nb.space.params import Param


def test_defaults_outside_a_search():
    assert hp.int(2, 12) == 7
    assert hp.int(1, 100, log=True) == 10
    assert hp.int(0, 10, step=5) == 5
    assert hp.float(0.0, 1.0) == 0.5
    assert math.isclose(hp.float(1e-4, 1e-2, log=True), 1e-3)
    assert hp.float(0.0, 1.0, step=0.25) == 0.5
    assert hp.choice(["a", "b"]) == "a"
    assert hp.int(2, 12, default=3) == 3
    assert hp.choice([1, 2, 3], default=2) == 2


def test_a_marked_cell_runs_as_plain_python():
    ns = {"hp": hp}
    exec("x = hp.int(2, 12)\ny = {'lr': hp.float(0.1, 0.3)}", ns)
    assert ns["x"] == 7 and math.isclose(ns["y"]["lr"], 0.2)


def test_trial_hp_asks_the_resolver_with_the_name():
    seen = {}

    def resolve(name, param):
        seen[name] = param
        return param.default_value()

    h = HP(resolve)
    h.int(1, 5, name="a")
    h.choice(["x"], name="b")
    assert set(seen) == {"a", "b"} and seen["a"].kind == "int"


def names(src):
    return [m.name for m in analyze(src).markers]


def test_names_from_keyword_assignment_and_dict_key():
    src = (
        "lr = hp.float(1e-3, 1, log=True)\n"
        "model = RF(max_depth=hp.int(2, 12), n_estimators=hp.int(10, 100) * 2)\n"
        "params = {'alpha': hp.float(0, 1)}\n"
        "x = hp.choice([1, 2], name='explicit')\n"
    )
    assert names(src) == ["lr", "max_depth", "n_estimators", "alpha", "explicit"]


def test_duplicate_names_are_qualified_by_the_called_name():
    src = (
        "if kind == 'rf':\n"
        "    model = RandomForestClassifier(max_depth=hp.int(2, 12))\n"
        "else:\n"
        "    model = LGBMClassifier(max_depth=hp.int(2, 8))\n"
    )
    assert names(src) == ["RandomForestClassifier.max_depth", "LGBMClassifier.max_depth"]


def test_ambiguous_names_ask_for_name_with_the_line():
    src = "a = f(depth=hp.int(1, 3))\nb = f(depth=hp.int(1, 4))\n"
    with pytest.raises(SpaceError, match=r"line 2: .*'depth'.*lines 1, 2.*name="):
        analyze(src)


def test_uninferable_marker_names_the_line():
    with pytest.raises(SpaceError, match=r"line 3: cannot infer a name for hp.choice"):
        analyze("import x\n\nf(hp.choice([1, 2]))\n")


@pytest.mark.parametrize(
    "src, message",
    [
        ("a = hp.int(5, 1)", "low > high"),
        ("a = hp.float(0, 1, log=True)", "log=True needs low > 0"),
        ("a = hp.choice([])", "at least one option"),
        ("a = hp.int('a', 3)", "bounds must be numbers"),
        ("a = hp.float(0, 1, step=-1)", "step must be a positive"),
        ("a = hp.int(1.5, 3)", "must be integers"),
        ("a = hp.int(1, 3, default=9)", "outside"),
    ],
)
def test_invalid_markers_are_rejected_with_the_line(src, message):
    with pytest.raises(SpaceError, match=f"line 1: .*{message}"):
        analyze("\n" * 0 + src)


def test_invalid_markers_are_rejected_at_run_time_too():
    with pytest.raises(SpaceError, match="low > high"):
        hp.int(5, 1)


def test_marker_with_computed_name_is_dynamic():
    space = analyze("for i in range(2):\n    w = hp.int(1, 4, name=f'w{i}')\n")
    assert space.dynamic and space.markers[0].name is None


def test_grid_values():
    assert Param("int", 1, 3).grid() == [1, 2, 3]
    assert Param("float", 0.0, 1.0, step=0.5).grid() == [0.0, 0.5, 1.0]
    assert Param("choice", options=("a", "b")).grid() == ["a", "b"]
    with pytest.raises(SpaceError, match="no step"):
        Param("float", 0.0, 1.0).grid()


def test_object_choices_get_readable_labels():
    class A:
        pass

    p = Param("choice", options=(A(), A(), "x"))
    assert p.labels == ("A", "A#1", "x")
    assert p.from_sampled("A#1") is p.options[1]


def test_markers_under_branches_make_the_space_conditional():
    flat = analyze("a = hp.int(1, 3)\nb = hp.float(0, 1)\nscore = a\n")
    assert not flat.conditional
    branchy = analyze("kind = hp.choice(['a', 'b'])\nif kind == 'a':\n    depth = hp.int(1, 3)\nscore = 1\n")
    assert branchy.conditional
    assert [m.conditional for m in branchy.markers] == [False, True]
    looped = analyze("for i in range(2):\n    w = hp.int(1, 3, name=f'w{i}')\nscore = 1\n")
    assert looped.conditional and looped.dynamic
