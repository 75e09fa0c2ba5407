"""The language model: embedding -> stacked RNN (lstm | gru | rnn | rnn-relu | peephole) -> head.

Standard cells use torch's nn.LSTM / nn.GRU / nn.RNN so cuDNN / oneDNN kernels do the work. The
peephole LSTM (Gers & Schmidhuber: gates also see the cell state) has no fused kernel; it runs the
cell math below one time step at a time and is several times slower to train.

The model owns both of its forward forms: ``forward`` (fused kernels, whole sequences) for training
and evaluation, and ``Stepper`` (one token per call, weights copied out) for sampling. Calling
nn.LSTM once per generated token costs far more framework overhead than the arithmetic of a small
model, so the stepper folds the embedding into the first layer's input projection (a table lookup
replaces a matmul) and runs each step as a handful of addmm and pointwise ops; with ``compact`` a
few streams read int8 copies of the matrices (``seqgen.compact``). The tests check that the two
forms agree for every cell, and that the compact step stays within rounding of float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seqgen.compact import StepWeight, int8_supported
from seqgen.config import ModelConfig

CPU = torch.device("cpu")

#: Recurrent state: a tuple of (layers, batch, hidden) tensors: (h, c) for LSTMs, (h,) otherwise.
State = tuple[Tensor, ...]


def lstm_step(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM update from pre-activations ``gates`` = W x + U h + b in i, f, o, g order.

    That order (torch's is i, f, g, o; see ``ifog``) lets one sigmoid cover all three gates.
    """
    hidden = c.shape[-1]
    sig = torch.sigmoid(gates[:, : 3 * hidden])
    c = torch.addcmul(sig[:, hidden: 2 * hidden] * c, sig[:, :hidden], torch.tanh(gates[:, 3 * hidden:]))
    return sig[:, 2 * hidden:] * torch.tanh(c), c


def ifog(hidden: int) -> Tensor:
    """Row order that turns torch's i, f, g, o gate blocks into lstm_step's i, f, o, g."""
    blocks = torch.arange(4 * hidden).view(4, hidden)
    return blocks[[0, 1, 3, 2]].reshape(-1)


