import ast

import pytest

from aimauto_nb.errors import CellError
from aimauto_nb.space.program import CellProgram


def test_code_replaces_markers_with_literals_and_stays_valid():
    src = (
        "from sklearn.tree import DecisionTreeClassifier\n"
        "model = DecisionTreeClassifier(max_depth=hp.int(1, 8), criterion=hp.choice(['gini', 'entropy']))\n"
    )
    prog = CellProgram(src)
    code = prog.code({"max_depth": 3, "criterion": "entropy"}, {"criterion": 1})
    assert "max_depth=3" in code and "criterion='entropy'" in code and "hp." not in code
    ast.parse(code)


def test_code_writes_back_the_source_of_an_object_choice():
    src = "model = hp.choice([RandomForestClassifier(n_estimators=10), SVC(C=2.0)])\n"
    code = CellProgram(src).code({"model": "SVC"}, {"model": 1})
    assert code == "model = SVC(C=2.0)\n"


def test_code_handles_unicode_and_unused_branches():
    src = "# é ü\nkind = hp.choice(['a', 'b'])\nif kind == 'b':\n    score = hp.float(0, 1)\nelse:\n    score = 1\n"
    code = CellProgram(src).code({"kind": "a"})
    assert "kind = 'a'" in code and "hp.float(0, 1)" in code
    ast.parse(code)


def test_code_for_computed_names_uses_a_lookup():
    src = "ws = []\nfor i in range(2):\n    ws.append(hp.int(1, 9, name=f'w{i}'))\nscore = sum(ws)\n"
    code = CellProgram(src).code({"w0": 3, "w1": 5})
    ns = {}
    exec(code, ns)
    assert ns["score"] == 8


def test_cell_must_define_model_or_score():
    with pytest.raises(CellError, match="must define `model`.*or\\s+`score`"):
        CellProgram("x = hp.int(1, 2)\n")


def test_syntax_error_names_the_cell_line():
    with pytest.raises(SyntaxError) as e:
        CellProgram("model = 1\nmodel = (\n")
    assert e.value.lineno == 2
