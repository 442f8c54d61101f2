"""torch.utils for tapegrad: data (datasets and loaders) and checkpoint."""

import importlib as _importlib
from typing import Any as _Any

from . import data


def __getattr__(name: str) -> _Any:
    if name == "checkpoint":
        return _importlib.import_module(".checkpoint", __name__)
    raise AttributeError(f"module 'tapegrad.utils' has no attribute '{name}'")
