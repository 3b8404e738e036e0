"""The text of ``bptt explain``: an ``Explanation`` laid out for pencil and paper.

Every number is printed with 4 decimals (the inputs with 1), so the output is stable and each
line can be redone by hand from the lines above it. The prose comes from ``strings.py``
(English or Chinese); the formulas are the same in both. See ``numbers.py`` for the network.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from bptt.insight.explain.numbers import CELLS, EPS, TOL, Explanation
from bptt.insight.explain.strings import LANGUAGES, TEXT
from bptt.nn import make_cell

RNN_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
SYMBOLS = {
    "rnn.weight_ih_l0": "W_ih",
    "rnn.weight_hh_l0": "W_hh",
    "rnn.bias_ih_l0": "b_ih",
    "rnn.bias_hh_l0": "b_hh",
    "head.weight": "W_hy",
    "head.bias": "b_y",
}
EQUATIONS = {
    "rnn": [
        "  a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      h_t = tanh(a_t)      h_{-1} = 0",
    ],
    "lstm": [
        "  [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      h_{-1} = c_{-1} = 0",
        "  i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)",
        "  c_t = f * c_{t-1} + i * g      h_t = o * tanh(c_t)",
    ],
    "gru": [
        "  [a_r, a_z] = W_i[r,z] x_t + b_i[r,z] + W_h[r,z] h_{t-1} + b_h[r,z]      h_{-1} = 0",
        "  r = sigmoid(a_r)   z = sigmoid(a_z)   hn = W_hn h_{t-1} + b_hn",
        "  n = tanh(W_in x_t + b_in + r * hn)      h_t = (1 - z) * n + z * h_{t-1}",
    ],
}
COMMON = (
    "  y_t = W_hy h_t + b_y      loss_t = (y_t - target_t)^2      L = loss_0 + ... + loss_{T-1}"
)
BACKWARD = {
    "rnn": [
        "    dh_t = W_hy^T dL/dy_t + W_hh^T da_{t+1}",
        "    da_t = dh_t * (1 - h_t^2)          (tanh'(a_t) = 1 - h_t^2)",
    ],
    "lstm": [
        "    dh_t = W_hy^T dL/dy_t + W_hh^T da_{t+1}",
        "    dc_t = dc_{t+1} * f_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)",
        "    da_t = [dc_t * g_t * i_t(1 - i_t),  dc_t * c_{t-1} * f_t(1 - f_t),",
        "            dc_t * i_t * (1 - g_t^2),   dh_t * tanh(c_t) * o_t(1 - o_t)]   (i, f, g, o)",
    ],
    "gru": [
        "    dh_t = W_hy^T dL/dy_t + dh_{t+1} * z_{t+1} + W_hh^T dah_{t+1}",
        "    da_t = [da_n * hn_t * r_t(1 - r_t),  dh_t * (h_{t-1} - n_t) * z_t(1 - z_t),  da_n]",
        "    da_n = dh_t * (1 - z_t) * (1 - n_t^2)      (r, z, n: the input side)",
        "    dah_t = [da_t[r], da_t[z], da_n * r_t]     (the hidden side, inside the reset)",
    ],
}
SHARES = {
    "rnn": "    dW_ih = sum_t da_t x_t^T      dW_hh = sum_t da_t h_{t-1}^T      "
    "db_ih = db_hh = sum_t da_t",
    "lstm": "    dW_ih = sum_t da_t x_t^T      dW_hh = sum_t da_t h_{t-1}^T      "
    "db_ih = db_hh = sum_t da_t",
    "gru": "    dW_ih = sum_t da_t x_t^T      dW_hh = sum_t dah_t h_{t-1}^T\n"
    "    db_ih = sum_t da_t      db_hh = sum_t dah_t",
}


def _gates(ex: Explanation) -> tuple[str, ...]:
    return make_cell(CELLS[ex.cell]).gate_names


def _f(v: float) -> str:
    text = f"{v:.4f}"
    return "0.0000" if text == "-0.0000" else text


def _num(v: float) -> str:
    return f"{_f(v):>7}"


def _vec(a) -> str:
    return "[" + " ".join(_num(v) for v in np.ravel(a)) + "]"


def _xvec(a) -> str:
    return "[" + " ".join(f"{v:4.1f}" for v in np.ravel(a)) + "]"


def _width(text: str) -> int:
    """Columns on a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _rjust(text: str, width: int) -> str:
    return " " * max(width - _width(text), 0) + text


