"""Tasks as numpy arrays (MNIST, character text, synthetic). Nothing here knows models."""

from bptt.data.idx import parse_idx, read_idx, read_idx_bytes
from bptt.data.mnist import (
    MNIST,
    DatasetNotFoundError,
    default_cache_dir,
    load_mnist,
    mnist_sequences,
    train_validation_split,
)
from bptt.data.synthetic import (
    adding_problem,
    binary_addition,
    bits_to_int,
    copy_task,
    int_to_bits,
)
from bptt.data.text import (
    SAMPLE_TEXT,
    Vocabulary,
    count_stream_batches,
    load_text,
    split_text,
    stream_batches,
)

__all__ = [
    "read_idx",
    "read_idx_bytes",
    "parse_idx",
    "MNIST",
    "DatasetNotFoundError",
    "default_cache_dir",
    "load_mnist",
    "mnist_sequences",
    "train_validation_split",
    "SAMPLE_TEXT",
    "Vocabulary",
    "load_text",
    "split_text",
    "stream_batches",
    "count_stream_batches",
    "binary_addition",
    "int_to_bits",
    "bits_to_int",
    "adding_problem",
    "copy_task",
]
