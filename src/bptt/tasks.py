"""Level 7: the classic tasks, each as data + the model that fits it + its own final report.

    addition   the explainer's binary addition: bits of a and b in, bits of a + b out
               (tagger, 2 classes per step; report: exact sums on held-out pairs)
    adding     the adding problem of length T (regressor on the last step; report: test MSE)
    copy       the copy / memory task across a delay (tagger with an embedding)
    mnist      MNIST read row by row, pixel by pixel, or in a permuted pixel order (classifier)
    text       a character language model on any UTF-8 file (tagger with an embedding,
               stateful streams, truncated BPTT)

A task is built from one flat options dict (``TASK_OPTIONS`` plus the model options), so a run
directory's ``config.json`` is enough to rebuild its model for ``eval``, ``sample`` and
``predict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bptt.batching import ArrayBatches, StreamBatches
from bptt.data import (
    Vocabulary,
    adding_problem,
    binary_addition,
    bits_to_int,
    copy_task,
    load_mnist,
    load_text,
    mnist_sequences,
    split_text,
    train_validation_split,
)
from bptt.models import SequenceClassifier, SequenceRegressor, SequenceTagger

# task-specific options: name -> (default, help)
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
    "embedding_dim": (64, "text and copy: size of the character embedding"),
}

# per-task defaults for model and training options, applied under the user's own values
TASK_DEFAULTS = {
    "addition": {
        "cell": "rnn_tanh",
        "hidden_size": 16,
        "epochs": 20,
        "batch_size": 32,
        "lr": 0.01,
        "train_size": 4000,
        "test_size": 10000,
    },
    "adding": {
        "cell": "lstm",
        "hidden_size": 128,
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-2,
        "train_size": 20000,
        "test_size": 2000,
        "clip_norm": 1.0,
    },
    "copy": {
        "cell": "lstm",
        "hidden_size": 64,
        "epochs": 20,
        "batch_size": 64,
        "lr": 2e-3,
        "train_size": 10000,
        "test_size": 1000,
        "length": 10,
        "clip_norm": 1.0,
    },
    "mnist": {
        "cell": "lstm",
        "hidden_size": 128,
        "epochs": 30,
        "batch_size": 128,
        "lr": 2e-3,
        "schedule": "cosine_warmup",
        "warmup_steps": 500,
        "clip_norm": 1.0,
    },
    "text": {
        "cell": "lstm",
        "hidden_size": 256,
        "num_layers": 2,
        "epochs": 30,
        "batch_size": 32,
        "lr": 2e-3,
        "clip_norm": 5.0,
        "eval_every": 100,
        "patience": 10,
    },
}

EMBEDDED_TEXT = Path(__file__).with_name("sample.txt")


@dataclass
class TaskData:
    train: object
    validation: object
    test: object
    input_size: int
    output_size: int
    model: str  # classifier | tagger | regressor
    vocab_size: int | None = None
    vocabulary: Vocabulary | None = None
    extra: dict = field(default_factory=dict)


def _split_synthetic(make, opts: dict, seed: int):
    """Train / validation / test draws from independent generators derived from the seed."""
    n_train, n_test = opts["train_size"], opts["test_size"]
    rngs = [np.random.default_rng([seed, 1000 + k]) for k in range(3)]
    return make(n_train, rngs[0]), make(max(n_test // 5, 1), rngs[1]), make(n_test, rngs[2])


def load_task(name: str, opts: dict, seed: int) -> TaskData:
    """Build the data of task ``name`` from the resolved options."""
    dtype = np.dtype(opts.get("dtype", "float32"))
    if name == "addition":
        bits = opts["bits"]
        parts = _split_synthetic(lambda n, r: binary_addition(n, r, bits, dtype), opts, seed)
        sets = [
            ArrayBatches(xs, ys, opts["batch_size"], per_step_targets=True)
            for xs, ys, _, _ in parts
        ]
        return TaskData(
            *sets, input_size=2, output_size=2, model="tagger", extra={"test_pairs": parts[2]}
        )
    if name == "adding":
        parts = _split_synthetic(
            lambda n, r: adding_problem(n, opts["length"], r, dtype), opts, seed
        )
        sets = [ArrayBatches(xs, ys[:, None], opts["batch_size"]) for xs, ys in parts]
        return TaskData(*sets, input_size=2, output_size=1, model="regressor")
    if name == "copy":
        parts = _split_synthetic(
            lambda n, r: copy_task(n, r, opts["delay"], opts["length"], opts["symbols"]), opts, seed
        )
        sets = [ArrayBatches(x, y, opts["batch_size"], per_step_targets=True) for x, y in parts]
        return TaskData(
            *sets,
            input_size=opts["embedding_dim"],
            output_size=opts["symbols"] + 1,
            model="tagger",
            vocab_size=opts["symbols"] + 2,
        )
    if name == "mnist":
        data = load_mnist(opts["data_dir"] or None, verify=opts.get("verify", True))
        tr, va = train_validation_split(
            len(data.train_labels), opts["validation_size"], np.random.default_rng([seed, 2000])
        )
        sets = []
        for images, labels in (
            (data.train_images[tr], data.train_labels[tr]),
            (data.train_images[va], data.train_labels[va]),
            (data.test_images, data.test_labels),
        ):
            xs, ys = mnist_sequences(images, labels, opts["view"], permutation_seed=seed)
            sets.append(ArrayBatches(xs.astype(dtype, copy=False), ys, opts["batch_size"]))
        D = 28 if opts["view"] == "rows" else 1
        return TaskData(*sets, input_size=D, output_size=10, model="classifier")
    if name == "text":
        text = load_text(opts["text"] or EMBEDDED_TEXT)
        vocab = Vocabulary.from_text(text)
        train_ids, val_ids = split_text(vocab.encode(text), 0.1)
        train, val = (
            StreamBatches(ids, opts["batch_size"], opts["seq_len"]) for ids in (train_ids, val_ids)
        )
        return text_task_data(vocab, opts, train, val)
    raise ValueError(f"task: expected one of {sorted(TASK_DEFAULTS)}, got {name!r}")


def text_task_data(vocab: Vocabulary, opts: dict, train=None, validation=None) -> TaskData:
    """The character model's shape from its vocabulary; the data sets are optional (sampling
    needs only the vocabulary saved with the run)."""
    return TaskData(
        train,
        validation,
        validation,
        input_size=opts["embedding_dim"],
        output_size=len(vocab),
        model="tagger",
        vocab_size=len(vocab),
        vocabulary=vocab,
    )


def build_model(data: TaskData, opts: dict, rng: np.random.Generator):
    """The model for a task's data, from the model options."""
    kw = {
        "num_layers": opts["num_layers"],
        "bidirectional": opts["bidirectional"],
        "dropout": opts["dropout"],
        "vocab_size": data.vocab_size,
        "dtype": np.dtype(opts["dtype"]),
        "rng": rng,
        "backend": opts.get("backend", "auto"),  # runs saved before it existed have none
    }
    args = (opts["cell"], data.input_size, opts["hidden_size"], data.output_size)
    if data.model == "classifier":
        return SequenceClassifier(*args, **kw)
    if data.model == "regressor":
        return SequenceRegressor(*args, readout="last", **kw)
    return SequenceTagger(*args, **kw)


