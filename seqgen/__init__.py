"""seqgen: learn from sequences (text, music) with stacked RNNs and write new ones.

The Python API (torch and music21 are imported on first use, so ``import seqgen`` is cheap)::

    import seqgen

    run = seqgen.train(corpus="shakespeare", max_time=300)    # -> TrainResult
    gen = seqgen.load(run.run_dir)                            # or seqgen.load() for the newest run
    text = gen.sample(seed="ROMEO:", length=500, temperature=0.8)
    gen.score("To be, or not to be")                          # nats per token

    piece = seqgen.load("checkpoints/bach-...").sample(bars=8)
    seqgen.write_music(piece, "new.mid")                      # .mid, .musicxml, .wav or .png

Failures a user can fix raise ``seqgen.SeqgenError``.
"""

from __future__ import annotations

from typing import Any

from seqgen.errors import SeqgenError

__version__ = "0.1.0"

#: Public names imported on first use, by the module that defines them.
_LAZY = {
    "train": "seqgen.api",
    "load": "seqgen.api",
    "Generator": "seqgen.api",
    "write_music": "seqgen.music.writers",
}

__all__ = ["Generator", "SeqgenError", "load", "train", "write_music", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'seqgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
