"""The Python API: train a model, load a checkpoint, sample from it and score text or music.

Thin shells over the library functions the CLI uses too, so a notebook gets the same defaults,
checks and error messages as ``seqgen train`` and ``seqgen sample``::

    import seqgen

    run = seqgen.train(corpus="shakespeare", max_time=60)
    gen = seqgen.load(run.run_dir)
    print(gen.sample(seed="ROMEO:", length=200, temperature=0.8))
    print(gen.score("To be, or not to be"))  # nats per token

This module imports nothing heavy at import time (torch, numpy and music21 are imported when a
function needs them), so ``import seqgen`` stays cheap.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqgen.errors import SeqgenError

if TYPE_CHECKING:
    from seqgen.config import Config
    from seqgen.generate import SampleRequest
    from seqgen.model import LanguageModel
    from seqgen.ranking import SampleScore
    from seqgen.tokenizer import Tokenizer
    from seqgen.trainer import TrainResult

#: Keyword arguments of ``Generator.sample`` that go to ``SamplingSettings``; the others go to
#: ``SampleRequest``.
SETTINGS_KEYS = ("temperature", "top_k", "top_p")


def _plain(value: Any) -> Any:
    """A path given as ``pathlib.Path`` becomes the string the config and request fields hold."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def train(corpus: str | Path | None = None, max_time: float | None = None, preset: str | None = None,
          config: str | Path | None = None, resume: str | Path | None = None,
          echo: Callable[[str], None] | None = None, **settings: Any) -> TrainResult:
    """Train a language model and return its ``TrainResult`` (``run_dir``, ``step``, ``best_val``
    in nats/token, ``train_time`` in seconds); checkpoints go to ``run_dir`` as with ``seqgen train``.

    Settings resolve as on the command line: defaults, then ``preset`` (a shipped preset name),
    then ``config`` (a TOML file), then ``corpus``, ``max_time`` and ``**settings`` (any setting by
    its flag name with underscores: ``hidden=128``, ``cell="gru"``, ``max_steps=500``...). Setting
    ``max_steps`` or ``epochs`` without ``max_time`` turns the default time budget off.
    ``resume`` continues a run folder or checkpoint exactly where it stopped (``settings`` then
    override its stored config).

    Quiet unless ``echo`` is given: ``echo=print`` shows the progress ``seqgen train`` prints.

        >>> run = seqgen.train(corpus="shakespeare", max_time=60, hidden=128)   # doctest: +SKIP
        >>> run.best_val, run.run_dir                                         # doctest: +SKIP
        (1.71..., PosixPath('checkpoints/shakespeare-lstm-...'))
    """
    from seqgen.trainer import Trainer

    flags = {name: _plain(value) for name, value in settings.items()}
    if corpus is not None:
        flags["corpus"] = _plain(corpus)
    if max_time is not None:
        flags["max_time"] = max_time
    quiet = echo is None
    say = (lambda _message: None) if quiet else echo
    if resume is not None:
        if preset is not None or config is not None:
            raise SeqgenError("resume continues a run with its own settings: give no preset or config with it")
        trainer = Trainer.resume(os.fspath(resume), flags, echo=say, progress=not quiet)
    else:
        trainer = Trainer.fresh(preset, _plain(config), flags, echo=say, progress=not quiet)
    return trainer.run()


def load(checkpoint: str | Path | None = None) -> Generator:
    """A ``Generator`` for a checkpoint file, a run folder (its ``best.pt``, else ``last.pt``), or
    ``None`` for the newest run's ``best.pt`` under ``checkpoints/``.

        >>> gen = seqgen.load("checkpoints/shakespeare-lstm-20250101-120000")   # doctest: +SKIP
        >>> gen.domain                                                          # doctest: +SKIP
        'text'
    """
    return Generator.load(checkpoint)


