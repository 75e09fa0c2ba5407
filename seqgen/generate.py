"""From a checkpoint to output: text streamed to a writer, or music decoded and written to files.

This is the glue between the sampler (ids) and the writers (what an id means), shared by the CLI
and anything else that generates (tests, a server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.sampler import SamplingSettings, generate
from seqgen.tokenizers import Tokenizer


@dataclass
class SampleRequest:
    """What to generate: the same fields for text and music."""

    seed: str = ""
    length: int = 1000
    num_samples: int = 1
    stop: str = ""
    random_seed: int | None = None
    settings: SamplingSettings = field(default_factory=SamplingSettings)

    def generator(self) -> torch.Generator:
        g = torch.Generator()
        if self.random_seed is None:
            g.seed()
        else:
            g.manual_seed(self.random_seed)
        return g


def sample_text(model: LanguageModel, tokenizer: Tokenizer, request: SampleRequest,
                on_text: Callable[[int, str], None] | None = None) -> list[str]:
    """Generate ``request.num_samples`` texts that begin with the seed.

    ``on_text(sample_index, piece)`` is called with each new piece of text as soon as it exists
    (the seed first), which is how the CLI streams. A sample ends after ``length`` tokens or just
    after the first ``stop`` string it generates.
    """
    if tokenizer.domain != "text":
        raise SeqgenError("this checkpoint generates music, not text: pass --out FILE.mid (or .musicxml, .wav, .png)")
    if not request.seed:
        raise SeqgenError("give a seed (--seed), e.g. --seed \"ROMEO:\"")
    seed_ids = tokenizer.encode_seed(request.seed)
    emit = on_text or (lambda _index, _text: None)
    texts = [request.seed] * request.num_samples
    done = [False] * request.num_samples
    for index in range(request.num_samples):
        emit(index, request.seed)
    stop = request.stop
    for ids in generate(model, seed_ids, request.length, request.settings, request.num_samples, request.generator(),
                        tokenizer.banned):
        for index, token in enumerate(ids.tolist()):
            if done[index]:
                continue
            piece = tokenizer.decode([token])
            if stop:
                before = len(texts[index])
                joined = texts[index] + piece
                # Search only text generated after the seed, from where a match could first end.
                hit = joined.find(stop, max(len(request.seed), before - len(stop) + 1))
                if hit >= 0:
                    piece = joined[before: hit + len(stop)]
                    done[index] = True
            texts[index] += piece
            emit(index, piece)
        if all(done):
            break
    return texts
