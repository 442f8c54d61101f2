"""tapegrad.save / load: round trips, PyTorch safetensors files, and hostile files (each a
clear ValueError, nothing executed)."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import tapegrad


def _bytes(obj) -> bytes:
    buffer = io.BytesIO()
    tapegrad.save(obj, buffer)
    return buffer.getvalue()


def test_round_trip_of_nested_state(tmp_path) -> None:
    model = tapegrad.nn.Sequential(tapegrad.nn.Linear(3, 4), tapegrad.nn.BatchNorm1d(4))
    optimizer = tapegrad.optim.Adam(model.parameters())
    model(tapegrad.randn(5, 3)).sum().backward()
    optimizer.step()
    weight = tapegrad.nn.Parameter(tapegrad.randn(2, 2, dtype=tapegrad.float64))
    obj = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
           "loss": 0.25, "big": 2**70, "special": [float("inf"), float("-inf")], "name": "run",
           "nothing": None, "pair": (1, True), "param": weight, "same": weight,
           "ints": tapegrad.arange(6).reshape(2, 3), 7: "int key"}
    path = tmp_path / "checkpoint.tg"
    tapegrad.save(obj, path)
    loaded = tapegrad.load(path)
    assert isinstance(loaded["model"], OrderedDict)
    assert list(loaded["model"]) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert loaded["model"][key].dtype == value.dtype
        np.testing.assert_array_equal(loaded["model"][key].numpy(), value.numpy())
    assert loaded["optimizer"]["param_groups"] == optimizer.state_dict()["param_groups"]
    np.testing.assert_array_equal(loaded["optimizer"]["state"][0]["exp_avg"].numpy(),
                                  optimizer.state[model[0].weight]["exp_avg"].numpy())
    assert loaded["epoch"] == 3 and loaded["loss"] == 0.25 and loaded["big"] == 2**70
    assert loaded["special"] == [float("inf"), float("-inf")] and loaded["pair"] == (1, True)
    assert loaded["name"] == "run" and loaded["nothing"] is None and loaded[7] == "int key"
    assert isinstance(loaded["param"], tapegrad.nn.Parameter) and loaded["param"].requires_grad
    assert loaded["same"] is loaded["param"]
    assert loaded["ints"].dtype == tapegrad.int64
    single = tapegrad.load(io.BytesIO(_bytes(tapegrad.tensor([1.5, 2.5]))))
    np.testing.assert_array_equal(single.numpy(), [1.5, 2.5])


def test_file_is_valid_safetensors_readable_by_the_reference_reader(tmp_path) -> None:
    from safetensors.numpy import load_file

    state = tapegrad.nn.Linear(3, 2).state_dict()
    path = tmp_path / "linear.safetensors"
    tapegrad.save(state, path)
    arrays = load_file(str(path))
    assert sorted(arrays) == ["bias", "weight"]
    np.testing.assert_array_equal(arrays["weight"], state["weight"].numpy())


def test_pytorch_safetensors_state_dict_loads_and_gives_same_outputs(tmp_path) -> None:
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3),
                                    torch.nn.ReLU(), torch.nn.Flatten(),
                                    torch.nn.Linear(3 * 4 * 4, 5))
    reference(torch.randn(4, 1, 6, 6))  # move the running statistics
    reference.eval()
    path = tmp_path / "torch.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    model = tapegrad.nn.Sequential(tapegrad.nn.Conv2d(1, 3, 3), tapegrad.nn.BatchNorm2d(3),
                                   tapegrad.nn.ReLU(), tapegrad.nn.Flatten(),
                                   tapegrad.nn.Linear(3 * 4 * 4, 5))
    result = model.load_state_dict(tapegrad.load(path))
    assert repr(result) == "<All keys matched successfully>"
    model.eval()
    inputs = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    expected = reference(torch.tensor(inputs)).detach().numpy()
    np.testing.assert_allclose(model(tapegrad.tensor(inputs)).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-6)


def _file(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


class _Boom:
    """Unpickling this would create ``path``: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


HOSTILE = {
    "empty": (b"", "truncated"),
    "truncated-length": (b"\x10\x00\x00", "truncated"),
    "truncated-header": (struct.pack("<Q", 200) + b'{"a":', "truncated"),
    "huge-header-length": (struct.pack("<Q", 2**63) + b"{}", "header length"),
    "not-json": (struct.pack("<Q", 4) + b"\xff\xfe{}", "not valid UTF-8 JSON"),
    "header-not-object": (_file([1, 2]), "JSON object"),  # type: ignore[arg-type]
    "unknown-dtype": (_file({"t": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}},
                            b"\0" * 4), "unknown dtype"),
    "negative-shape": (_file({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
                             b"\0" * 4), "invalid shape"),
    "absurd-shape": (_file({"t": {"dtype": "F32", "shape": [2**62, 2**62],
                                  "data_offsets": [0, 4]}}, b"\0" * 4), "needs"),
    "offsets-past-end": (_file({"t": {"dtype": "F32", "shape": [4],
                                      "data_offsets": [0, 16]}}, b"\0" * 8), "past the end"),
    "offsets-reversed": (_file({"t": {"dtype": "F32", "shape": [0],
                                      "data_offsets": [4, 0]}}, b"\0" * 4), "not increasing"),
    "overlapping": (_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                          b"\0" * 12), "overlapping"),
    "bad-structure": (_file({"__metadata__": {"tapegrad.structure": '{"eval": "1+1"}'}}),
                      "unknown structure entry"),
    "structure-missing-tensor": (_file({"__metadata__": {"tapegrad.structure":
                                                         '{"tensor": "nope"}'}}),
                                 "header lacks"),
    "deep-structure": (_file({"__metadata__": {"tapegrad.structure":
                                               '{"list":[' * 300 + "null" + "]}" * 300}}),
                       "nested"),
    "pickle": (None, "pickle"),
    "torch-save-zip": (None, "pickle or zip"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_raise_clear_errors(name: str, tmp_path) -> None:
    blob, message = HOSTILE[name]
    marker = tmp_path / "exploited"
    if name == "pickle":
        blob = pickle.dumps(_Boom(str(marker)))
    elif blob is None:
        path = tmp_path / "torch.pt"
        torch.save({"weight": torch.ones(2)}, path)
        blob = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        tapegrad.load(io.BytesIO(blob))
    assert not marker.exists()


def test_truncating_a_real_file_anywhere_is_an_error() -> None:
    blob = _bytes(tapegrad.nn.Linear(4, 3).state_dict())
    for cut in range(0, len(blob) - 1, 7):
        with pytest.raises(ValueError):
            tapegrad.load(io.BytesIO(blob[:cut]))


def test_save_rejects_objects_outside_the_data_format() -> None:
    with pytest.raises(TypeError, match="data-only format"):
        _bytes({"model": tapegrad.nn.Linear(2, 2)})
    with pytest.raises(ValueError, match="never pickles"):
        tapegrad.save({}, io.BytesIO(), pickle_module=pickle)
