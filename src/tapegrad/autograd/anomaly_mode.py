"""Anomaly detection: the creation traceback of each node, and NaN checks in backward."""

from __future__ import annotations

import sys
import traceback
import warnings
from typing import Any


class _AnomalyState:
    enabled = False
    check_nan = True


STATE = _AnomalyState()


def is_anomaly_enabled() -> bool:
    return STATE.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return STATE.check_nan


class detect_anomaly:
    """Context manager: record where each node was made, and fail on NaN gradients."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self.previous = (False, True)
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        self.previous = (STATE.enabled, STATE.check_nan)
        STATE.enabled, STATE.check_nan = True, self.check_nan

    def __exit__(self, *exc: object) -> None:
        STATE.enabled, STATE.check_nan = self.previous


class set_detect_anomaly:
    """Switch anomaly detection on or off (also as a context manager)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.previous = (STATE.enabled, STATE.check_nan)
        STATE.enabled, STATE.check_nan = bool(mode), check_nan

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        STATE.enabled, STATE.check_nan = self.previous


def creation_trace() -> list[str]:
    """The user-side stack at node creation, without tapegrad's own frames."""
    frames = traceback.extract_stack(sys._getframe(2))
    return traceback.format_list([f for f in frames if "/tapegrad/" not in f.filename])


def annotate(node: Any, error: BaseException) -> None:
    """Attach where the failing node was created to an error raised in its backward."""
    trace = node._trace
    if trace and hasattr(error, "add_note"):
        error.add_note("Traceback of forward call that caused the error:\n" + "".join(trace))


def checked_apply(node: Any, grads: list) -> list:
    try:
        outputs = node.apply(grads)
    except Exception as error:
        annotate(node, error)
        raise
    if STATE.check_nan:
        for index, grad in enumerate(outputs):
            if grad is not None and grad._data.dtype.kind in "fc" and \
                    bool((grad._data != grad._data).any()):
                message = (f"Function '{node.name()}' returned nan values in its {index}th "
                           "output.")
                error = RuntimeError(message)
                annotate(node, error)
                raise error
    return outputs
