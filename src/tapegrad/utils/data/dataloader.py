"""DataLoader and default_collate: batches from a dataset, in-process."""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..._tensor import Tensor
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

_NUMPY_KINDS = "biufc"


def default_convert(data: Any) -> Any:
    """NumPy arrays and scalars to tensors, recursively (no batching); see
    torch.utils.data.default_convert."""
    from ... import _creation

    if isinstance(data, np.ndarray) and data.dtype.kind in _NUMPY_KINDS:
        return _creation.as_tensor(data)
    if isinstance(data, np.generic) and data.dtype.kind in _NUMPY_KINDS:
        return _creation.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, tuple):
        return [default_convert(value) for value in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(value) for value in data]
    return data


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: tensors are stacked, numbers become tensors
    (float64 for Python floats, int64 for ints), dicts/tuples are collated field by field;
    see torch.utils.data.default_collate."""
    import tapegrad

    element = batch[0]
    if isinstance(element, Tensor):
        return tapegrad.stack(list(batch), 0)
    if isinstance(element, np.ndarray) and element.dtype.kind in _NUMPY_KINDS:
        return default_collate([tapegrad.as_tensor(sample) for sample in batch])
    if isinstance(element, np.generic) and element.dtype.kind in _NUMPY_KINDS:
        return tapegrad.as_tensor(np.array(batch))
    if isinstance(element, bool):
        return tapegrad.tensor(batch)
    if isinstance(element, float):
        return tapegrad.tensor(batch, dtype=tapegrad.float64)
    if isinstance(element, int):
        return tapegrad.tensor(batch)
    if isinstance(element, (str, bytes)):
        return batch
    if isinstance(element, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in element}
    if isinstance(element, tuple) and hasattr(element, "_fields"):
        return type(element)(*(default_collate(values) for values in zip(*batch)))
    if isinstance(element, collections.abc.Sequence):
        size = len(element)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(values) for values in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(element)}")


class DataLoader:
    """Iterate over a dataset in batches; see torch.utils.data.DataLoader.

    Loading always happens in the calling process: ``num_workers`` is accepted for
    compatibility, and batches come out in the same order as with PyTorch's workers.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context: Any = None,
                 generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self._is_iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle  # type: ignore
                       else SequentialSampler(dataset))  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._is_iterable
                                                  and self.batch_size is not None)

    def __iter__(self) -> Iterator[Any]:
        if self._is_iterable:
            yield from self._iterate_stream()
            return
        if self.batch_sampler is not None:
            fetch_many = getattr(self.dataset, "__getitems__", None)
            for indices in self.batch_sampler:
                samples = (fetch_many(indices) if fetch_many is not None
                           else [self.dataset[i] for i in indices])
                yield self.collate_fn(samples)
        else:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])

    def _iterate_stream(self) -> Iterator[Any]:
        stream = iter(self.dataset)
        if self.batch_size is None:
            for sample in stream:
                yield self.collate_fn(sample)
            return
        batch: list[Any] = []
        for sample in stream:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._is_iterable:
            length = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return length
            return length // self.batch_size if self.drop_last else -(-length // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)
