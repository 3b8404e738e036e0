"""The AdamW update rule, as torch.optim.AdamW; notation and saving in ``bptt.optim``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bptt.optim.adam import Adam


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: Adam with the weight decay decoupled from the gradient.

        theta <- theta * (1 - lr * wd)
        then Adam's update with wd = 0 (see ``Adam``).

    State: as Adam.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
