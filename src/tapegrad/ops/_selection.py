"""Which of several equal elements PyTorch's CPU kernels pick for topk and kthvalue.

When a row has no ties around the selected positions the answer is unique and a stable NumPy
sort gives it. At ties PyTorch's answer is whatever its selection algorithm leaves in place:
kthvalue runs its own median-of-three quickselect, and topk runs the C++ standard library's
partial_sort or nth_element (+ sort) as GCC's libstdc++ implements them (PyTorch's CPU wheels
are built with it). The functions below replay those algorithms on (value, index) rows, so
they are only called for the rows whose result depends on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Item = tuple  # (value, original index)
Before = Callable[[Item, Item], bool]


def _is_nan(value) -> bool:
    return value != value


def greater_nan_first(x: Item, y: Item) -> bool:
    """Strict order of topk(largest=True) and kthvalue: NaN above every number."""
    return (_is_nan(x[0]) and not _is_nan(y[0])) or x[0] > y[0]


def less_nan_last(x: Item, y: Item) -> bool:
    """Strict order of topk(largest=False): NaN after every number."""
    return (not _is_nan(x[0]) and _is_nan(y[0])) or x[0] < y[0]


# --- PyTorch's quickselect (kthvalue) ---------------------------------------------------------
def quickselect(row: list, k: int, greater: Before = greater_nan_first) -> Item:
    """PyTorch's kthvalue selection: median-of-three pivot, Sedgewick's partition loop.
    Returns the item left at position ``k`` (0-based) of ``row``, which it reorders."""
    left, right = 0, len(row) - 1
    while True:
        if right <= left:
            return row[k]
        if right == left + 1:
            if greater(row[left], row[right]):
                row[left], row[right] = row[right], row[left]
            return row[k]
        middle = (left + right) >> 1
        row[middle], row[left + 1] = row[left + 1], row[middle]
        if greater(row[left + 1], row[right]):
            row[left + 1], row[right] = row[right], row[left + 1]
        if greater(row[left], row[right]):
            row[left], row[right] = row[right], row[left]
        if greater(row[left + 1], row[left]):
            row[left + 1], row[left] = row[left], row[left + 1]
        i, j = left + 1, right
        pivot = row[left]
        while True:
            i += 1
            while greater(pivot, row[i]):
                i += 1
            j -= 1
            while greater(row[j], pivot):
                j -= 1
            if j < i:
                break
            row[i], row[j] = row[j], row[i]
        row[left], row[j] = row[j], row[left]
        if j <= k:
            left = i
        if j >= k:
            right = j - 1


# --- libstdc++'s heap, sort and nth_element (topk) --------------------------------------------
def _adjust_heap(row: list, first: int, hole: int, length: int, value: Item,
                 before: Before) -> None:
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if before(row[first + child], row[first + child - 1]):
            child -= 1
        row[first + hole] = row[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        row[first + hole] = row[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and before(row[first + parent], value):
        row[first + hole] = row[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    row[first + hole] = value


def _make_heap(row: list, first: int, last: int, before: Before) -> None:
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _adjust_heap(row, first, parent, length, row[first + parent], before)
        if parent == 0:
            return
        parent -= 1


def _pop_heap(row: list, first: int, last: int, result: int, before: Before) -> None:
    value = row[result]
    row[result] = row[first]
    _adjust_heap(row, first, 0, last - first, value, before)


def _heap_select(row: list, first: int, middle: int, last: int, before: Before) -> None:
    _make_heap(row, first, middle, before)
    for i in range(middle, last):
        if before(row[i], row[first]):
            _pop_heap(row, first, middle, i, before)


def _sort_heap(row: list, first: int, last: int, before: Before) -> None:
    while last - first > 1:
        last -= 1
        _pop_heap(row, first, last, last, before)


def partial_sort(row: list, first: int, middle: int, last: int, before: Before) -> None:
    """std::partial_sort: the smallest ``middle - first`` items, sorted, in front."""
    _heap_select(row, first, middle, last, before)
    _sort_heap(row, first, middle, before)


def _move_median_to_first(row: list, result: int, a: int, b: int, c: int,
                          before: Before) -> None:
    if before(row[a], row[b]):
        if before(row[b], row[c]):
            chosen = b
        elif before(row[a], row[c]):
            chosen = c
        else:
            chosen = a
    elif before(row[a], row[c]):
        chosen = a
    elif before(row[b], row[c]):
        chosen = c
    else:
        chosen = b
    row[result], row[chosen] = row[chosen], row[result]


def _partition_around_first(row: list, first: int, last: int, before: Before) -> int:
    middle = first + (last - first) // 2
    _move_median_to_first(row, first, first + 1, middle, last - 1, before)
    pivot = row[first]
    low, high = first + 1, last
    while True:
        while before(row[low], pivot):
            low += 1
        high -= 1
        while before(pivot, row[high]):
            high -= 1
        if not low < high:
            return low
        row[low], row[high] = row[high], row[low]
        low += 1


def _linear_insert(row: list, position: int, before: Before) -> None:
    value = row[position]
    previous = position - 1
    while before(value, row[previous]):
        row[position] = row[previous]
        position = previous
        previous -= 1
    row[position] = value


def _insertion_sort(row: list, first: int, last: int, before: Before) -> None:
    if first == last:
        return
    for i in range(first + 1, last):
        if before(row[i], row[first]):
            value = row[i]
            row[first + 1:i + 1] = row[first:i]
            row[first] = value
        else:
            _linear_insert(row, i, before)


_THRESHOLD = 16


def sort(row: list, first: int, last: int, before: Before) -> None:
    """std::sort: introsort, then a final insertion sort."""
    if first == last:
        return
    _introsort(row, first, last, 2 * int(math.log2(last - first)), before)
    if last - first > _THRESHOLD:
        _insertion_sort(row, first, first + _THRESHOLD, before)
        for i in range(first + _THRESHOLD, last):
            _linear_insert(row, i, before)
    else:
        _insertion_sort(row, first, last, before)


def _introsort(row: list, first: int, last: int, depth: int, before: Before) -> None:
    while last - first > _THRESHOLD:
        if depth == 0:
            partial_sort(row, first, last, last, before)
            return
        depth -= 1
        cut = _partition_around_first(row, first, last, before)
        _introsort(row, cut, last, depth, before)
        last = cut


def nth_element(row: list, first: int, nth: int, last: int, before: Before) -> None:
    """std::nth_element: introselect, finished by insertion sort on at most three items."""
    if first == last or nth == last:
        return
    depth = 2 * int(math.log2(last - first))
    while last - first > 3:
        if depth == 0:
            _heap_select(row, first, nth + 1, last, before)
            row[first], row[nth] = row[nth], row[first]
            return
        depth -= 1
        cut = _partition_around_first(row, first, last, before)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(row, first, last, before)


def topk_row(values: list, k: int, largest: bool, sorted: bool) -> list[int]:
    """Indices PyTorch's CPU topk returns for one row (its loop in TopKImpl.h)."""
    row = [(value, index) for index, value in enumerate(values)]
    before = greater_nan_first if largest else less_nan_last
    if k * 64 <= len(row):
        partial_sort(row, 0, k, len(row), before)
    else:
        nth_element(row, 0, k - 1, len(row), before)
        if sorted:
            sort(row, 0, k - 1, before)
    return [index for _, index in row[:k]]


def kthvalue_row(values: list, k: int) -> int:
    """Index PyTorch's CPU kthvalue returns for one row (``k`` is 0-based here)."""
    return quickselect([(value, index) for index, value in enumerate(values)], k)[1]


def _less(x: Item, y: Item) -> bool:
    return x[0] < y[0]


def mode_row(values: list) -> tuple:
    """(value, index) PyTorch's CPU mode returns for one row: it sorts (value, index) pairs by
    value with std::sort, then keeps the end of the first longest run of equal values."""
    row = [(value, index) for index, value in enumerate(values)]
    sort(row, 0, len(row), _less)
    best = row[0]
    best_count = count = 0
    for position, item in enumerate(row):
        count += 1
        if position == len(row) - 1 or item[0] != row[position + 1][0]:
            if count > best_count:
                best, best_count = item, count
            count = 0
    return best
