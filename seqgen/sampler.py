"""Stateful sampling: prime once with the seed, then one token per step, many samples as a batch.

Calling nn.LSTM once per generated token costs far more framework overhead than the arithmetic
of a small model. The ``Stepper`` instead copies the weights out once, folds the embedding into
the first layer's input projection (a table lookup replaces a matmul), and runs each step as a
handful of addmm and pointwise ops.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel, State, gru_step, ifog, lstm_step, peephole_step


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
        """Copies the weights out (as float32 CPU tensors): the model itself is never touched, so
        many threads can sample from one model at once."""
        self.cell = model.config.cell
        self.layers = model.config.layers

        def weight(name: str, module: torch.nn.Module = model.rnn) -> Tensor:
            value = getattr(module, name).detach().float().cpu()
            return value[order] if module is model.rnn and name[:3] in ("wei", "bia") else value

        order = ifog(model.config.hidden) if self.cell == "lstm" else slice(None)

        fused = self.cell != "gru"  # GRU keeps b_hh apart: it sits inside r * (W h + b)
        self.w, self.b, self.w_hh, self.b_hh, self.peep = [], [], [], [], []
        for k in range(self.layers):
            w_ih, w_hh = weight(f"weight_ih_l{k}").t(), weight(f"weight_hh_l{k}").t()
            b_ih, b_hh = weight(f"bias_ih_l{k}"), weight(f"bias_hh_l{k}")
            if fused:
                b_ih, b_hh = b_ih + b_hh, torch.zeros_like(b_hh)
            if k == 0:  # embedding folded into the input projection: one row gather per step
                self.table = torch.addmm(b_ih, weight("weight", model.embedding), w_ih)
            # Layers above the first take [input, hidden] @ [W_ih; W_hh] as one larger matmul.
            self.w.append(torch.cat([w_ih, w_hh]).contiguous() if fused else w_ih.contiguous())
            self.b.append(b_ih)
            self.w_hh.append(w_hh.contiguous())
            self.b_hh.append(b_hh)
            if self.cell == "peephole":
                self.peep.append(weight(f"peep_l{k}"))
        self.head_w = weight("weight", model.head).t().contiguous()
        self.head_b = weight("bias", model.head)

    def __call__(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Logits (batch, vocab) after feeding ``tokens`` (batch,), and the new state."""
        hs, cs = list(state[0].unbind(0)), list(state[1].unbind(0)) if len(state) > 1 else []
        x = tokens
        for k in range(self.layers):
            h = hs[k]
            if self.cell == "gru":
                gi = self.table[x] if k == 0 else torch.addmm(self.b[k], x, self.w[k])
                h = gru_step(gi, torch.addmm(self.b_hh[k], h, self.w_hh[k]), h)
            else:
                pre = (self.table[x].addmm_(h, self.w_hh[k]) if k == 0
                       else torch.addmm(self.b[k], torch.cat([x, h], 1), self.w[k]))
                if self.cell == "lstm":
                    h, cs[k] = lstm_step(pre, cs[k])
                elif self.cell == "peephole":
                    h, cs[k] = peephole_step(pre, cs[k], self.peep[k])
                else:
                    h = torch.tanh(pre) if self.cell == "rnn" else torch.relu(pre)
            hs[k] = x = h
        logits = torch.addmm(self.head_b, x, self.head_w)
        new_state = (torch.stack(hs), torch.stack(cs)) if cs else (torch.stack(hs),)
        return logits, new_state


@torch.inference_mode()
def generate(model: LanguageModel, seed: Sequence[int], length: int, settings: SamplingSettings,
             num_samples: int = 1, generator: torch.Generator | None = None,
             banned: Sequence[int] = ()) -> Iterator[Tensor]:
    """Yield ``length`` steps of new ids, each a (num_samples,) tensor, continuing ``seed``.

    The seed is fed once; the state is then copied to every sample and advanced one token at a
    time, never re-running the prefix. The model is left as it is (weights are copied out).
    ``banned`` ids (e.g. a tokenizer's "unknown" symbol) are never drawn.
    """
    if length <= 0:
        raise SeqgenError(f"length must be at least 1, got {length}")
    if num_samples <= 0:
        raise SeqgenError(f"number of samples must be at least 1, got {num_samples}")
    if not seed:
        raise SeqgenError("the seed is empty")
    settings.validate()
    # Generation runs on the CPU: for models of this size a step is latency-bound, and the CPU has
    # no kernel-launch cost per op. A few streams get one thread: their ops are too small to split,
    # and splitting them stalls every op whenever the other core is busy.
    threads = torch.get_num_threads()
    if num_samples < 16:
        torch.set_num_threads(1)
    try:
        step = Stepper(model)
        state = tuple(torch.zeros(model.config.layers, 1, model.config.hidden) for _ in model.init_state(1))
        for token in seed:  # prime: the same single-step code path, batch of one
            logits, state = step(torch.tensor([token]), state)
        state = tuple(s.expand(-1, num_samples, -1).contiguous() for s in state)
        logits = logits.expand(num_samples, -1)
        ban = torch.zeros(logits.shape[-1])
        ban[list(banned)] = float("-inf")
        for _ in range(length):
            tokens = choose(logits + ban if banned else logits, settings, generator)
            yield tokens
            logits, state = step(tokens, state)
    finally:
        torch.set_num_threads(threads)
