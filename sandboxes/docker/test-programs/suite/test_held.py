# The instructor's pytest file of the table's Python suite programs (kind = "suite"):
# each program is the learner's module `held`. `test_secret` is hidden and comes first
# in the manifest; it hands the learner's code a secret, which nothing a learner sees
# may show. `test_held` passes only if the module really works.
import pytest

import held

SECRET = "hidden-input-7f3a9c"


def test_secret():
    assert held.keep(SECRET) is None


def test_held():
    assert held.value() == "sandbox held"
    assert held.double(21) == 42
    assert held.double(-4) == -8
    with pytest.raises(TypeError):
        held.double("x")
