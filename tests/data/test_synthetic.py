"""Synthetic tasks: shapes, dtypes, determinism and the truth of each task's rule."""

import numpy as np
import pytest

from bptt.data import adding_problem, binary_addition, bits_to_int, copy_task, int_to_bits


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- bits ----


def test_int_to_bits_is_lsb_first_and_inverts():
    bits = int_to_bits(np.array([6, 1, 255]), 8)
    assert bits.shape == (8, 3) and bits.dtype == np.int64
    np.testing.assert_array_equal(bits[:, 0], [0, 1, 1, 0, 0, 0, 0, 0])  # 6 = 0b110
    values = rng().integers(0, 2**12, (5, 7))
    np.testing.assert_array_equal(bits_to_int(int_to_bits(values, 12)), values)


def test_bits_errors():
    with pytest.raises(ValueError, match=r"\[0, 2\*\*4\)"):
        int_to_bits(np.array([16]), 4)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*4\)"):
        int_to_bits(np.array([-1]), 4)
    with pytest.raises(TypeError, match="integers"):
        int_to_bits(np.array([1.0]), 4)
    with pytest.raises(ValueError, match="only 0 and 1"):
        bits_to_int(np.array([0, 2]))


# ---- binary addition ----


@pytest.mark.parametrize("bits", [2, 8, 16])
def test_binary_addition_targets_are_the_sum(bits):
    xs, ys, a, b = binary_addition(200, rng(bits), bits=bits)
    assert xs.shape == (bits, 200, 2) and xs.dtype == np.float32
    assert ys.shape == (bits, 200) and ys.dtype == np.int64
    assert a.max() < 2 ** (bits - 1) and b.max() < 2 ** (bits - 1) and min(a.min(), b.min()) >= 0
    np.testing.assert_array_equal(bits_to_int(ys), a + b)
    np.testing.assert_array_equal(bits_to_int(xs[:, :, 0].astype(np.int64)), a)
    np.testing.assert_array_equal(bits_to_int(xs[:, :, 1].astype(np.int64)), b)


def test_binary_addition_is_deterministic_for_a_seed():
    first = binary_addition(50, rng(3))
    again = binary_addition(50, rng(3))
    other = binary_addition(50, rng(4))
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[2], other[2])


def test_binary_addition_errors():
    with pytest.raises(ValueError, match="^n: "):
        binary_addition(0, rng())
    with pytest.raises(ValueError, match="at least 2"):
        binary_addition(3, rng(), bits=1)
    with pytest.raises(TypeError, match="Generator"):
        binary_addition(3, np.random.RandomState(0))


# ---- adding problem ----


@pytest.mark.parametrize("length", [2, 3, 50, 101])
def test_adding_problem_has_two_markers_one_per_half(length):
    xs, ys = adding_problem(300, length, rng(length))
    assert xs.shape == (length, 300, 2) and ys.shape == (300,)
    assert xs.dtype == ys.dtype == np.float32
    marks = xs[:, :, 1]
    assert set(np.unique(marks)) <= {0.0, 1.0}
    np.testing.assert_array_equal(marks.sum(axis=0), 2)
    half = length // 2
    np.testing.assert_array_equal(marks[:half].sum(axis=0), 1)
    np.testing.assert_array_equal(marks[half:].sum(axis=0), 1)
    np.testing.assert_allclose(ys, (xs[:, :, 0] * marks).sum(axis=0), rtol=1e-6)
    values = xs[:, :, 0]
    assert values.min() >= 0.0 and values.max() < 1.0 and values.std() > 0.2


def test_adding_problem_is_deterministic_and_validates():
    np.testing.assert_array_equal(
        adding_problem(5, 20, rng(1))[0], adding_problem(5, 20, rng(1))[0]
    )
    assert adding_problem(5, 20, rng(1), dtype=np.float64)[1].dtype == np.float64
    with pytest.raises(ValueError, match="length"):
        adding_problem(5, 1, rng())
    with pytest.raises(ValueError, match="^n: "):
        adding_problem(-1, 10, rng())


# ---- copy task ----


@pytest.mark.parametrize("delay, length, n_symbols", [(1, 1, 1), (20, 10, 8), (7, 3, 5)])
def test_copy_task_layout(delay, length, n_symbols):
    inputs, targets = copy_task(40, rng(delay), delay=delay, length=length, n_symbols=n_symbols)
    T = 2 * length + delay
    assert inputs.shape == targets.shape == (T, 40)
    assert inputs.dtype == targets.dtype == np.int64
    symbols = inputs[:length]
    assert symbols.min() >= 1 and symbols.max() <= n_symbols
    np.testing.assert_array_equal(targets[length + delay :], symbols)  # recalled at the end
    np.testing.assert_array_equal(targets[: length + delay], 0)
    np.testing.assert_array_equal(inputs[length : length + delay - 1], 0)
    np.testing.assert_array_equal(inputs[length + delay - 1], n_symbols + 1)  # delimiter
    np.testing.assert_array_equal(inputs[length + delay :], 0)
    assert (inputs == n_symbols + 1).sum() == 40  # exactly one delimiter per sequence


def test_copy_task_is_deterministic_and_validates():
    a = copy_task(10, rng(5))
    b = copy_task(10, rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    assert len(np.unique(copy_task(200, rng(0), n_symbols=8)[0][:10])) == 8
    with pytest.raises(ValueError, match="delay"):
        copy_task(10, rng(), delay=0)
    with pytest.raises(ValueError, match="n_symbols"):
        copy_task(10, rng(), n_symbols=0)