def peephole_step(gates: Tensor, c: Tensor, peep: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM update whose input/forget gates see the old cell and output gate the new one.

    ``peep`` holds the three diagonal peephole weight vectors stacked as (3, hidden).
    """
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f + peep[1] * c) * c + torch.sigmoid(i + peep[0] * c) * torch.tanh(g)
    return torch.sigmoid(o + peep[2] * c) * torch.tanh(c), c


def gru_step(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """One GRU update from input and hidden projections (biases included), order r, z, n."""
    ir, iz, inn = gi.chunk(3, dim=-1)
    hr, hz, hn = gh.chunk(3, dim=-1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(inn + r * hn)
    return n + z * (h - n)


def weight_shapes(m: ModelConfig) -> dict[str, tuple[int, ...]]:
    """``LanguageModel(m).state_dict()``'s shapes, computed without building it, so a checkpoint's
    sizes can be checked before anything is allocated (a test pins the two together). Not a model
    on the meta device: its first ``normal_`` imports torch._dynamo, which doubled the start-up
    time of ``seqgen sample``."""
    gates = {"lstm": 4, "peephole": 4, "gru": 3}.get(m.cell, 1) * m.hidden
    shapes = {"embedding.weight": (m.vocab_size, m.embed)}
    for k in range(m.layers):
        shapes.update({f"rnn.weight_ih_l{k}": (gates, m.hidden if k else m.embed),
                       f"rnn.weight_hh_l{k}": (gates, m.hidden), f"rnn.bias_ih_l{k}": (gates,),
                       f"rnn.bias_hh_l{k}": (gates,)})
        if m.cell == "peephole":
            shapes[f"rnn.peep_l{k}"] = (3, m.hidden)
    return shapes | {"head.weight": (m.vocab_size, m.hidden), "head.bias": (m.vocab_size,)}


class PeepholeLSTM(nn.Module):
    """Stacked peephole LSTM with nn.LSTM's parameter names and layout (plus ``peep_l{k}``)."""

    def __init__(self, input_size: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.hidden, self.num_layers, self.dropout = hidden, layers, dropout
        for k in range(layers):
            size = input_size if k == 0 else hidden
            bound = 1 / math.sqrt(hidden)
            for name, shape in ((f"weight_ih_l{k}", (4 * hidden, size)), (f"weight_hh_l{k}", (4 * hidden, hidden)),
                                (f"bias_ih_l{k}", (4 * hidden,)), (f"bias_hh_l{k}", (4 * hidden,)),
                                (f"peep_l{k}", (3, hidden))):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        hs, cs = [], []
        for k in range(self.num_layers):
            if k:
                x = nn.functional.dropout(x, self.dropout, self.training)
            w_hh = getattr(self, f"weight_hh_l{k}")
            peep = getattr(self, f"peep_l{k}")
            # Input projections for all time steps in one matmul; only the recurrence loops.
            xw = nn.functional.linear(x, getattr(self, f"weight_ih_l{k}"),
                                      getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}"))
            h, c = state[0][k], state[1][k]
            outputs = []
            for t in range(x.shape[1]):
                h, c = peephole_step(torch.addmm(xw[:, t], h, w_hh.t()), c, peep)
                outputs.append(h)
            x = torch.stack(outputs, dim=1)
            hs.append(h)
            cs.append(c)
        return x, (torch.stack(hs), torch.stack(cs))


class LanguageModel(nn.Module):
    """Next-token predictor over a vocabulary of ``config.vocab_size`` ids."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed)
        between = c.dropout if c.layers > 1 else 0.0
        if c.cell == "peephole":
            self.rnn: nn.Module = PeepholeLSTM(c.embed, c.hidden, c.layers, between)
        else:
            kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "rnn-relu": nn.RNN}[c.cell]
            extra = {"nonlinearity": "relu"} if c.cell == "rnn-relu" else {}
            self.rnn = kind(c.embed, c.hidden, c.layers, batch_first=True, dropout=between, **extra)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        self._init_weights()
        if c.tie_weights:
            self.head.weight = self.embedding.weight

    @property
    def has_cell_state(self) -> bool:
        return self.config.cell in ("lstm", "peephole")

    def _init_weights(self) -> None:
        init = {
            "orthogonal": nn.init.orthogonal_,
            "xavier": nn.init.xavier_uniform_,
            "kaiming": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="linear"),
        }.get(self.config.init)
        hidden = self.config.hidden
        for name, param in self.rnn.named_parameters():
            if init and name.startswith("weight_"):
                for block in param.data.split(hidden):  # one gate's matrix at a time
                    init(block)
            if self.has_cell_state and name.startswith("bias_"):
                param.data.zero_()
                if name.startswith("bias_ih"):
                    param.data[hidden: 2 * hidden] = 1.0  # forget gate open: remember by default

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        shape = (self.config.layers, batch, self.config.hidden)
        count = 2 if self.has_cell_state else 1
        return tuple(torch.zeros(shape, device=device) for _ in range(count))

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits (batch, time, vocab) for token ids x (batch, time), and the state after them."""
        if state is None:
            state = self.init_state(x.shape[0], x.device)
        out, new = self.rnn(self.embedding(x), state if self.has_cell_state else state[0])
        new_state = tuple(new) if self.has_cell_state else (new,)
        return self.head(self.drop(out)), new_state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def stepper(self, compact: bool = False, device: torch.device | str = "cpu") -> Stepper:
        """The single-step inference form of this model (a snapshot of its current weights) on
        ``device``; ``compact``: int8 weights for a few streams on a CPU (see ``Stepper``)."""
        return Stepper(self, compact, torch.device(device))


class Stepper:
    """Advances a trained model by one token per call with minimal per-call overhead."""

    def __init__(self, model: LanguageModel, compact: bool = False, device: torch.device = CPU) -> None:
        """Copies the weights out (as float32 tensors on ``device``): the model itself is never
        touched, so many threads can sample from one model at once. ``compact`` also keeps int8
        copies of the matrices on a CPU, which a batch of a few streams uses (``seqgen.compact``):
        faster, not exact. A GPU keeps float32 (its steps are launch-bound, not memory-bound)."""
        self.cell = model.config.cell
        self.layers = model.config.layers
        compact = compact and device.type == "cpu" and int8_supported()

        def weight(name: str, module: torch.nn.Module = model.rnn) -> Tensor:
            value = getattr(module, name).detach().float().cpu()
            return (value[order] if module is model.rnn and name[:3] in ("wei", "bia") else value).to(device)

        order = ifog(model.config.hidden) if self.cell == "lstm" else slice(None)

        fused = self.cell != "gru"  # GRU keeps b_hh apart: it sits inside r * (W h + b)
        self.w: list[StepWeight] = []
        self.w_hh: dict[int, StepWeight] = {}
        self.b, self.b_hh, self.peep = [], [], []
        for k in range(self.layers):
            w_ih, w_hh = weight(f"weight_ih_l{k}").t(), weight(f"weight_hh_l{k}").t()
            b_ih, b_hh = weight(f"bias_ih_l{k}"), weight(f"bias_hh_l{k}")
            if fused:
                b_ih, b_hh = b_ih + b_hh, torch.zeros_like(b_hh)
            if k == 0:  # embedding folded into the input projection: one row gather per step
                self.table = torch.addmm(b_ih, weight("weight", model.embedding), w_ih)
            # Layers above the first take [input, hidden] @ [W_ih; W_hh] as one larger matmul.
            self.w.append(StepWeight(torch.cat([w_ih, w_hh]) if fused else w_ih, compact))
            if k == 0 or not fused:
                self.w_hh[k] = StepWeight(w_hh, compact)
            self.b.append(b_ih)
            self.b_hh.append(b_hh)
            if self.cell == "peephole":
                self.peep.append(weight(f"peep_l{k}"))
        self.head = StepWeight(weight("weight", model.head).t(), compact)
        self.head_b = weight("bias", model.head)

    def __call__(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Logits (batch, vocab) after feeding ``tokens`` (batch,), and the new state."""
        hs, cs = list(state[0].unbind(0)), list(state[1].unbind(0)) if len(state) > 1 else []
        x = tokens
        for k in range(self.layers):
            h = hs[k]
            if self.cell == "gru":
                gi = self.table[x] if k == 0 else self.w[k].addmm(self.b[k], x)
                h = gru_step(gi, self.w_hh[k].addmm(self.b_hh[k], h), h)
            else:
                pre = (self.w_hh[0].addmm(self.table[x], h) if k == 0
                       else self.w[k].addmm(self.b[k], torch.cat([x, h], 1)))
                if self.cell == "lstm":
                    h, cs[k] = lstm_step(pre, cs[k])
                elif self.cell == "peephole":
                    h, cs[k] = peephole_step(pre, cs[k], self.peep[k])
                else:
                    h = torch.tanh(pre) if self.cell == "rnn" else torch.relu(pre)
            hs[k] = x = h
        logits = self.head.addmm(self.head_b, x)
        new_state = (torch.stack(hs), torch.stack(cs)) if cs else (torch.stack(hs),)
        return logits, new_state
