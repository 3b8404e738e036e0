"""A character language model on any UTF-8 file (the shipped Shakespeare sample by default):
a tagger with an embedding over N contiguous streams, state carried between batches, so
truncated BPTT applies. The text is cut into three contiguous parts (``split_text_three_ways``):
the first 80% for training, the next 10% for validation (the best weights are chosen on it)
and the last 10% for the test split, read only for the final report.

Shapes: T = seq_len steps, N = batch_size streams, V characters.
"""

from __future__ import annotations

import numpy as np

from bptt.data import SAMPLE_TEXT, Vocabulary, load_text, split_text_three_ways
from bptt.nn import Model, SequenceTagger
from bptt.tasks.task import Task, TaskData
from bptt.train import StreamBatches

DEFAULTS = {
    "cell": "lstm",
    "hidden_size": 256,
    "num_layers": 2,
    "epochs": 30,
    "batch_size": 32,
    "lr": 2e-3,
    "clip_norm": 5.0,
    "eval_every": 100,
    "patience": 10,
}


def load(opts: dict, seed: int) -> TaskData:
    text = load_text(opts["text"] or SAMPLE_TEXT)
    vocab = Vocabulary.from_text(text)
    parts = split_text_three_ways(vocab.encode(text), 0.1, 0.1)
    keep = opts.get("keep_partial", False)
    train, val, test = (
        StreamBatches(ids, opts["batch_size"], opts["seq_len"], keep) for ids in parts
    )
    return task_data(vocab, opts, train, val, test)


def task_data(vocab: Vocabulary, opts: dict, train=None, validation=None, test=None) -> TaskData:
    """The character model's shape from its vocabulary; the data sets are optional (sampling
    needs only the vocabulary saved with the run)."""
    return TaskData(
        train,
        validation,
        test,
        input_size=opts["embedding_dim"],
        output_size=len(vocab),
        model=SequenceTagger,
        vocab_size=len(vocab),
        vocabulary=vocab,
    )


def sample_text(
    model: Model,
    vocab: Vocabulary,
    prime: str,
    length: int,
    temperature: float,
    rng: np.random.Generator,
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


TASK = Task("text", DEFAULTS, load)
