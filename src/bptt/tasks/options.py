"""Every option a run is built from, with its default and help: model, training, task.

    MODEL_OPTIONS      the recurrent layer and batch size
    TASK_OPTIONS       the tasks' own options (one flat namespace: ``length`` serves two tasks)
    all_options()      name -> (default, help) of all of them, training options from TrainConfig
    used_options(task, options)   only those a run of the task reads (the printed config)
    default_options(task)   the built-in defaults with the task's own defaults over them

The command line shows these as flags (the name with dashes) and TOML keys (the name).
"""

from __future__ import annotations

from bptt.nn import CELLS
from bptt.train import option_table


def _one_of(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


MODEL_OPTIONS = {
    "cell": ("lstm", f"recurrent cell: {_one_of(CELLS)} (rnn is rnn_tanh)"),
    "hidden_size": (128, "hidden units per layer and direction"),
    "num_layers": (1, "stacked recurrent layers"),
    "bidirectional": (False, "read the sequence in both directions"),
    "dropout": (0.0, "dropout between recurrent layers, in training only"),
    "dtype": ("float32", "float32 or float64"),
    "backend": (
        "auto",
        "elementwise kernels of LSTM and GRU: numpy, numba (fused; needs "
        "numba), or auto (numba for float32 when installed)",
    ),
    "batch_size": (64, "sequences per minibatch"),
    "memory_budget": (
        "",
        "bytes the forward keeps for backward, e.g. 64MiB: the rest is recomputed (Gruslys "
        "et al.'s BPTT-HSM), the same gradients; '' keeps every step (full BPTT)",
    ),
    "output": (
        "softmax",
        "the head's loss: softmax (cross-entropy over classes), sigmoid_mse (squared error of "
        "sigmoid bits) or sigmoid_bce (binary cross-entropy of sigmoid bits)",
    ),
    "reduction": ("mean", "the loss of a batch: mean over its items, or sum"),
    "bias": (True, "biases in the recurrent layer and the head"),
    "init": (
        "torch",
        "weights: torch (PyTorch's init), uniform U(-s, s) or normal N(0, s^2), "
        "biases 0 (s: init_scale)",
    ),
    "init_scale": (1.0, "s of init uniform or normal"),
    "forget_bias": (0.0, "LSTM: the forget gates' bias at init, TensorFlow's forget_bias (0: off)"),
    "embedding_dropout": (0.0, "dropout on the recurrent layer's input, in training only"),
    "output_dropout": (0.0, "dropout on the head's input, in training only"),
    "tie_weights": (
        False,
        "text: the head's weight is the embedding (embedding_dim = hidden_size)",
    ),
}

TASK_OPTIONS = {
    "bits": (8, "addition: bits per number (least significant first)"),
    "length": (100, "adding: sequence length T; copy: number of symbols to copy"),
    "delay": (20, "copy: steps between the symbols and the delimiter"),
    "symbols": (8, "copy: size of the symbol alphabet"),
    "train_size": (0, "training examples for synthetic tasks (0: the task's default)"),
    "test_size": (0, "held-out test examples for synthetic tasks (0: the task's default)"),
    "view": ("rows", "mnist: rows (28 x 28), pixels (784 x 1) or permuted"),
    "data_dir": ("", "mnist: folder with the four IDX files (default: the download cache)"),
    "verify": (True, "mnist: check the files' MD5 sums against the published ones"),
    "validation_size": (5000, "mnist: training images held out for validation"),
    "text": ("", "text: path of a UTF-8 text file (default: the embedded sample)"),
    "seq_len": (100, "text: time steps per batch"),
    "embedding_dim": (
        64,
        "text and copy: size of the character embedding (0: one-hot inputs, min-char-rnn's)",
    ),
    "keep_partial": (False, "text: keep each stream's last, shorter window (PyTorch's get_batch)"),
}


# the options only some tasks read; every other option is read by every task
USED_BY = {
    "bits": ("addition",),
    "length": ("adding", "copy"),
    "delay": ("copy",),
    "symbols": ("copy",),
    "train_size": ("addition", "adding", "copy"),
    "test_size": ("addition", "adding", "copy"),
    "view": ("mnist",),
    "data_dir": ("mnist",),
    "verify": ("mnist",),
    "validation_size": ("mnist",),
    "text": ("text",),
    "seq_len": ("text",),
    "keep_partial": ("text",),
    "embedding_dim": ("text", "copy"),
    "tie_weights": ("text", "copy"),
}


SCHEDULE_OPTIONS = {
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine_warmup": ("warmup_steps", "min_lr"),
}


def used_options(task: str, options: dict) -> dict:
    """The options a run of ``task`` reads (config.json keeps them all): the task's own, and of
    the cell-specific ones only those of its cell (forget_bias: LSTM; backend: LSTM, GRU)."""
    unused = {name for name, tasks in USED_BY.items() if task not in tasks}
    if options.get("cell") != "lstm":
        unused.add("forget_bias")
    if options.get("cell") not in ("lstm", "gru"):
        unused.add("backend")
    if options.get("init") == "torch":
        unused.add("init_scale")
    if options.get("optimizer") != "adagrad":
        unused.update(("initial_accumulator", "eps_inside_sqrt"))
    if options.get("optimizer") == "sgd":
        unused.add("eps")
    if options.get("optimizer") not in ("sgd", "rmsprop"):
        unused.add("momentum")
    schedule_reads = SCHEDULE_OPTIONS.get(options.get("schedule"), ())
    unused.update(
        name
        for name in ("warmup_steps", "step_size", "gamma", "min_lr")
        if name not in schedule_reads
    )
    return {k: v for k, v in options.items() if k not in unused}


def all_options() -> dict[str, tuple[object, str]]:
    return {**MODEL_OPTIONS, **option_table(), **TASK_OPTIONS}


def default_options(task_defaults: dict) -> dict:
    """Every option's built-in default, with a task's own defaults over them."""
    return {**{name: default for name, (default, _) in all_options().items()}, **task_defaults}
