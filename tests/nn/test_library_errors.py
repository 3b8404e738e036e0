"""Misuse of the engine's objects is a TypeError or ValueError naming what was expected and
got, raised before any work: a seed for ``rng``, a dict for ``tapes``, another cell's cache,
``None`` for a state dict, ids outside the vocabulary, a layer too large for memory."""

import numpy as np
import pytest

from bptt.nn import GRU, LSTM, RNN, Embedding

RNG = np.random.default_rng


def test_a_seed_is_not_a_generator():
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator or None, got int"):
        RNN(3, 4, rng=0)


def test_tapes_must_be_a_list_and_are_checked_before_the_backward_runs():
    layer = RNN(3, 4, rng=RNG(0))
    out, _, cache = layer.forward(np.zeros((2, 1, 3), np.float32))
    with pytest.raises(TypeError, match="tapes: expected a list or None, got dict"):
        layer.backward(np.ones_like(out), cache, tapes={})


@pytest.mark.parametrize("maker", [GRU, LSTM])
def test_another_cells_cache_is_refused(maker):
    other = maker(3, 4, rng=RNG(0))
    _, _, cache = other.forward(np.zeros((2, 1, 3), np.float32))
    layer = RNN(3, 4, rng=RNG(0))
    with pytest.raises(TypeError, match="expected one from a rnn_tanh layer's forward"):
        layer.backward(np.zeros((2, 1, 4), np.float32), cache)


def test_load_state_dict_of_none_is_a_type_error():
    with pytest.raises(TypeError, match="state_dict: expected a dict"):
        RNN(3, 4, rng=RNG(0)).load_state_dict(None)


@pytest.mark.parametrize("ids", [[[-1]], [[5]], [[0.5]]])
def test_embedding_backward_refuses_ids_outside_the_vocabulary(ids):
    emb = Embedding(5, 3, rng=RNG(0))
    ids = np.array(ids)
    with pytest.raises(ValueError, match=r"ids: expected the integer ids of forward, in \[0, 5\)"):
        emb.backward(np.ones(ids.shape + (3,), np.float32), ids)


def test_a_layer_too_large_for_memory_is_refused_before_allocating():
    with pytest.raises(ValueError, match="hidden_size: expected a size whose parameters fit"):
        GRU(3, 10**7)
