"""Shared fixtures: both libraries, float64 for gradient checks, seeded randomness."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seeded():
    np.random.seed(0)
    yield


def pytest_terminal_summary(terminalreporter):
    """Report the size of the op table the generic tests covered."""
    from tapegrad.ops import FUNCTIONS, METHODS, OPS

    samples = sum(len(op.samples or ()) for op in OPS.values())
    terminalreporter.write_line(
        f"op table: {len(OPS)} primitives with {samples} samples; {len(FUNCTIONS)} tapegrad "
        f"functions and {len(METHODS)} Tensor methods generated from it and its composites")
