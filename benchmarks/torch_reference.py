"""PyTorch's own accuracy on MNIST rows, as a reference for bptt's (a benchmark, not a test).

torch.nn.LSTM / GRU / RNN(tanh) of 128 units over the 28 rows of 28 pixels, a linear head
on the last hidden state, cross-entropy, Adam 1e-3, batch 128, 15 epochs: the plain recipe
people run in PyTorch. The split is bptt's own (``python -m bptt train mnist``): the same
5,000 validation images held out of the 60,000 (seed 0), the checkpoint with the best
validation accuracy, its accuracy on the 10,000 test images (never trained on, never used
to choose). Prints one line per cell and writes them as JSON with ``--json``.

    python benchmarks/torch_reference.py --data-dir ../shared/data/mnist [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from bptt.data import load_mnist, mnist_sequences, train_validation_split
from bptt.io import atomic_write_json

CELLS = ("lstm", "gru", "rnn_tanh")
SPLIT_SEED = 2000  # bptt's tasks/mnist.py draws the validation images with [seed, 2000]


def splits(data_dir: str | None, seed: int, validation_size: int, verify: bool = True):
    """(train, validation, test), each (xs (N, 28, 28) float32 batch-first, labels (N,))."""
    data = load_mnist(data_dir, download=False, verify=verify)
    tr, va = train_validation_split(
        len(data.train_labels), validation_size, np.random.default_rng([seed, SPLIT_SEED])
    )
    out = []
    for images, labels in (
        (data.train_images[tr], data.train_labels[tr]),
        (data.train_images[va], data.train_labels[va]),
        (data.test_images, data.test_labels),
    ):
        xs, ys = mnist_sequences(images, labels, "rows")  # (28, N, 28)
        out.append((np.ascontiguousarray(xs.transpose(1, 0, 2)), ys))  # (N, 28, 28)
    return out


def make_model(torch, cell: str, hidden: int):
    rnn = {
        "lstm": lambda: torch.nn.LSTM(28, hidden, batch_first=True),
        "gru": lambda: torch.nn.GRU(28, hidden, batch_first=True),
        "rnn_tanh": lambda: torch.nn.RNN(28, hidden, batch_first=True),
    }[cell]()

    class RowClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = rnn, torch.nn.Linear(hidden, 10)

        def forward(self, x):  # x (N, 28, 28) -> logits (N, 10)
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    return RowClassifier()


def accuracy(torch, model, xs: np.ndarray, ys: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(ys), batch):
            logits = model(torch.from_numpy(xs[i : i + batch]))
            right += int((logits.argmax(1).numpy() == ys[i : i + batch]).sum())
    model.train()
    return right / len(ys)


def train_cell(torch, cell: str, sets, args) -> dict:
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = sets
    torch.manual_seed(args.seed)
    model = make_model(torch, cell, args.hidden_size)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    order_rng = np.random.default_rng([args.seed, 1])
    best, best_state, best_epoch, steps = -1.0, None, 0, 0
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = order_rng.permutation(len(y_tr))
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = loss_fn(model(torch.from_numpy(x_tr[idx])), torch.from_numpy(y_tr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        val = accuracy(torch, model, x_va, y_va)
        if val > best:
            best, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return {
        "cell": cell,
        "steps": steps,
        "best_epoch": best_epoch,
        "validation_accuracy": best,
        "test_accuracy": accuracy(torch, model, x_te, y_te),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--data-dir", default=None, help="folder of the four MNIST files (no download)")
    add("--cells", nargs="+", choices=CELLS, default=list(CELLS), help="cells")
    add("--epochs", type=int, default=15, help="epochs")
    add("--lr", type=float, default=1e-3, help="Adam's learning rate")
    add("--batch-size", type=int, default=128, help="batch size")
    add("--hidden-size", type=int, default=128, help="hidden units")
    add("--validation-size", type=int, default=5000, help="training images held out")
    add("--seed", type=int, default=0, help="seed of the split, weights and order")
    add("--threads", type=int, default=None, help="torch threads (default: torch's)")
    add("--no-verify", action="store_true", help="skip the MD5 check of the files")
    add("--json", metavar="PATH", default=None, help="write results as JSON here, atomically")
    args = parser.parse_args()

    sets = splits(args.data_dir, args.seed, args.validation_size, not args.no_verify)
    import torch  # after the files are read: a bad file is reported without torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} threads; MNIST rows, "
        f"{len(sets[0][1])} train / {len(sets[1][1])} validation / {len(sets[2][1])} test; "
        f"Adam {args.lr}, batch {args.batch_size}, {args.epochs} epochs, hidden {args.hidden_size}"
    )
    print(
        f"{'cell':10s} {'steps':>7s} {'best epoch':>10s} {'val acc':>8s} {'test acc':>9s} {'s':>7s}"
    )
    rows = []
    for cell in args.cells:
        r = train_cell(torch, cell, sets, args)
        rows.append(r)
        print(
            f"{cell:10s} {r['steps']:7d} {r['best_epoch']:10d} {r['validation_accuracy']:8.4f} "
            f"{r['test_accuracy']:9.4f} {r['seconds']:7.1f}",
            flush=True,
        )
    if args.json:
        atomic_write_json(args.json, {"torch": torch.__version__, "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