def addition_report(model, pairs) -> dict:
    """Exact sums: the share of held-out pairs whose every output bit is right."""
    xs, ys, a, b = pairs
    model.eval()
    logits, _ = model.logits(xs.astype(model.dtype))
    predicted = bits_to_int(logits.argmax(axis=2))  # (N,)
    return {"exact_sums": float((predicted == a + b).mean()), "pairs": int(len(a))}


def predict_sum(model, a: int, b: int, bits: int) -> int:
    """Run the trained adder on one pair of integers."""
    from bptt.data import int_to_bits

    limit = 2 ** (bits - 1)
    for name, v in (("a", a), ("b", b)):
        if not 0 <= v < limit:
            raise ValueError(
                f"{name}: expected an integer in [0, {limit}) for a model trained "
                f"on {bits} bits, got {v}"
            )
    xs = np.stack([int_to_bits(np.array([a]), bits), int_to_bits(np.array([b]), bits)], axis=-1)
    logits, _ = model.eval().logits(xs.astype(model.dtype))  # (T, 1, 2)
    return int(bits_to_int(logits.argmax(axis=2))[0])


def sample_text(
    model, vocab: Vocabulary, prime: str, length: int, temperature: float, rng: np.random.Generator
) -> str:
    """Generate ``length`` characters after ``prime`` by sampling the softmax at temperature."""
    if temperature <= 0:
        raise ValueError(f"temperature: expected a positive number, got {temperature}")
    model.eval()
    ids = vocab.encode(prime or vocab.chars[0])
    logits, state = model.logits(ids[:, None])  # (T, 1, V)
    out = []
    for _ in range(length):
        z = logits[-1, 0].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        logits, state = model.logits(np.array([[nxt]]), state=state)
    return (prime or vocab.chars[0]) + vocab.decode(np.array(out, dtype=np.int64))
