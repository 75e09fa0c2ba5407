"""How surprised a model is by each piece of a text, for shading it where people read it.

A text is split into the tokens the model reads (characters, or subword pieces) and each is
paired with -log p the model gave it after everything before it (teacher-forced, so it is the
model's own view whatever temperature wrote the text). The pieces join back into the text, so a
reader can map a click on a piece back to a character offset.
"""

from __future__ import annotations

from seqgen.scoring import token_nll
from seqgen.model import LanguageModel
from seqgen.tokenizer import Tokenizer


def text_surprise(model: LanguageModel, tokenizer: Tokenizer, text: str) -> list[tuple[str, float | None]]:
    """``[(piece, nats)]`` for each token of ``text``; the first has no prediction (``None``).

    Raises ``SeqgenError`` for an empty text or symbols the vocabulary lacks (``encode_seed``)."""
    ids = tokenizer.encode_seed(text)
    nll = [None, *(round(float(x), 4) for x in token_nll(model, ids))] if len(ids) > 1 else [None]
    return [(tokenizer.decode([i]), x) for i, x in zip(ids, nll)]
