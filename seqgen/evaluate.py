"""Evaluation: total negative log-likelihood over a whole split, statefully; what ``seqgen eval`` reports.

The split is cut into a few contiguous streams that are run from a zero state to their end with
the state carried throughout, so (nearly) every token is predicted with its full left context and
every token is counted exactly once. Loss is reported per token and per unit (bits per character
for text; nats per note, quarter note, beat of the time signature and second for music) so that
tokenizations compare fairly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seqgen.checkpoint import Checkpoint
from seqgen.dataset import prepare_matching
from seqgen.device import pick_device, use_bf16
from seqgen.errors import SeqgenError
from seqgen.scoring import total_nll

def report(split: str, nll: float, tokens: int, units: dict[str, float]) -> dict[str, Any]:
    """The metrics ``seqgen eval`` prints: per token, plus per character/note/quarter/beat/second.

    Units are spread over predicted tokens pro rata (the first token of a split has no
    prediction), which makes bits per character exact for the char tokenizer.
    """
    per_token = nll / tokens
    out: dict[str, Any] = {
        "split": split,
        "tokens": tokens,
        "nll": nll,
        "nats_per_token": per_token,
        "perplexity": math.exp(min(per_token, 700.0)),
    }
    share = tokens / (tokens + 1)
    for unit, amount in units.items():
        out[unit] = amount
        if amount:
            per_unit = nll / (amount * share)
            singular = unit[:-1]  # chars -> char, quarters -> quarter, ...
            out[f"nats_per_{singular}"] = per_unit
            if unit == "chars":
                out["bits_per_char"] = per_unit / math.log(2)
    return out


def evaluate_checkpoint(spec: str | Path | None, split: str = "val", device: str = "auto",
                        samples: int = 8, bars: float = 0.0, random_seed: int = 0,
                        free_voice_leading: bool = False) -> dict[str, Any]:
    """Load a checkpoint, score it on a whole split of its own corpus and report (see ``report``).

    For music, ``samples`` pieces of ``bars`` bars (0: ``seqgen sample``'s default length) are
    generated (``random_seed`` fixes them) and
    their statistics set beside those of the split's pieces cut to the same length, voices judged
    against the train split's (``sample_stats``: ``{"samples": {...}, "reference": {...}}``).
    """
    ckpt = Checkpoint.load(spec)
    model, tokenizer, config = ckpt.build()
    data = prepare_matching(config.data, ckpt.tokenizer)
    tokens = data.arrays[split]
    if len(tokens) < 2:
        raise SeqgenError(f"the {split} split is empty for this checkpoint's settings")
    dev = pick_device(device)
    nll, count = total_nll(model.to(dev), tokens, config.train.eval_streams, dev, use_bf16(config.train.precision, dev))
    result = report(split, nll, count, data.units[split])
    if tokenizer.domain == "music" and samples > 0:
        from seqgen.corpus import load_corpus
        from seqgen.generate import DEFAULT_BARS, SampleRequest, sample_music
        from seqgen.music.stats import compare
        from seqgen.music.theory import VoiceProfile

        bars = bars or DEFAULT_BARS
        request = SampleRequest(num_samples=samples, random_seed=random_seed, bars=bars,
                                free_voice_leading=free_voice_leading)
        generated = sample_music(model.cpu(), tokenizer, request)
        splits = load_corpus(config.data.corpus, config.data.encoding).splits(config.data.val_frac, config.data.test_frac)
        result["sample_stats"] = compare(generated, splits[split], VoiceProfile.of(splits["train"]), bars)
    return result