def _table(header: list[str], rows: list[list[str]], right: set[int], indent="  ") -> list[str]:
    widths = [max(_width(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [
            _rjust(c, w) if k in right else _ljust(c, w) for k, (c, w) in enumerate(zip(r, widths))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _blocks(blocks: list[tuple[str, list[tuple[str, np.ndarray]]]]) -> list[str]:
    """'head label = [vector]' lines, labels aligned across blocks, each head on its first line."""
    width = max(len(label) for _, pairs in blocks for label, _ in pairs)
    lines = []
    for head, pairs in blocks:
        pad = " " * len(head)
        lines += [
            f"{head if k == 0 else pad}{label:<{width}} = {_vec(v)}"
            for k, (label, v) in enumerate(pairs)
        ]
    return lines


def _row_labels(ex: Explanation) -> list[str]:
    gates = _gates(ex)
    if not gates:
        return [str(j) for j in range(ex.hidden_size)]
    return [f"{g}{j}" for g in gates for j in range(ex.hidden_size)]


def _params(ex: Explanation, params: dict) -> list[str]:
    W_ih, W_hh, b_ih, b_hh = (params[f"rnn.{n}"] for n in RNN_NAMES)
    rows = [
        [label, _vec(W_ih[r]), _vec(W_hh[r]), _num(b_ih[r]), _num(b_hh[r])]
        for r, label in enumerate(_row_labels(ex))
    ]
    lines = _table(["", "W_ih", "W_hh", "b_ih", "b_hh"], rows, right={3, 4})
    lines.append(f"  W_hy = {_vec(params['head.weight'])}      b_y = {_f(params['head.bias'][0])}")
    return lines


def _loss_sum(loss_t: np.ndarray, loss: float) -> str:
    terms = " + ".join(_f(v) for v in loss_t) if len(loss_t) <= 8 else "..."
    return f"  L = {terms} = {_f(loss)}"


def _forward_table(ex: Explanation) -> list[str]:
    rows = [
        [
            str(t),
            _xvec(ex.x[t]),
            _vec(ex.h[t]),
            _num(ex.y[t]),
            _num(ex.target[t]),
            _num(ex.loss_t[t]),
        ]
        for t in range(ex.steps)
    ]
    return _table(["t", "x_t", "h_t", "y_t", "target_t", "loss_t"], rows, right={0, 3, 4, 5})


def _gate_lines(ex: Explanation) -> list[str]:
    blocks, g = [], ex.gates
    W_ih, W_hh, b_ih, b_hh = (ex.params[f"rnn.{n}"] for n in RNN_NAMES)
    for t in range(ex.steps):
        head = f"  t = {t}   "
        p = "{-1}" if t == 0 else t - 1
        if ex.cell == "rnn":
            h_prev = ex.h[t - 1] if t else np.zeros(ex.hidden_size)
            pairs = [
                (f"W_ih x_{t} + b_ih", W_ih @ ex.x[t] + b_ih),
                (f"W_hh h_{p} + b_hh", W_hh @ h_prev + b_hh),
                (f"a_{t}", W_ih @ ex.x[t] + b_ih + W_hh @ h_prev + b_hh),
                (f"h_{t} = tanh(a_{t})", ex.h[t]),
            ]
        elif ex.cell == "lstm":
            pairs = [(name, g[name][t]) for name in ("i", "f", "g", "o")]
            pairs += [
                (f"c_{t} = f * c_{p} + i * g", ex.c[t]),
                (f"h_{t} = o * tanh(c_{t})", ex.h[t]),
            ]
        else:
            pairs = [(name, g[name][t]) for name in ("r", "z")]
            pairs += [
                (f"hn = W_hn h_{p} + b_hn", g["hn"][t]),
                (f"n = tanh(W_in x_{t} + b_in + r * hn)", g["n"][t]),
                (f"h_{t} = (1 - z) * n + z * h_{p}", ex.h[t]),
            ]
        blocks.append((head, pairs))
    return _blocks(blocks)


def _step3_pairs(ex: Explanation, t: int) -> list[tuple[str, np.ndarray]]:
    H, T, W_hh = ex.hidden_size, ex.steps, ex.params["rnn.weight_hh_l0"]
    last = t + 1 == T
    n = t + 1
    g = ex.gates
    pairs = [(f"W_hy^T dL/dy_{t}", ex.dh_from_output[t])]
    if ex.cell == "gru":
        pairs += [
            (f"dh_{n} * z_{n}", np.zeros(H) if last else ex.dh[n] * g["z"][n]),
            (f"W_hh^T dah_{n}", np.zeros(H) if last else ex.d_ah[n] @ W_hh),
            (f"dh_{t}", ex.dh[t]),
        ]
        p = "{-1}" if t == 0 else t - 1
        block = slice(2 * H, 3 * H)
        return pairs + [
            (f"da_{t}[n] = dh_{t} * (1 - z_{t}) * (1 - n_{t}^2)", ex.d_ax[t, block]),
            (f"da_{t}[z] = dh_{t} * (h_{p} - n_{t}) * z_{t}(1 - z_{t})", ex.d_ax[t, H : 2 * H]),
            (f"da_{t}[r] = da_{t}[n] * hn_{t} * r_{t}(1 - r_{t})", ex.d_ax[t, :H]),
            (f"dah_{t}[n] = da_{t}[n] * r_{t}", ex.d_ah[t, block]),
        ]
    pairs += [
        (f"W_hh^T da_{n}", np.zeros(H) if last else ex.d_ax[n] @ W_hh),
        (f"dh_{t}", ex.dh[t]),
    ]
    if ex.cell == "rnn":
        return pairs + [
            (f"1 - h_{t}^2", 1.0 - ex.h[t] ** 2),
            (f"da_{t} = dh_{t} * (1 - h_{t}^2)", ex.d_ax[t]),
        ]
    tanh_c = np.tanh(ex.c[t])
    p = "{-1}" if t == 0 else t - 1
    return pairs + [
        (f"dc_{n} * f_{n}", ex.dc_from_next[t]),
        (f"dh_{t} * o_{t} * (1 - tanh(c_{t})^2)", ex.dh[t] * g["o"][t] * (1.0 - tanh_c**2)),
        (f"dc_{t}", ex.dc[t]),
        (f"da_{t}[i] = dc_{t} * g_{t} * i_{t}(1 - i_{t})", ex.d_ax[t, :H]),
        (f"da_{t}[f] = dc_{t} * c_{p} * f_{t}(1 - f_{t})", ex.d_ax[t, H : 2 * H]),
        (f"da_{t}[g] = dc_{t} * i_{t} * (1 - g_{t}^2)", ex.d_ax[t, 2 * H : 3 * H]),
        (f"da_{t}[o] = dh_{t} * tanh(c_{t}) * o_{t}(1 - o_{t})", ex.d_ax[t, 3 * H :]),
    ]


def _entry_labels(name: str, shape: tuple, rows: list[str]) -> list[str]:
    symbol = "d" + SYMBOLS[name]
    if name == "head.bias":
        return [symbol]
    if name == "head.weight":
        return [f"{symbol}[0,{j}]" for j in range(shape[1])]
    if len(shape) == 1:
        return [f"{symbol}[{r}]" for r in rows]
    return [f"{symbol}[{r},{j}]" for r in rows for j in range(shape[1])]


def _shares(ex: Explanation, s: dict) -> list[str]:
    steps = [f"t={t}" for t in range(ex.steps)]
    header = [s["entry"], *steps, "|", s["sum"]]
    rows = []
    for name in SYMBOLS:
        per_step = ex.contributions[name].reshape(ex.steps, -1)  # (T, entries)
        total = ex.grads[name].ravel()
        labels = _entry_labels(name, ex.grads[name].shape, _row_labels(ex))
        for k, label in enumerate(labels):
            rows.append([label, *(_num(v) for v in per_step[:, k]), "|", _num(total[k])])
    return _table(header, rows, right=set(range(1, ex.steps + 3)))


def _check_lines(ex: Explanation, s: dict) -> list[str]:
    labels = {"dy": "dL/dy_t", "dh": "dL/dh_t", "dc": "dL/dc_t"}
    labels.update({name: "d" + symbol for name, symbol in SYMBOLS.items()})
    lines = [s["check"].format(eps=EPS)]
    for key, err in ex.fd_errors.items():
        verdict = s["ok"] if err <= TOL else s["failed"]
        lines.append(f"  {labels[key]:<8} {s['max_rel']} {err:.1e}   {verdict}")
    return lines


def render(ex: Explanation, lang: str = "en") -> str:
    """The five steps as text in ``lang`` ("en" or "zh")."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang: expected one of {LANGUAGES}, got {lang!r}")
    s, T = TEXT[lang], ex.steps
    pairs = [f"{sym} = {name}" for name, sym in SYMBOLS.items()]
    names = "  " + ", ".join(pairs[:3]) + ",\n  " + ", ".join(pairs[3:])
    out = [s["title"], ""]
    out.append(
        s["network"].format(
            cell=s[f"cell_{ex.cell}"], D=ex.x.shape[1], H=ex.hidden_size, T=T, seed=ex.seed
        )
    )
    out += [*EQUATIONS[ex.cell], COMMON, s["elementwise"], s["task"], ""]
    out.append(s["params"].format(names=names))
    if _gates(ex):
        out.append(s["rows_by_gate"].format(gates=", ".join(_gates(ex)), H=ex.hidden_size))
    out += [*_params(ex, ex.params), ""]

    out += [s["step1"], *_forward_table(ex), _loss_sum(ex.loss_t, ex.loss)]
    title = {"rnn": "preact_title", "lstm": "gates_title", "gru": "gru_gates_title"}[ex.cell]
    out += ["", s[title], *_gate_lines(ex)]
    out.append("")

    out += [s["step2"], "  dL/dy_t = 2 (y_t - target_t)"]
    rows = [[str(t), _num(ex.y[t] - ex.target[t]), _num(ex.dy[t])] for t in range(T)]
    out += [*_table(["t", "y_t - target_t", "dL/dy_t"], rows, right={0, 1, 2}), ""]

    out += [s["step3"], s["two_ways"]]
    if ex.cell != "rnn":
        out.append(s["cell_state_note" if ex.cell == "lstm" else "gru_copy_note"])
    out += [*BACKWARD[ex.cell], s["last_step_note"].format(T=T)]
    out += _blocks([(f"  t = {t}   ", _step3_pairs(ex, t)) for t in reversed(range(T))])
    out.append("")

    out += [s["step4"], s["same_weights"], SHARES[ex.cell]]
    out += ["    dW_hy = sum_t dL/dy_t h_t^T      db_y = sum_t dL/dy_t", s["h_minus_1"]]
    out += [*_shares(ex, s), "", *_check_lines(ex, s), ""]

    out += [s["step5"].format(lr=ex.lr), s["params_after"], *_params(ex, ex.params_after)]
    out.append(s["forward_again"])
    rows = [
        [str(t), _num(ex.y_after[t]), _num(ex.target[t]), _num(ex.loss_t_after[t])]
        for t in range(T)
    ]
    out += _table(["t", "y_t", "target_t", "loss_t"], rows, right={0, 1, 2, 3})
    out.append(_loss_sum(ex.loss_t_after, ex.loss_after))
    verdict = "lower" if ex.loss_after < ex.loss else "not_lower"
    out.append(s[verdict].format(before=ex.loss, after=ex.loss_after))
    return "\n".join(out) + "\n"
