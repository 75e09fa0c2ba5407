"""Evaluation: every token of a split is scored once with its left context, and reported per unit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.config import ModelConfig
from seqgen.errors import SeqgenError
from seqgen.evaluate import evaluate_checkpoint, report
from seqgen.scoring import token_nll, total_nll
from seqgen.model import LanguageModel


def model_and_tokens() -> tuple[LanguageModel, np.ndarray]:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=9, hidden=12, embed=6, layers=2, dropout=0.5))
    return model, np.random.default_rng(0).integers(0, 9, 700).astype(np.uint16)


def reference_nll(model: LanguageModel, tokens: np.ndarray) -> float:
    """The plain definition: one forward from a zero state over the whole sequence."""
    x = torch.from_numpy(tokens.astype(np.int64))[None]
    with torch.no_grad():
        logits, _ = model.eval()(x[:, :-1])
    return F.cross_entropy(logits[0], x[0, 1:], reduction="sum").item()


def test_one_stream_equals_the_plain_definition_and_dropout_is_off() -> None:
    model, tokens = model_and_tokens()
    model.train()
    nll, count = total_nll(model, tokens, streams=1)
    assert model.training  # the model's mode is restored
    assert count == len(tokens) - 1
    assert nll == pytest.approx(reference_nll(model, tokens), rel=1e-5)


def test_many_streams_still_count_every_token_once() -> None:
    model, tokens = model_and_tokens()
    nll, count = total_nll(model, tokens, streams=7)
    assert count == len(tokens) - 1
    per_stream = -(-(len(tokens) - 1) // 7)
    expected = sum(reference_nll(model, tokens[s: s + per_stream + 1]) for s in range(0, len(tokens) - 1, per_stream))
    assert nll == pytest.approx(expected, rel=1e-5)


def test_token_nll_gives_each_token_its_own_loss() -> None:
    model, tokens = model_and_tokens()
    per_token = token_nll(model, tokens)
    assert per_token.shape == (len(tokens) - 1,)
    x = torch.from_numpy(tokens.astype(np.int64))
    with torch.no_grad():
        logits, _ = model.eval()(x[None, :-1])
    expected = F.cross_entropy(logits[0], x[1:], reduction="none").numpy()
    np.testing.assert_allclose(per_token, expected, rtol=1e-5, atol=1e-6)  # 700 tokens: across chunks of 256


def test_report_per_token_and_per_character() -> None:
    out = report("val", nll=700.0, tokens=999, units={"chars": 1000})
    assert out["nats_per_token"] == pytest.approx(700 / 999)
    # Units are spread pro rata over predicted tokens: 999 of 1000 characters are predicted.
    assert out["nats_per_char"] == pytest.approx(700 / 999)
    assert out["bits_per_char"] == pytest.approx(700 / 999 / math.log(2))
    assert out["perplexity"] == pytest.approx(math.exp(700 / 999))


def test_evaluate_checkpoint_scores_each_split_and_refuses_an_empty_one(small_text: Path) -> None:
    args = ["train", "--corpus", str(small_text), "--run-dir", "r", "--hidden", "16", "--embed", "8",
            "--batch-size", "4", "--seq-len", "16", "--max-time", "0", "--max-steps", "5", "--test-frac", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    val = evaluate_checkpoint("r", "val")
    train = evaluate_checkpoint("r", "train")
    assert val["split"] == "val" and train["tokens"] > val["tokens"] > 0
    assert val["nats_per_token"] == pytest.approx(torch.load("r/best.pt", weights_only=True)["best_val"], rel=1e-5)
    with pytest.raises(SeqgenError, match="test split is empty"):
        evaluate_checkpoint("r", "test")