class Generator:
    """A trained model ready to sample and score: ``model`` (CPU, eval mode), ``tokenizer``,
    ``config`` (the run's ``Config``), ``domain`` (``"text"`` or ``"music"``) and ``path`` (the
    checkpoint file it came from, if any).

        >>> gen = seqgen.load()                                                   # doctest: +SKIP
        >>> gen.sample(seed="ROMEO:", length=100, temperature=0.8, random_seed=1)  # doctest: +SKIP
        'ROMEO:\\nWhat ...'
    """

    def __init__(self, model: LanguageModel, tokenizer: Tokenizer, config: Config, path: Path | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.path = path

    @classmethod
    def load(cls, checkpoint: str | Path | None = None) -> Generator:
        """See ``seqgen.load``."""
        from seqgen.checkpoint import Checkpoint

        ckpt = Checkpoint.load(checkpoint)
        model, tokenizer, config = ckpt.build()
        return cls(model, tokenizer, config, ckpt.path)

    @property
    def domain(self) -> str:
        return self.tokenizer.domain

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<seqgen.Generator {self.domain} {self.config.model.cell}{where}>"

    def request(self, **options: Any) -> SampleRequest:
        """The ``SampleRequest`` for ``sample``'s keyword arguments; unset ones keep the defaults of
        ``SampleRequest`` and ``SamplingSettings``."""
        from seqgen.generate import SampleRequest
        from seqgen.sampler import SamplingSettings

        known = [f.name for f in fields(SampleRequest) if f.name != "settings"] + list(SETTINGS_KEYS)
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise SeqgenError(f"sample() got an unknown argument {unknown[0]!r}; known: {', '.join(known)}")
        settings = {k: options.pop(k) for k in SETTINGS_KEYS if k in options}
        try:
            return SampleRequest(**{k: _plain(v) for k, v in options.items()},
                                 settings=SamplingSettings(**settings))
        except TypeError as err:  # e.g. length="ten": compared with a number in the checks
            raise SeqgenError(f"bad sample() argument: {err}") from None

    def generate(self, request: SampleRequest, on_text: Callable[[int, str], None] | None = None) -> list[Any]:
        """All ``request.num_samples`` samples as a list (texts, or ``Piece``s for music); when the
        request ranks them (``keep``/``rank``), just the kept ones, best first (``ranked`` gives
        their scores too).

        For text, ``on_text(sample_index, piece)`` gets each new piece of text as soon as it exists
        (the seed first), for streaming.

        Torch's thread count is left alone: it is process-wide, so only the process's owner may set
        it. A few samples are fastest on one thread (``seqgen.sampler.threads_for``); in a script of
        your own, ``torch.set_num_threads(1)`` before sampling one stream speeds it up."""
        from seqgen.generate import sample_music, sample_text

        if request.rank:
            return [sample for sample, _score in self.ranked(request, on_text)]
        if self.domain == "music":
            return sample_music(self.model, self.tokenizer, request)
        return sample_text(self.model, self.tokenizer, request, on_text)

    def ranked(self, request: SampleRequest,
               on_text: Callable[[int, str], None] | None = None) -> list[tuple[Any, SampleScore]]:
        """``(sample, SampleScore)`` for the ``request.keep`` best of ``request.num_samples``
        samples by ``request.rank`` (default ``likelihood``), best first; see ``seqgen.ranking``.
        ``on_text`` sees every sample drawn, kept or not."""
        from dataclasses import replace

        from seqgen.ranking import curate

        if not request.rank:
            request = replace(request, rank="likelihood")
        samples = self.generate(replace(request, keep=None, rank=None), on_text)
        return curate(self.model, self.tokenizer, samples, request, self.config.data)

    def sample(self, **options: Any) -> Any:
        """Generate: a ``str`` for text, a ``Piece`` for music; a list of them when
        ``num_samples`` (or ``keep``) is over 1.

        Keyword arguments are those of ``seqgen.generate.SampleRequest`` (``seed``, ``length``,
        ``num_samples``, ``stop``, ``random_seed``; for music ``bars``, ``seconds``, ``primer``,
        ``only_new``, ``tempo``, ``key``, ``time_signature``, ``loop``; ``keep`` and ``rank`` keep the
        best few, see ``ranked``) and of ``SamplingSettings`` (``temperature``, ``top_k``, ``top_p``),
        with their defaults. Text with no ``seed`` starts a new document.

            >>> gen.sample(seed="ROMEO:", length=200, temperature=0.8, stop="\\n\\n")  # doctest: +SKIP
            >>> piece = music_gen.sample(bars=8, key="E minor", time_signature="3/4", loop=True)  # doctest: +SKIP
            >>> seqgen.write_music(piece, "new.mid")                                 # doctest: +SKIP
            >>> gen.sample(num_samples=8, keep=2, rank="balanced")                   # doctest: +SKIP
        """
        request = self.request(**options)
        samples = self.generate(request)
        return samples if (request.keep or request.num_samples) > 1 else samples[0]

    def ids(self, data: Any) -> list[int]:
        """Token ids of ``data``: text (``str``) for a text model; a ``Piece`` or a MIDI/MusicXML/ABC
        file path for a music model; or already a sequence of ids."""
        tokenizer = self.tokenizer
        if isinstance(data, str) and tokenizer.domain == "text":
            return list(tokenizer.encode(data))
        if tokenizer.domain == "music" and isinstance(data, (str, os.PathLike)):
            return list(tokenizer.encode(tokenizer.read_primer(os.fspath(data))))
        if tokenizer.domain == "music" and hasattr(data, "tracks"):
            return list(tokenizer.encode(data))
        if isinstance(data, (str, bytes)) or not isinstance(data, Sequence) and not hasattr(data, "tolist"):
            wanted = "text" if tokenizer.domain == "text" else "a Piece or a music file"
            raise SeqgenError(f"cannot score a {type(data).__name__}: give {wanted}, or a sequence of token ids")
        ids = data.tolist() if hasattr(data, "tolist") else list(data)
        if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) and 0 <= i < tokenizer.vocab_size
                   for i in ids):
            raise SeqgenError(f"token ids must be whole numbers in 0..{tokenizer.vocab_size - 1}")
        return [int(i) for i in ids]

    def score(self, data: Any) -> float:
        """Mean negative log-likelihood, in nats per token, of ``data`` (see ``ids``) under the
        model, run from a fresh state; the first token has no prediction and is not counted.

            >>> gen.score("To be, or not to be")   # doctest: +SKIP
            1.93...
        """
        return float(self.token_nll(data).mean(dtype="float64"))

    def token_nll(self, data: Any) -> Any:
        """-log p, in nats, of each token of ``data`` (see ``ids``) but the first, under the model
        from a fresh state: a numpy array one shorter than ``ids(data)``.

            >>> gen.token_nll("To be")   # doctest: +SKIP
            array([2.1..., 0.3..., ...], dtype=float32)
        """
        from seqgen.scoring import token_nll

        ids = self.ids(data)
        if len(ids) < 2:
            raise SeqgenError(f"need at least 2 tokens to score (the first is not predicted), got {len(ids)}")
        return token_nll(self.model, ids)
