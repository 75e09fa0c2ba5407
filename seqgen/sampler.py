"""Stateful sampling: prime once with the seed, then one token per step, many samples as a batch.

Calling nn.LSTM once per generated token costs ~1 ms of framework overhead, far more than the
arithmetic of a small model. The ``Stepper`` instead pulls the weights out once, folds the
embedding into the first layer's input projection (a table lookup replaces a matmul), and runs
each step as a handful of addmm and pointwise ops on preallocated-size tensors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel, State, gru_step, lstm_step, peephole_step


@dataclass
class SamplingSettings:
    """How the next token is drawn from the model's distribution."""

    temperature: float = 1.0  # 0 = greedy argmax
    top_k: int = 0  # 0 = no limit
    top_p: float = 1.0  # nucleus: smallest set of tokens whose probability reaches top_p

    def validate(self) -> None:
        t = self.temperature
        if not (t >= 0 and t != float("inf")):  # also refuses NaN
            raise SeqgenError(f"temperature must be a number >= 0, got {t}")
        if self.top_k < 0:
            raise SeqgenError(f"top-k must be >= 0 (0 = no limit), got {self.top_k}")
        if not (0 < self.top_p <= 1):
            raise SeqgenError(f"top-p must be in (0, 1], got {self.top_p}")


def choose(logits: Tensor, settings: SamplingSettings, generator: torch.Generator | None) -> Tensor:
    """Draw one id per row of ``logits`` (batch, vocab) under temperature, top-k and top-p."""
    if settings.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / settings.temperature
    if 0 < settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens ranked above it already reach top_p (the first always stays).
        drop = cumulative - sorted_logits.softmax(dim=-1) >= settings.top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class Stepper:
    """Advances a trained model by one token per call with minimal per-call overhead."""

    def __init__(self, model: LanguageModel) -> None:
        self.cell = model.config.cell
        self.layers = model.config.layers
        rnn, emb = model.rnn, model.embedding.weight.detach()
        self.w_hh, self.b_in, self.b_hh, self.w_ih, self.peep = [], [], [], [], []
        for k in range(self.layers):
            w_ih = getattr(rnn, f"weight_ih_l{k}").detach()
            b_ih = getattr(rnn, f"bias_ih_l{k}").detach()
            b_hh = getattr(rnn, f"bias_hh_l{k}").detach()
            if self.cell != "gru":  # GRU keeps b_hh apart: it sits inside r * (W h + b)
                b_ih, b_hh = b_ih + b_hh, torch.zeros_like(b_hh)
            self.w_ih.append(w_ih.t().contiguous())
            self.b_in.append(b_ih)
            self.b_hh.append(b_hh)
            self.w_hh.append(getattr(rnn, f"weight_hh_l{k}").detach().t().contiguous())
            if self.cell == "peephole":
                self.peep.append(getattr(rnn, f"peep_l{k}").detach())
        # Embedding folded into layer 0's input projection: one row gather per step.
        self.table = torch.addmm(self.b_in[0], emb, self.w_ih[0])
        self.head_w = model.head.weight.detach().t().contiguous()
        self.head_b = model.head.bias.detach()

    def __call__(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Logits (batch, vocab) after feeding ``tokens`` (batch,), and the new state."""
        hs, cs = list(state[0].unbind(0)), list(state[1].unbind(0)) if len(state) > 1 else []
        x = None
        for k in range(self.layers):
            gi = self.table[tokens] if k == 0 else torch.addmm(self.b_in[k], x, self.w_ih[k])
            h = hs[k]
            if self.cell == "gru":
                h = gru_step(gi, torch.addmm(self.b_hh[k], h, self.w_hh[k]), h)
            elif self.cell in ("rnn", "rnn-relu"):
                pre = gi.addmm_(h, self.w_hh[k])
                h = torch.tanh(pre) if self.cell == "rnn" else torch.relu(pre)
            elif self.cell == "peephole":
                h, cs[k] = peephole_step(gi.addmm_(h, self.w_hh[k]), cs[k], self.peep[k])
            else:
                h, cs[k] = lstm_step(gi.addmm_(h, self.w_hh[k]), cs[k])
            hs[k] = x = h
        logits = torch.addmm(self.head_b, x, self.head_w)
        new_state = (torch.stack(hs), torch.stack(cs)) if cs else (torch.stack(hs),)
        return logits, new_state


@torch.inference_mode()
def generate(model: LanguageModel, seed: Sequence[int], length: int, settings: SamplingSettings,
             num_samples: int = 1, generator: torch.Generator | None = None,
             banned: Sequence[int] = ()) -> Iterator[Tensor]:
    """Yield ``length`` steps of new ids, each a (num_samples,) tensor, continuing ``seed``.

    The seed runs once through the fused RNN kernel; the state is then copied to every sample
    and advanced one token at a time, never re-running the prefix. The model is moved to the CPU.
    ``banned`` ids (e.g. a tokenizer's "unknown" symbol) are never drawn.
    """
    if length <= 0:
        raise SeqgenError(f"length must be at least 1, got {length}")
    if num_samples <= 0:
        raise SeqgenError(f"number of samples must be at least 1, got {num_samples}")
    if not seed:
        raise SeqgenError("the seed is empty")
    settings.validate()
    # Generation runs on the CPU: for models of this size one step is latency-bound, and the CPU
    # has no kernel-launch cost per op.
    model = model.float().cpu().eval()
    logits, state = model(torch.tensor([list(seed)], dtype=torch.int64))
    state = tuple(s.expand(-1, num_samples, -1).contiguous() for s in state)
    logits = logits[:, -1].expand(num_samples, -1)
    step = Stepper(model)
    ban = torch.zeros(logits.shape[-1])
    ban[list(banned)] = float("-inf")
    for _ in range(length):
        tokens = choose(logits + ban if banned else logits, settings, generator)
        yield tokens
        logits, state = step(tokens, state)
