"""The feed-forward pieces around a recurrent layer, each with its backward.

    Linear:     y = x W^T + b          x (..., D) -> y (..., O);  W (O, D), b (O,)
                dx = dy W,  dW = sum over items of dy^T x,  db = sum over items of dy
    Embedding:  v = W[ids]             ids (...) int -> v (..., E);  W (V, E)
                dW[k] = sum of dv over the items whose id is k (repeated ids accumulate)

``forward`` returns ``(out, cache)``; ``backward(d_out, cache)`` returns ``(d_in, grads)`` with
grads keyed like ``params`` (PyTorch's names: ``weight``, ``bias``). Initialisation is
PyTorch's: Linear U(-1/sqrt(D), 1/sqrt(D)), Embedding N(0, 1). ``state_dict()`` and
``load_state_dict()`` are torch.nn.Linear's and torch.nn.Embedding's (values converted to the
layer's dtype, as torch does).
"""

from __future__ import annotations

import numpy as np

from bptt import checks as check
from bptt.nn import init


class Parameterized:
    """state_dict / load_state_dict over ``params``, for every layer and model."""

    params: dict[str, np.ndarray]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under PyTorch's names."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Copy values in place (``params`` references stay valid); every problem at once."""
        check.load_arrays_into(self.params, state_dict)


class Linear(Parameterized):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype=np.float32,
        rng: np.random.Generator | None = None,
    ):
        self.in_features = check.check_positive_int("in_features", in_features)
        self.out_features = check.check_positive_int("out_features", out_features)
        self.dtype = check.check_dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        bound = 1.0 / np.sqrt(in_features)
        # drawn in the layer's dtype: a float64 draw cast to float32 would triple the memory
        self.params = {"weight": init.uniform(rng, bound, (out_features, in_features), self.dtype)}
        if bias:
            self.params["bias"] = init.uniform(rng, bound, (out_features,), self.dtype)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (..., D) -> y (..., O)."""
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise TypeError(f"x: expected a numpy.ndarray (..., {self.in_features}), got {x!r:.60}")
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"x: expected {self.in_features} features in the last axis, got shape {x.shape}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"x: expected dtype {self.dtype} (the parameters' dtype), got {x.dtype}"
            )
        # one GEMM over all rows: x @ W.T on (T, N, D) would be T small products
        y = (x.reshape(-1, self.in_features) @ self.params["weight"].T).reshape(
            *x.shape[:-1], self.out_features
        )  # (..., O)
        if "bias" in self.params:
            y += self.params["bias"]
        return y, x

    def backward(self, dy: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """dy (..., O) -> dx (..., D), grads."""
        if not isinstance(x, np.ndarray) or x.ndim < 1 or x.shape[-1] != self.in_features:
            raise TypeError(
                f"x: expected the cache of this layer's forward, an array (..., "
                f"{self.in_features}), got {type(x).__name__} of shape {np.shape(x)}"
            )
        if np.shape(dy) != x.shape[:-1] + (self.out_features,):
            raise ValueError(
                f"dy: expected shape {x.shape[:-1] + (self.out_features,)} (the output's), "
                f"got {np.shape(dy)}"
            )
        if dy.dtype != self.dtype:
            raise TypeError(f"dy: expected dtype {self.dtype} (the parameters'), got {dy.dtype}")
        W = self.params["weight"]
        dy2 = dy.reshape(-1, self.out_features)  # (items, O)
        grads = {"weight": dy2.T @ x.reshape(-1, self.in_features)}  # (O, D)
        if "bias" in self.params:
            grads["bias"] = dy2.sum(axis=0)
        dx = (dy2 @ W).reshape(*dy.shape[:-1], self.in_features)  # (..., D), one GEMM
        return dx, grads

    __call__ = forward


class Embedding(Parameterized):
    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        dtype=np.float32,
        rng: np.random.Generator | None = None,
    ):
        self.num_embeddings = check.check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check.check_positive_int("embedding_dim", embedding_dim)
        self.dtype = check.check_dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        self.params = {"weight": init.normal(rng, (num_embeddings, embedding_dim), self.dtype)}

    def forward(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ids (...) integers in [0, V) -> vectors (..., E)."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids: expected integer indices, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise ValueError(
                f"ids: expected values in [0, {self.num_embeddings}), "
                f"got min {ids.min()} and max {ids.max()}"
            )
        return self.params["weight"][ids], ids

    def backward(self, dv: np.ndarray, ids: np.ndarray) -> tuple[None, dict[str, np.ndarray]]:
        """dv (..., E) -> (None, grads); integer inputs have no gradient."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer) or (
            ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings)
        ):
            raise ValueError(
                f"ids: expected the integer ids of forward, in [0, {self.num_embeddings}), "
                f"got {ids.dtype} ids" + (f" from {ids.min()} to {ids.max()}" if ids.size else "")
            )
        if np.shape(dv) != ids.shape + (self.embedding_dim,):
            raise ValueError(
                f"dv: expected shape {ids.shape + (self.embedding_dim,)} (ids + (E,)), "
                f"got {np.shape(dv)}"
            )
        dW = np.zeros_like(self.params["weight"])  # (V, E)
        np.add.at(dW, ids.reshape(-1), dv.reshape(-1, self.embedding_dim))
        return None, {"weight": dW}

    __call__ = forward
