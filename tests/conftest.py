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

    from .test_surface import CASES, NAMES

    samples = [sample for op in OPS.values() for sample in op.samples or ()]
    errors = sum(1 for sample in samples if sample.error)
    terminalreporter.write_line(
        f"op table: {len(OPS)} primitives with {len(samples) - errors} samples and {errors} "
        f"error samples; {len(FUNCTIONS)} tapegrad functions and {len(METHODS)} Tensor methods "
        f"generated from it and its composites")
    terminalreporter.write_line(
        f"op surface (tests/test_surface.py): {len(NAMES)} names, each exercised against "
        f"PyTorch; {len(CASES)} composite calls")
