"""tapegrad.save / tapegrad.load in a data-only format: the safetensors layout (8-byte
little-endian header length, JSON header with dtype/shape/data_offsets per tensor, raw
little-endian bytes) plus a JSON description of the nesting, kept in the header's
``__metadata__``. Loading parses JSON and copies bytes: no code is ever run (no pickle)."""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from ._tensor import Tensor, wrap

__all__ = ["save", "load"]

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I8": np.int8,
           "I16": np.int16, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "BOOL": np.bool_,
           "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
           # Not in the safetensors specification; used only for complex tensors.
           "C64": np.complex64, "C128": np.complex128}
_CODES = {np.dtype(value): key for key, value in _DTYPES.items()}
_STRUCTURE_KEY = "tapegrad.structure"
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors reference reader's limit
_MAX_DEPTH = 200


# --- writing ---------------------------------------------------------------------------------
class _Writer:
    """Collects tensors (each object once) and describes everything else as JSON."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}
        self.names: dict[int, str] = {}

    def describe(self, value: Any, path: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"tapegrad.save: object nested more than {_MAX_DEPTH} levels deep")
        if isinstance(value, Tensor):
            return self._tensor(value, path)
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)):
            return {"int": str(int(value))}  # as text: JSON numbers lose big ints elsewhere
        if isinstance(value, (float, np.floating)):
            return {"float": repr(float(value))}  # repr round-trips, and names inf/nan
        if isinstance(value, complex):
            return {"complex": [repr(value.real), repr(value.imag)]}
        if isinstance(value, np.ndarray):
            return {"ndarray": self._tensor(wrap(value), path)}
        if isinstance(value, dict):
            kind = "odict" if isinstance(value, OrderedDict) else "dict"
            items = []
            for key, item in value.items():
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise TypeError(f"tapegrad.save: dict keys must be str, int, float, bool or "
                                    f"None, not {type(key).__name__}")
                child = f"{path}.{key}" if path else str(key)
                items.append([self.describe(key, child, depth + 1),
                              self.describe(item, child, depth + 1)])
            return {kind: items}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {kind: [self.describe(item, f"{path}.{index}" if path else str(index),
                                         depth + 1) for index, item in enumerate(value)]}
        raise TypeError(f"tapegrad.save can store tensors, numbers, strings, None and dicts, "
                        f"lists and tuples of them (a data-only format); got "
                        f"{type(value).__name__}")

    def _tensor(self, tensor: Tensor, path: str) -> dict:
        from .nn.parameter import Parameter

        name = self.names.get(id(tensor))
        if name is None:
            array = tensor._data
            if array.dtype not in _CODES:
                raise TypeError(f"tapegrad.save: unsupported dtype {tensor.dtype}")
            name = path or "tensor"
            if name in self.tensors or name == "__metadata__":
                suffix = 1
                while f"{name}#{suffix}" in self.tensors:
                    suffix += 1
                name = f"{name}#{suffix}"
            self.tensors[name] = array
            self.names[id(tensor)] = name
        description: dict[str, Any] = {"tensor": name}
        if isinstance(tensor, Parameter):
            description["parameter"] = True
        if tensor.requires_grad:
            description["requires_grad"] = True
        return description


def _encode(obj: Any) -> bytes:
    writer = _Writer()
    if isinstance(obj, Tensor):
        structure = writer.describe(obj, "tensor")
    else:
        structure = writer.describe(obj, "")
    header: dict[str, Any] = {"__metadata__": {"format": "pt", _STRUCTURE_KEY:
                                               json.dumps(structure, separators=(",", ":"))}}
    chunks = []
    offset = 0
    for name, array in writer.tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
        raw = data.tobytes()
        header[name] = {"dtype": _CODES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad, so that the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save(obj: Any, f: str | os.PathLike | IO[bytes], pickle_module: Any = None,
         pickle_protocol: int = 2, _use_new_zipfile_serialization: bool = True) -> None:
    """Write tensors and state_dicts (nested dicts/lists of tensors and numbers) to ``f`` in
    the data-only safetensors layout; see torch.save (no pickle is used)."""
    if pickle_module is not None:
        raise ValueError("tapegrad.save never pickles: pickle_module is not supported")
    payload = _encode(obj)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as handle:
            handle.write(payload)
    else:
        f.write(payload)


# --- reading ---------------------------------------------------------------------------------
def _fail(message: str) -> ValueError:
    return ValueError(f"tapegrad.load: {message}")


def _read_all(f: str | os.PathLike | IO[bytes] | bytes) -> bytes:
    if isinstance(f, (bytes, bytearray, memoryview)):
        return bytes(f)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as handle:
            return handle.read()
    return f.read()


def _parse_header(blob: bytes) -> tuple[dict, memoryview]:
    if len(blob) < 8:
        raise _fail(f"the file is truncated: {len(blob)} bytes, fewer than the 8 that hold the "
                    "header length")
    if blob[:2] == b"PK" or blob[:1] == b"\x80":
        raise _fail("this looks like a pickle or zip file (as written by torch.save); tapegrad "
                    "reads only the data-only safetensors format and never unpickles. Convert "
                    "it with safetensors.torch.save_file in PyTorch.")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > _MAX_HEADER:
        raise _fail(f"the header length {size} is larger than the {_MAX_HEADER}-byte limit "
                    "(not a safetensors file, or a corrupt one)")
    if 8 + size > len(blob):
        raise _fail(f"the file is truncated: the header needs {size} bytes but only "
                    f"{len(blob) - 8} follow the length")
    try:
        header = json.loads(blob[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(f"the header is not valid UTF-8 JSON ({error})") from None
    if not isinstance(header, dict):
        raise _fail("the header must be a JSON object")
    return header, memoryview(blob)[8 + size:]


def _read_tensors(header: dict, data: memoryview) -> dict[str, np.ndarray]:
    entries = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in entry.items()):
                raise _fail("__metadata__ must map strings to strings")
            continue
        if not isinstance(entry, dict):
            raise _fail(f"the entry of tensor {name!r} is not an object")
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if dtype not in _DTYPES:
            raise _fail(f"tensor {name!r} has an unknown dtype {dtype!r}")
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(type(s) is int and s >= 0 for s in shape)):
            raise _fail(f"tensor {name!r} has an invalid shape {shape!r} (a list of at most 64 "
                        "non-negative integers is required)")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(type(o) is int for o in offsets)):
            raise _fail(f"tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end:
            raise _fail(f"tensor {name!r} has data_offsets {offsets} that are not increasing")
        if end > len(data):
            raise _fail(f"tensor {name!r} has data_offsets {offsets} past the end of the data "
                        f"({len(data)} bytes): the file is truncated or corrupt")
        itemsize = np.dtype(_DTYPES[dtype]).itemsize
        expected = math.prod(shape) * itemsize  # Python ints: absurd shapes cannot overflow
        if end - begin != expected:
            raise _fail(f"tensor {name!r} of shape {shape} and dtype {dtype} needs {expected} "
                        f"bytes but its data_offsets {offsets} hold {end - begin}")
        entries.append((begin, end, name, dtype, shape))
    entries.sort()
    position = 0
    for begin, end, name, _, _ in entries:
        if begin != position:
            raise _fail(f"tensor {name!r} starts at byte {begin}, expected {position}: the data "
                        "has gaps or overlapping tensors")
        position = end
    if position != len(data):
        raise _fail(f"the data is {len(data)} bytes but the tensors cover {position}")
    arrays = {}
    for begin, end, name, dtype, shape in entries:
        little = np.dtype(_DTYPES[dtype]).newbyteorder("<")
        array = np.frombuffer(data[begin:end], dtype=little).reshape(shape)
        arrays[name] = array.astype(np.dtype(_DTYPES[dtype]), copy=True)
    return arrays


class _Reader:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.made: dict[tuple, Tensor] = {}

    def build(self, node: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise _fail(f"the structure is nested more than {_MAX_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, str)):
            return node
        if not isinstance(node, dict) or len(node) == 0:
            raise _fail(f"invalid structure entry {str(node)[:80]!r}")
        if "tensor" in node:
            return self._tensor(node)
        if len(node) != 1:
            raise _fail(f"invalid structure entry {str(node)[:80]!r}")
        ((kind, value),) = node.items()
        try:
            if kind == "int" and isinstance(value, str) and len(value) < 5000:
                return int(value)
            if kind == "float" and isinstance(value, str):
                return float(value)
            if kind == "complex" and isinstance(value, list) and len(value) == 2:
                return complex(float(value[0]), float(value[1]))
        except ValueError:
            raise _fail(f"invalid number {str(value)[:80]!r}") from None
        if kind == "ndarray":
            if not isinstance(value, dict) or "tensor" not in value:
                raise _fail("invalid ndarray entry")
            return self._tensor(value)._data
        if kind in ("list", "tuple") and isinstance(value, list):
            items = [self.build(item, depth + 1) for item in value]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "odict") and isinstance(value, list):
            result: dict = OrderedDict() if kind == "odict" else {}
            for pair in value:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _fail("invalid dict entry in the structure")
                key = self.build(pair[0], depth + 1)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise _fail("invalid dict key in the structure")
                result[key] = self.build(pair[1], depth + 1)
            return result
        raise _fail(f"unknown structure entry {kind!r}")

    def _tensor(self, node: dict) -> Tensor:
        from .nn.parameter import Parameter

        name = node["tensor"]
        if not isinstance(name, str) or name not in self.arrays:
            raise _fail(f"the structure names a tensor {str(name)[:80]!r} that the header lacks")
        parameter = node.get("parameter") is True
        requires_grad = node.get("requires_grad") is True
        key = (name, parameter, requires_grad)
        tensor = self.made.get(key)
        if tensor is None:
            tensor = wrap(self.arrays[name])
            if parameter:
                tensor = Parameter(tensor, requires_grad=requires_grad)
            elif requires_grad:
                tensor.requires_grad_(True)
            self.made[key] = tensor
        return tensor


def load(f: str | os.PathLike | IO[bytes] | bytes, map_location: Any = None,
         pickle_module: Any = None, *, weights_only: bool | None = None, mmap: Any = None,
         **pickle_load_args: Any) -> Any:
    """Read what save wrote (or any safetensors file, as a dict of tensors); see torch.load.

    Only JSON and raw bytes are parsed, so a hostile file cannot run code; a corrupt one
    raises ValueError saying what is wrong."""
    if pickle_module is not None:
        raise ValueError("tapegrad.load never unpickles: pickle_module is not supported")
    if map_location is not None:
        from ._tensor import check_device

        if not callable(map_location) and not isinstance(map_location, dict):
            check_device(map_location)
    header, data = _parse_header(_read_all(f))
    arrays = _read_tensors(header, data)
    metadata = header.get("__metadata__") or {}
    text = metadata.get(_STRUCTURE_KEY)
    if text is None:  # a plain safetensors file, e.g. from safetensors.torch.save_file
        return {name: wrap(array) for name, array in arrays.items()}
    try:
        structure = json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail(f"the structure description is not valid JSON ({error})") from None
    return _Reader(arrays).build(structure)
