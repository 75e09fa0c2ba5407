"""Damaged and crafted checkpoints are refused with one line, before anything their sizes ask for
is allocated: a 1 KB file must not make seqgen build a 25 GB model or a 10^8-entry vocabulary."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from seqgen.checkpoint import Checkpoint
from seqgen.cli import main
from seqgen.config import Config
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.music.grid import GridTokenizer
from seqgen.music.performance import PerformanceTokenizer

TINY_MODEL = ["--hidden", "32", "--embed", "16", "--batch-size", "4", "--seq-len", "16", "--eval-every", "10",
              "--max-time", "0", "--seed", "3"]
HUGE = 10**8


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real checkpoint of a tiny model, trained once for the module; tests mutate copies of it."""
    root = tmp_path_factory.mktemp("good")
    corpus = root / "play.txt"
    corpus.write_text("\n".join(f"ROMEO:\nO gentle night, number {i % 17}.\n" for i in range(300)), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("SEQGEN_CACHE", str(root / "cache"))
        result = CliRunner().invoke(main, ["train", "--corpus", str(corpus), "--run-dir", "run", *TINY_MODEL,
                                           "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    return root / "run" / "best.pt"


@pytest.fixture(autouse=True)
def no_big_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that builds a big model or a codec with a huge vocabulary: a hostile checkpoint
    must be refused before that, and this way a test that fails does not allocate gigabytes."""
    build = LanguageModel.__init__

    def guarded_model(self: LanguageModel, config: Any) -> None:
        if config.hidden > 1000 or config.layers > 100:
            raise AssertionError(f"a real model of hidden={config.hidden}, layers={config.layers} was built")
        build(self, config)

    monkeypatch.setattr(LanguageModel, "__init__", guarded_model)
    for codec in (GridTokenizer, PerformanceTokenizer):
        def guarded_codec(self: Any, *args: Any, _init: Callable = codec.__init__, **kwargs: Any) -> None:
            if any(str(v).isdigit() and int(v) >= HUGE for v in [*args, *kwargs.values()]):
                raise AssertionError(f"a codec with a vocabulary of {HUGE} ids was laid out")
            _init(self, *args, **kwargs)

        monkeypatch.setattr(codec, "__init__", guarded_codec)


def _set(section: str, name: str, value: Any) -> Callable[[dict], None]:
    def mutate(p: dict) -> None:
        p["config"][section][name] = value
    return mutate


def _chars(change: Callable[[str], str]) -> Callable[[dict], None]:
    def mutate(p: dict) -> None:
        p["tokenizer"]["chars"] = change(p["tokenizer"]["chars"])
    return mutate


def _weight(value: float) -> Callable[[dict], None]:
    def mutate(p: dict) -> None:
        p["model"]["head.weight"][0, 0] = value
    return mutate


def _put(key: str, value: Any) -> Callable[[dict], None]:
    def mutate(p: dict) -> None:
        p[key] = value
    return mutate


def _drop_weight(p: dict) -> None:
    del p["model"]["head.bias"]


GRID = {"kind": "grid", "steps_per_quarter": 1, "max_duration_steps": 4, "tracks": [],
        "time_signatures": [[4, 4]], "default_time_signature": [4, 4], "default_tempo": 120, "default_velocity": 80}

CASES: dict[str, tuple[Callable[[dict], None], str]] = {
    "config list": (_put("config", [1, 2]), "config"),
    "config None": (_put("config", None), "config"),
    "config string": (_put("config", "hidden = 32"), "config"),
    "config section string": (_put("config", {"model": "big"}), "checkpoint is damaged: .*config"),
    "tensor for an int": (_set("model", "hidden", torch.tensor(32)), "checkpoint is damaged: .*hidden"),
    "hidden -1": (_set("model", "hidden", -1), "checkpoint is damaged: .*hidden must be at least 1"),
    "hidden inf": (_set("model", "hidden", float("inf")), "checkpoint is damaged: .*hidden"),
    "layers 0": (_set("model", "layers", 0), "checkpoint is damaged: .*layers must be at least 1"),
    "dropout 5": (_set("model", "dropout", 5), r"checkpoint is damaged: .*dropout must be in \[0, 1\)"),
    "hidden 40000": (_set("model", "hidden", 40_000), "checkpoint is damaged: .*shape"),
    "layers 100000": (_set("model", "layers", 100_000), "checkpoint is damaged: .*100000 layers"),
    "missing weight": (_drop_weight, "checkpoint is damaged: .*head.bias"),
    "NaN weight": (_weight(float("nan")), "checkpoint is damaged: .*head.weight.*NaN or infinite"),
    "inf weight": (_weight(float("inf")), "checkpoint is damaged: .*head.weight.*NaN or infinite"),
    "tokenizer larger": (_chars(lambda c: c + "XYZ"), r"inconsistent: the tokenizer has \d+ ids but the model \d+"),
    "tokenizer smaller": (_chars(lambda c: c[:-3]), r"inconsistent: the tokenizer has \d+ ids but the model \d+"),
    "tokenizer string": (_put("tokenizer", "char"), "tokenizer"),
    "tokenizer unknown kind": (_put("tokenizer", {"kind": "wordpiece"}), "checkpoint is damaged: unknown tokenizer"),
    "tokenizer bad state": (_put("tokenizer", {"kind": "char", "chars": None}), "checkpoint is damaged: .*tokenizer"),
    "grid durations 10^8": (_put("tokenizer", {**GRID, "max_duration_steps": HUGE}), "damaged: .*max_duration_steps"),
    "grid steps 10^8": (_put("tokenizer", {**GRID, "steps_per_quarter": HUGE}), "damaged: .*steps_per_quarter"),
    "grid steps as text": (_put("tokenizer", {**GRID, "steps_per_quarter": str(HUGE)}), "damaged: .*steps_per_quarter"),
    "performance shifts 10^8": (_put("tokenizer", {"kind": "performance", "max_shift_steps": HUGE}),
                                "damaged: .*max_shift_steps"),
    "grid of another size": (_put("tokenizer", GRID), "inconsistent: the tokenizer has"),
    "format True": (_put("format_version", True), "format version"),
    "format -1": (_put("format_version", -1), "format version"),
    "format text": (_put("format_version", "1"), "format version"),
}


@pytest.fixture
def hostile(good: Path, tmp_path: Path) -> Callable[[Callable[[dict], None]], Path]:
    """Writes a copy of the good checkpoint's payload as changed by ``mutate``."""
    def make(mutate: Callable[[dict], None]) -> Path:
        payload = torch.load(good, weights_only=True)
        mutate(payload)
        path = tmp_path / "hostile.pt"
        torch.save(payload, path)
        return path
    return make


def test_the_good_checkpoint_builds(good: Path) -> None:
    model, tokenizer, config = Checkpoint.load(good).build()
    assert tokenizer.vocab_size == config.model.vocab_size == model.embedding.num_embeddings


@pytest.mark.parametrize("codec, options", [
    (GridTokenizer, {}), (GridTokenizer, {"steps_per_quarter": 96, "max_duration": 64}),
    (PerformanceTokenizer, {}), (PerformanceTokenizer, {"steps_per_second": 1000, "max_shift": 0.05}),
])
def test_music_checkpoints_pass_the_size_checks(codec: type, options: dict[str, Any]) -> None:
    tokenizer = codec.fit([], **options)
    config = Config()
    config.update({"model": {"hidden": 8, "embed": 4, "layers": 1, "vocab_size": tokenizer.vocab_size}})
    model = LanguageModel(config.model)
    ckpt = Checkpoint(config=config.to_dict(), tokenizer=tokenizer.state_dict(), model=model.state_dict())
    assert ckpt.build()[1].state_dict() == tokenizer.state_dict()


@pytest.mark.parametrize("case", CASES)
def test_refused_in_one_line(case: str, hostile: Callable) -> None:
    mutate, message = CASES[case]
    path = hostile(mutate)
    started = time.perf_counter()
    with pytest.raises(SeqgenError, match=message):
        Checkpoint.load(path).build()
    for command in ("sample", "eval"):
        args = [command, "--checkpoint", str(path)] + (["--seed", "R", "--length", "5"] if command == "sample" else [])
        result = CliRunner().invoke(main, args)
        out = result.output
        assert result.exit_code == 1 and out.startswith("Error: ") and out.count("\n") == 1, (command, out)
        assert re.search(message, out) and "Traceback" not in out
    assert time.perf_counter() - started < 2.0  # refused fast: nothing of the claimed size is built
