"""utils.data against PyTorch: collation, batching, samplers, random_split, errors."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import tapegrad
import tapegrad.utils.data as data


def _same(result, expected) -> None:
    if isinstance(expected, torch.Tensor):
        assert isinstance(result, tapegrad.Tensor)
        assert result.dtype.name == str(expected.dtype).split(".")[1]
        np.testing.assert_array_equal(result.numpy(), expected.numpy())
    elif isinstance(expected, dict):
        assert list(result) == list(expected)
        for key in expected:
            _same(result[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert type(result) is type(expected) and len(result) == len(expected)
        for r, e in zip(result, expected):
            _same(r, e)
    else:
        assert result == expected


Point = namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [(1, 2.0), (3, 4.0)],
    [{"a": np.ones(2, np.float32), "b": 1}, {"a": np.zeros(2, np.float32), "b": 2}],
    [True, False],
    [["a", 1], ["b", 2]],
    [Point(1.5, 2), Point(2.5, 3)],
    [np.float32(1), np.float32(2)],
])
def test_default_collate_matches_torch(batch) -> None:
    _same(data.default_collate(batch), tdata.default_collate(batch))


def test_collate_stacks_tensors_and_keeps_dtype() -> None:
    batch = data.default_collate([tapegrad.ones(2, dtype=tapegrad.float64), tapegrad.zeros(2,
                                                                          dtype=tapegrad.float64)])
    assert batch.shape == (2, 2) and batch.dtype == tapegrad.float64


def test_dataloader_batches_drop_last_and_len() -> None:
    inputs = tapegrad.arange(10.0).reshape(10, 1)
    targets = tapegrad.arange(10)
    dataset = data.TensorDataset(inputs, targets)
    loader = data.DataLoader(dataset, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][1].tolist() == [0, 1, 2, 3]
    assert len(data.DataLoader(dataset, batch_size=4, drop_last=True)) == 2
    assert [b[1].tolist() for b in data.DataLoader(dataset, batch_size=4, drop_last=True)] == \
        [[0, 1, 2, 3], [4, 5, 6, 7]]
    single = list(data.DataLoader(dataset, batch_size=None))
    assert len(single) == 10 and single[3][1].item() == 3


def test_shuffle_is_a_seeded_permutation() -> None:
    dataset = data.TensorDataset(tapegrad.arange(20))

    def order(seed):
        generator = tapegrad.Generator().manual_seed(seed)
        loader = data.DataLoader(dataset, batch_size=5, shuffle=True, generator=generator)
        return [v for (batch,) in loader for v in batch.tolist()]

    assert sorted(order(0)) == list(range(20))
    assert order(0) == order(0)
    assert order(0) != order(1)
    tapegrad.manual_seed(3)
    first = [b.tolist() for (b,) in data.DataLoader(dataset, batch_size=20, shuffle=True)]
    tapegrad.manual_seed(3)
    again = [b.tolist() for (b,) in data.DataLoader(dataset, batch_size=20, shuffle=True)]
    assert first == again


def test_samplers_and_custom_collate() -> None:
    dataset = list(range(10))
    assert list(data.SequentialSampler(dataset)) == list(range(10))
    batches = list(data.BatchSampler(data.SequentialSampler(dataset), 3, drop_last=False))
    assert batches == list(tdata.BatchSampler(tdata.SequentialSampler(dataset), 3, False))
    assert len(data.BatchSampler(range(10), 3, True)) == 3
    sampler = data.RandomSampler(dataset, generator=tapegrad.Generator().manual_seed(0))
    assert sorted(sampler) == list(range(10)) and len(sampler) == 10
    drawn = list(data.RandomSampler(dataset, replacement=True, num_samples=25))
    assert len(drawn) == 25 and all(0 <= i < 10 for i in drawn)
    loader = data.DataLoader(dataset, batch_sampler=[[0, 1], [5, 6, 7]], collate_fn=sum)
    assert list(loader) == [1, 18]
    loader = data.DataLoader(dataset, sampler=[9, 8, 7], batch_size=2)
    assert [b.tolist() for b in loader] == [[9, 8], [7]]


def test_random_split_lengths_and_fractions() -> None:
    generator = tapegrad.Generator().manual_seed(0)
    parts = data.random_split(range(10), [3, 7], generator=generator)
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    parts = data.random_split(range(11), [0.5, 0.3, 0.2])
    expected = tdata.random_split(range(11), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [len(p) for p in expected]
    assert isinstance(parts[0], data.Subset)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(range(10), [3, 3])


def test_errors_match_torch() -> None:
    dataset = list(range(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        data.DataLoader(dataset, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        data.DataLoader(dataset, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="disables auto-batching"):
        data.DataLoader(dataset, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        data.BatchSampler(dataset, 0, False)
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        data.TensorDataset(tapegrad.zeros(3), tapegrad.zeros(4))


def test_subset_concat_and_iterable_dataset() -> None:
    subset = data.Subset(list("abcdef"), [4, 0])
    assert list(subset) == ["e", "a"] and len(subset) == 2
    joined = data.ConcatDataset([[1, 2], [3]])
    assert [joined[i] for i in range(3)] == [1, 2, 3] and joined[-1] == 3

    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(range(5))

    assert [b.tolist() for b in data.DataLoader(Stream(), batch_size=2)] == [[0, 1], [2, 3], [4]]
