"""Anomaly detection: the creation traceback of each node, and NaN checks in backward."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any


class _AnomalyState:
    """Process-wide switches, read once per op and per node: slots, so that a read is a
    specialized load (a class attribute read through an instance is not, in CPython 3.11)."""

    __slots__ = ("enabled", "check_nan")

    def __init__(self) -> None:
        self.enabled = False
        self.check_nan = True


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
    import traceback  # only anomaly mode needs it (3 ms to import)

    frames = traceback.extract_stack(sys._getframe(2))
    return traceback.format_list([f for f in frames if "/tapegrad/" not in f.filename])


# The file name of the code the registry generates (_code_cache.generate). Code compiled from
# a string elsewhere ("<string>": eval, exec, python -c) is the user's.
_GENERATED = ("<tapegrad generated>",)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_INTERNAL: dict = {}  # id(code) -> (code, is it tapegrad's own or generated code)
SITE_SHIFT = 32  # a creation site is id(code) << SITE_SHIFT plus an offset below 2 ** 32


def creation_site(frame: Any) -> int | None:
    """The first frame outside tapegrad, walking up from ``frame``, as one int: the id of its
    code shifted by SITE_SHIFT, plus its instruction offset (the line is looked up only when
    an error needs it: f_lineno is not free). One int, not a tuple: ints are not tracked by
    the garbage collector, whose passes grow with each tracked object a node keeps. _INTERNAL
    keeps the code alive, so that the id stays its own.

    Recorded for every node even without anomaly mode, so that an error in backward can name
    the user's line: a short walk with a per-code-object cache (no strings, no traceback).
    """
    internal = _INTERNAL
    last = None
    while frame is not None:
        code = frame.f_code
        # Keyed by id: hashing a code object hashes its bytecode. The entry keeps the code
        # object, so the id cannot be reused while the entry exists.
        entry = internal.get(id(code))
        if entry is None:
            name = code.co_filename
            entry = internal[id(code)] = (code, name.startswith(_PACKAGE) or name in _GENERATED)
        if not entry[1]:
            return (id(code) << SITE_SHIFT) + frame.f_lasti
        last = frame
        frame = frame.f_back
    return None if last is None else (id(last.f_code) << SITE_SHIFT) + last.f_lasti


def site_of(frame: Any, last_caller: list) -> int | None:
    """creation_site for the caller ``frame`` of a generated fast path, with the op's own
    cache ``last_caller``: [user code, its id << SITE_SHIFT, tapegrad composite, user code
    calling it, its id << SITE_SHIFT, the composite's own tapegrad caller or None]. A call
    from user code is remembered so that the op's next call from there costs one comparison
    (in the fast path); a call through one or two composites (x.view; x[a:b] through
    getitem) so that the next one costs a few here. Deeper or first-seen frames take
    creation_site's walk."""
    code = frame.f_code
    caller = frame.f_back
    if code is last_caller[2] and caller is not None:
        middle = last_caller[5]
        if middle is not None and caller.f_code is middle:
            caller = caller.f_back
        if caller is not None and caller.f_code is last_caller[3]:
            return last_caller[4] + caller.f_lasti
    entry = _INTERNAL.get(id(code))
    if entry is not None and not entry[1]:
        last_caller[0] = code
        last_caller[1] = id(code) << SITE_SHIFT
        return last_caller[1] + frame.f_lasti
    middle = None
    while entry is not None and caller is not None:
        caller_entry = _INTERNAL.get(id(caller.f_code))
        if caller_entry is None:
            break
        if not caller_entry[1]:  # user code, one or two frames up: remember the way
            last_caller[2:] = code, caller.f_code, id(caller.f_code) << SITE_SHIFT, middle
            return last_caller[4] + caller.f_lasti
        if middle is not None:
            break
        middle = caller.f_code
        caller = caller.f_back
    return creation_site(frame)


def _line_of(code: Any, offset: int) -> int | None:
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def annotate(node: Any, error: BaseException) -> None:
    """Attach where the failing node was created to an error raised in its backward."""
    trace = getattr(node, "_trace", None)
    if not trace or not hasattr(error, "add_note"):
        return
    if getattr(error, "_tapegrad_annotated", None) is node:
        return
    try:
        error._tapegrad_annotated = node  # type: ignore[attr-defined]
    except AttributeError:
        pass
    if isinstance(trace, int):
        code_id, offset = trace >> SITE_SHIFT, trace & ((1 << SITE_SHIFT) - 1)
        code = _INTERNAL[code_id][0]
        line = _line_of(code, offset)
        error.add_note(f"The failing node {node.name()} was created at {code.co_filename}:{line}"
                       f", in {code.co_name}. Enable anomaly detection with "
                       "torch.autograd.set_detect_anomaly(True) for the whole forward traceback.")
        return
    error.add_note("Traceback of forward call that caused the error:\n" + "".join(trace))


def checked_apply(node: Any, grads: list) -> list:
    try:
        outputs = node.apply(grads)
    except Exception as error:
        if node._trace and not isinstance(node._trace, int):
            warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that "
                          "caused the error:\n" + "".join(node._trace), stacklevel=2)
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
