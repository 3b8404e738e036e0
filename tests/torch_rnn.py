"""The PyTorch reference of every cell: torch.nn.RNN / LSTM / GRU, and for ``rnn_sigmoid``
(which torch does not have: its RNN offers tanh and relu) a hand-written torch loop with
torch.sigmoid, parameters named and ordered as torch.nn.RNN's, so state_dicts load both ways.

    make_torch_rnn(torch, cell, D, H, **kw)              the torch module of a cell name
    run_torch_rnn(module, x, state0, lengths, batch_first)  output, final state; a ragged
        batch goes through pack_padded_sequence for torch's modules, as lengths to the loop
"""


def make_torch_rnn(torch, cell: str, D: int, H: int, **kw):
    if cell == "rnn_sigmoid":
        return sigmoid_rnn_class(torch)(D, H, **kw)
    if cell.startswith("rnn"):
        return torch.nn.RNN(D, H, nonlinearity=cell[4:], **kw)
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, **kw)


def run_torch_rnn(module, x, state0, lengths, batch_first: bool = False):
    if getattr(module, "hand_written", False):
        return module(x, state0, lengths)
    if lengths is None:
        return module(x, state0)
    import torch

    T = x.shape[1] if batch_first else x.shape[0]
    pack = torch.nn.utils.rnn
    packed = pack.pack_padded_sequence(
        x, torch.as_tensor(lengths), batch_first=batch_first, enforce_sorted=False
    )
    packed_out, state = module(packed, state0)
    out, _ = pack.pad_packed_sequence(packed_out, batch_first=batch_first, total_length=T)
    return out, state


def sigmoid_rnn_class(torch):
    nn = torch.nn

    class SigmoidRNN(nn.Module):
        """h_t = sigmoid(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), step by step in torch."""

        hand_written = True

        def __init__(
            self,
            D,
            H,
            num_layers=1,
            bias=True,
            batch_first=False,
            dropout=0.0,
            bidirectional=False,
            dtype=torch.float64,
        ):
            super().__init__()
            self.hidden_size, self.num_layers, self.bias = H, num_layers, bias
            self.batch_first, self.bidirectional = batch_first, bidirectional
            self.K = 2 if bidirectional else 1
            for layer in range(num_layers):
                d_in = D if layer == 0 else H * self.K
                for k in range(self.K):
                    sfx = f"l{layer}" + ("_reverse" if k else "")
                    shapes = {"weight_ih": (H, d_in), "weight_hh": (H, H)}
                    if bias:
                        shapes.update(bias_ih=(H,), bias_hh=(H,))
                    for name, shape in shapes.items():
                        p = nn.Parameter(torch.empty(shape, dtype=dtype).uniform_(-0.5, 0.5))
                        self.register_parameter(f"{name}_{sfx}", p)

        def forward(self, x, h0=None, lengths=None):
            if self.batch_first:
                x = x.transpose(0, 1)
            T, N, _ = x.shape
            if h0 is None:
                h0 = torch.zeros(self.num_layers * self.K, N, self.hidden_size, dtype=x.dtype)
            lengths = torch.full((N,), T) if lengths is None else torch.as_tensor(lengths)
            t = torch.arange(T)[:, None]
            valid = t < lengths[None, :]  # (T, N)
            rev = torch.where(valid, lengths[None, :] - 1 - t, t)  # reverse within each length
            cols = torch.arange(N)[None, :]
            layer_in, finals = x, []
            for layer in range(self.num_layers):
                outs = []
                for k in range(self.K):
                    sfx = f"l{layer}" + ("_reverse" if k else "")
                    w_ih, w_hh = (
                        getattr(self, f"weight_ih_{sfx}"),
                        getattr(self, f"weight_hh_{sfx}"),
                    )
                    xs = layer_in if k == 0 else layer_in[rev, cols]
                    h, ys = h0[layer * self.K + k], []
                    for step in range(T):
                        a = xs[step] @ w_ih.T + h @ w_hh.T
                        if self.bias:
                            a = (
                                a
                                + getattr(self, f"bias_ih_{sfx}")
                                + getattr(self, f"bias_hh_{sfx}")
                            )
                        h_new, m = torch.sigmoid(a), valid[step][:, None]
                        h = torch.where(m, h_new, h)
                        ys.append(torch.where(m, h_new, torch.zeros_like(h_new)))
                    out = torch.stack(ys)  # (T, N, H)
                    outs.append(out if k == 0 else out[rev, cols])
                    finals.append(h)
                layer_in = torch.cat(outs, dim=2)
            out = layer_in.transpose(0, 1) if self.batch_first else layer_in
            return out, torch.stack(finals)

    return SigmoidRNN
