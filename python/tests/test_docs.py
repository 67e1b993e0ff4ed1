"""The examples in the package's docstrings run."""

import doctest

import latentflow


def test_docstring_examples():
    failures, tried = doctest.testmod(latentflow, verbose=False)
    assert tried > 0 and failures == 0
