"""Shared fixtures: both libraries, float64 for gradient checks, seeded randomness."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seeded():
    np.random.seed(0)
    yield
