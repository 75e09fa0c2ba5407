"""Curated samples (--keep/--rank) and sampling text with no seed: the ranking rules, the
request's checks, and the same behaviour from the Python API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import seqgen
from seqgen.cli import main
from seqgen.generate import SampleRequest
from seqgen.ranking import SampleScore, rank_scores
from seqgen.text.char import CharTokenizer

TINY = {"hidden": 16, "embed": 8, "batch_size": 4, "seq_len": 16, "max_steps": 5, "max_time": 0, "seed": 3}


@pytest.fixture
def text_run(small_text: Path) -> seqgen.api.TrainResult:
    return seqgen.train(corpus=small_text, run_dir="runs/t", val_frac=0.1, test_frac=0.0, **TINY)


def test_rank_orders_by_likelihood_novelty_or_both() -> None:
    scores = [SampleScore(0, 1.0, 40), SampleScore(1, 1.1, 5), SampleScore(2, 3.0, 4), SampleScore(3, 1.2, 5)]
    assert [s.index for s in rank_scores(scores, 2, "likelihood")] == [0, 1]
    assert [s.index for s in rank_scores(scores, 3, "novelty")] == [2, 1, 3]  # equal copies: likelier first
    # Places by NLL 0,1,3,2 and by copy 3,1,0,1 (5 and 5 share place 1): sums 3,2,3,3.
    assert [s.index for s in rank_scores(scores, 4, "balanced")] == [1, 0, 3, 2]


def test_keep_and_rank_are_checked_and_default_each_other() -> None:
    with pytest.raises(seqgen.SeqgenError, match="keep must be 1 to the number of samples"):
        SampleRequest(num_samples=2, keep=3)
    with pytest.raises(seqgen.SeqgenError, match="keep must be"):
        SampleRequest(num_samples=2, keep=0)
    with pytest.raises(seqgen.SeqgenError, match="rank must be one of likelihood, novelty, balanced"):
        SampleRequest(num_samples=2, keep=1, rank="best")
    assert (SampleRequest(num_samples=4, keep=2).rank, SampleRequest(num_samples=4, rank="novelty").keep) == (
        "likelihood", 4)
    assert (SampleRequest(num_samples=4).keep, SampleRequest(num_samples=4).rank) == (None, None)


def test_api_keeps_the_likeliest_samples(text_run: seqgen.api.TrainResult) -> None:
    gen = seqgen.load(text_run.run_dir)
    drawn = gen.sample(seed="RO", length=30, num_samples=5, random_seed=2)
    nll = [float(gen.token_nll("RO" + text[2:])[1:].mean()) for text in drawn]  # the tokens after the seed
    kept = gen.sample(seed="RO", length=30, num_samples=5, random_seed=2, keep=2)
    best = sorted(range(5), key=nll.__getitem__)[:2]
    assert kept == [drawn[i] for i in best]
    ranked = gen.ranked(gen.request(seed="RO", length=30, num_samples=5, random_seed=2, rank="balanced"))
    assert sorted(text for text, _ in ranked) == sorted(drawn)  # rank alone orders all samples
    for text, score in ranked:
        assert score.nll == pytest.approx(nll[drawn.index(text)], rel=1e-5)
        assert score.copied == gen_longest_copy(text[2:], text_run) and score.unit == "chars"
    assert isinstance(gen.sample(seed="RO", length=5, num_samples=3, keep=1), str)


def gen_longest_copy(generated: str, run: seqgen.api.TrainResult) -> int:
    """Longest stretch of ``generated`` in the train split, the slow way: the run's corpus is the
    small_text play with its last 10% held out."""
    from seqgen.corpus import load_corpus

    corpus = load_corpus(str(seqgen.load(run.run_dir).config.data.corpus))
    train = "".join(corpus.splits(0.1, 0.0)["train"])
    return max((j - i for i in range(len(generated)) for j in range(i + 1, len(generated) + 1)
                if generated[i:j] in train), default=0)


def test_no_seed_starts_a_new_document_after_a_newline(text_run: seqgen.api.TrainResult) -> None:
    gen = seqgen.load(text_run.run_dir)
    unseeded = gen.sample(length=25, random_seed=5)
    assert len(unseeded) == 25 and gen.sample(seed="\n", length=25, random_seed=5) == "\n" + unseeded
    result = CliRunner().invoke(main, ["sample", "--checkpoint", str(text_run.run_dir), "--length", "25",
                                       "--random-seed", "5"])
    assert result.exit_code == 0 and result.output == unseeded + "\n"
    with pytest.raises(seqgen.SeqgenError, match="never saw a newline"):
        CharTokenizer("abc").start_ids()


def test_cli_keep_prints_each_kept_score(text_run: seqgen.api.TrainResult) -> None:
    args = ["sample", "--checkpoint", str(text_run.run_dir), "--seed", "RO", "--length", "20", "--num-samples", "4",
            "--keep", "2", "--rank", "novelty", "--random-seed", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(":")[0][:6] for line in lines] == ["kept 1", "kept 2"]
    assert all("nats/token, longest copy from train" in line and line.endswith("chars") for line in lines)
    assert result.stdout.count("--- sample") == 2
    bad = CliRunner().invoke(main, args[:-4] + ["--keep", "5"])
    assert bad.exit_code == 1 and "keep must be 1 to the number of samples (4)" in bad.output
