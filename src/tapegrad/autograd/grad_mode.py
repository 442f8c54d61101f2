"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode (all thread-local)."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any


class _GradState(threading.local):
    """Per-thread switches read on the hot path; plain attributes so a read is one lookup."""

    def __init__(self) -> None:
        self.enabled = True
        self.inference = False


STATE = _GradState()


def is_grad_enabled() -> bool:
    """See torch.is_grad_enabled."""
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    """See torch.is_inference_mode_enabled."""
    return STATE.inference


class _DecoratorContextManager:
    """A context manager that also works as a decorator, on functions and generators."""

    def __call__(self, func: Callable) -> Callable:
        if inspect.isclass(func):
            raise RuntimeError("grad-mode objects cannot decorate classes")
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def generator_wrapper(*args: Any, **kwargs: Any):
                generator = func(*args, **kwargs)
                with self.clone():
                    response = generator.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            generator.close()
                        raise
                    except BaseException as error:
                        with self.clone():
                            response = generator.throw(error)
                    else:
                        with self.clone():
                            response = generator.send(request)

            return generator_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any):
            with self.clone():
                return func(*args, **kwargs)

        return wrapper

    def clone(self) -> _DecoratorContextManager:
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Disable gradient recording inside the block; see torch.no_grad."""

    def __init__(self) -> None:
        self.previous = True

    def __enter__(self) -> None:
        self.previous = STATE.enabled
        STATE.enabled = False

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self.previous


class enable_grad(_DecoratorContextManager):
    """Enable gradient recording inside the block; see torch.enable_grad."""

    def __init__(self) -> None:
        self.previous = True

    def __enter__(self) -> None:
        self.previous = STATE.enabled
        STATE.enabled = True

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self.previous


class set_grad_enabled(_DecoratorContextManager):
    """Switch gradient recording on or off; works as a call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        self.previous = STATE.enabled
        self.mode = bool(mode)
        STATE.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self.previous

    def __call__(self, func: Callable) -> Callable:
        # Used as a decorator: undo the switch made in __init__, apply it per call instead.
        STATE.enabled = self.previous
        return super().__call__(func)

    def clone(self) -> set_grad_enabled:
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like no_grad, and tensors made inside are marked as inference tensors; see
    torch.inference_mode."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self.previous = (True, False)

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode) and not isinstance(mode, bool):
            # Used as a bare decorator: @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __enter__(self) -> None:
        self.previous = (STATE.enabled, STATE.inference)
        if self.mode:
            STATE.enabled = False
            STATE.inference = True
        else:
            STATE.inference = False
        _refresh_modes()

    def __exit__(self, *exc: object) -> None:
        STATE.enabled, STATE.inference = self.previous
        _refresh_modes()

    def clone(self) -> inference_mode:
        return self.__class__(self.mode)


def _refresh_modes() -> None:
    # Inference mode marks the tensors it makes, through dispatch's interposition flag.
    from ._modes import MODES

    MODES.refresh()
