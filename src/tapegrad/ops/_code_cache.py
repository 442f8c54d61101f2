"""Compiled code of the functions the registry generates, cached between runs in a file
beside the bytecode (as .pyc files are), keyed by source text or by a key naming it."""

from __future__ import annotations

import marshal
import os
import sys
import types
from collections.abc import Callable
from typing import Any


def _code_cache_path() -> str:
    """Where compiled generated code is kept between runs, beside the .pyc files."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    if sys.pycache_prefix:
        folder = os.path.join(sys.pycache_prefix, folder.lstrip(os.sep))
    return os.path.join(folder, f"generated.{sys.implementation.cache_tag}.marshal")


def _load_code_cache() -> dict[str, types.CodeType]:
    try:
        with open(_code_cache_path(), "rb") as file:
            cached = marshal.load(file)
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    return cached if isinstance(cached, dict) else {}


# Compiled generated code by source text: loaded from the cache file written by an earlier
# run (like a .pyc, for this Python version), then filled as ops register.
_CODE_CACHE: dict[str, types.CodeType] = _load_code_cache()
_CODE_USED: dict[str, types.CodeType] = {}


def save_code_cache() -> None:
    """Write the generated code this run used, when it differs from the cache file (skipped
    where Python writes no bytecode, or where the folder is not writable)."""
    if sys.dont_write_bytecode or _CODE_USED.keys() == _CODE_CACHE.keys():
        return
    path = _code_cache_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            marshal.dump(_CODE_USED, file)
        os.replace(temporary, path)
    except OSError:
        pass


def generate(name: str, source: str | Callable[[], str], namespace: dict[str, Any],
              parameter_names: tuple = (), key: str | None = None) -> Callable:
    """Make function ``name`` from ``source`` (which defines ``generated``) in ``namespace``,
    its first parameters renamed to ``parameter_names`` when given.

    Many ops share a signature, so the compiled code is cached by source text (or by ``key``,
    then ``source`` may be a function that writes it only when the cache misses) and only the
    function object (with the op's own globals) is made per op: compiling is most of import.
    """
    if key is None:
        key = source  # type: ignore[assignment]
    code = _CODE_USED.get(key) or _CODE_CACHE.get(key)  # type: ignore[arg-type]
    if code is None:
        text = source if isinstance(source, str) else source()
        module = compile(text, "<tapegrad generated>", "exec")
        code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    _CODE_USED[key] = code  # type: ignore[index]
    variables = code.co_varnames
    if parameter_names:
        if set(parameter_names) & set(variables[len(parameter_names):]):
            raise TypeError(f"{name}: a parameter is named like a local of generated code")
        variables = parameter_names + variables[len(parameter_names):]
    function = types.FunctionType(code.replace(co_name=name, co_varnames=variables),
                                  namespace, name)
    function.__qualname__ = name
    return function
