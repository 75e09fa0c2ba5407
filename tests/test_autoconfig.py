"""Automatic configuration: the rules on synthetic speeds, the cache, and the run it sets up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqgen import autoconfig
from seqgen.autoconfig import Speed, applies, choose, step_flops
from seqgen.cli import main
from seqgen.config import resolve_config

SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB = 1_003_854, 65
#: The 2-core Xeon's measured speed line (seconds per step = overhead + cost x FLOPs).
XEON = Speed(0.0609, 4.25e-12)


def speed_giving(steps: int, seconds: float, hidden: int = 256) -> Speed:
    """A machine on which the ``hidden``-wide candidate makes ``steps`` steps in ``seconds``."""
    return Speed(0.0, seconds / steps / step_flops(hidden, SHAKESPEARE_VOCAB))


def test_the_measured_presets_are_what_the_rules_choose_on_tiny_shakespeare() -> None:
    # The presets' machine (benchmarks/RESULTS.md): the 2x256 GRU made 2,027 steps in 71 s and the
    # 2x512 GRU 2,946 steps in 600 s; the speed line through those two points.
    f256, f512 = step_flops(256, SHAKESPEARE_VOCAB), step_flops(512, SHAKESPEARE_VOCAB)
    per_flop = (600 / 2946 - 71 / 2027) / (f512 - f256)
    speed = Speed(71 / 2027 - per_flop * f256, per_flop)
    short = choose(SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB, 71.0, 0, 0.0, speed)
    assert short.settings["hidden"] == 256 and short.settings["dropout"] == 0.0
    assert short.settings["seq_len"] == 32 and short.settings["cell"] == "gru"
    ten = choose(SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB, 600.0, 0, 0.0, speed)
    assert ten.settings["hidden"] == 512 and ten.settings["seq_len"] == 64
    assert ten.settings["dropout"] == 0.35 and round(ten.epochs) == 12  # as in the 10-minute preset
    assert ten.settings["lr"] < short.settings["lr"]


def test_a_slower_machine_gets_a_narrower_model_for_the_same_budget() -> None:
    fast = choose(SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB, 71.0, 0, 0.0, speed_giving(2000, 71.0))
    slow = choose(SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB, 71.0, 0, 0.0, speed_giving(500, 71.0))
    assert slow.settings["hidden"] < fast.settings["hidden"]
    assert slow.steps >= autoconfig.MIN_STEPS or slow.settings["hidden"] == autoconfig.WIDTHS[0]


def test_a_small_corpus_caps_the_width_and_gets_dropout() -> None:
    speed = speed_giving(20000, 71.0)  # fast enough for any width
    small = choose(50_000, 60, 600.0, 0, 0.0, speed)
    assert autoconfig.weights(small.settings["hidden"], 60) <= autoconfig.PARAMS_PER_TOKEN * 50_000
    assert small.epochs == autoconfig.MAX_EPOCHS and small.settings["dropout"] == 0.35  # time: capped
    many = choose(50_000, 60, 0.0, 20_000, 0.0, None)  # steps the user asked for: hundreds of epochs
    assert many.epochs > 100 and many.settings["dropout"] == 0.4


def test_step_budgets_need_no_clock_and_cpu_width_is_bounded() -> None:
    choice = choose(50_000_000, 65, 0.0, 500, 0.0, None)
    assert choice.settings["hidden"] == autoconfig.CPU_MAX_HIDDEN and choice.steps == 500
    assert choose(50_000_000, 65, 0.0, 500, 0.0, None, gpu=True).settings["hidden"] > autoconfig.CPU_MAX_HIDDEN


def test_auto_is_off_with_a_preset_a_config_file_or_a_model_flag() -> None:
    assert applies(None, None, {"corpus": "x", "lr": 0.01, "max_time": 30})
    assert not applies("cpu", None, {})
    assert not applies(None, "my.toml", {})
    assert not applies(None, None, {"hidden": 128})


def test_the_speed_is_measured_once_and_a_busy_measurement_is_not_kept(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path))
    timed: list[int] = []

    def fake_time(hidden: int, *_args: object, **_kwargs: object) -> float:
        timed.append(hidden)
        return 0.01 + 1e-10 * step_flops(hidden, 65)

    monkeypatch.setattr(autoconfig, "_time_steps", fake_time)
    monkeypatch.setattr(autoconfig.os, "getloadavg", lambda: (50.0, 50.0, 50.0))
    autoconfig.measure_speed("cpu", False, 65)
    assert not (tmp_path / "speed.json").exists() and len(timed) == 4  # two widths, each timed twice
    monkeypatch.setattr(autoconfig.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    speed = autoconfig.measure_speed("cpu", False, 65)
    assert speed.overhead == pytest.approx(0.01) and speed.per_flop == pytest.approx(1e-10)
    again = autoconfig.measure_speed("cpu", False, 65)
    assert again == speed and timed[8:] == [256]  # the cache, checked by one quick timing


def test_a_cached_speed_slower_than_the_machine_is_measured_again(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path))
    monkeypatch.setattr(autoconfig.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    overhead = [0.10]  # a slow spell when the line was cached
    monkeypatch.setattr(autoconfig, "_time_steps",
                        lambda hidden, *_a, **_k: overhead[0] + 1e-12 * step_flops(hidden, 65))
    slow = autoconfig.measure_speed("cpu", False, 65)
    overhead[0] = 0.11  # a little slower: the cached line stands
    assert autoconfig.measure_speed("cpu", False, 65) == slow
    overhead[0] = 0.02  # the machine is back to its speed: measured again, and kept
    fast = autoconfig.measure_speed("cpu", False, 65)
    assert fast.overhead == pytest.approx(0.02) and fast.per_flop == pytest.approx(1e-12)
    assert next(iter(json.loads((tmp_path / "speed.json").read_text()).values()))[0] == pytest.approx(0.02)


def test_train_prints_and_stores_the_choice_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(autoconfig, "measure_speed", lambda *_a: pytest.fail("a step budget needs no clock"))
    Path("small.txt").write_text("to be or not to be, that is the question\n" * 300)
    result = CliRunner().invoke(main, ["train", "--corpus", "small.txt", "--max-steps", "2", "--lr", "0.002",
                                       "--eval-every", "2", "--run-dir", "run"])
    assert result.exit_code == 0, result.output
    line = next(li for li in result.output.splitlines() if li.startswith("auto: GRU 2x"))
    config = json.loads(Path("run/config.json").read_text())
    assert config["train"]["auto"] == line
    assert config["train"]["lr"] == 0.002 and config["model"]["cell"] == "gru"
    given = CliRunner().invoke(main, ["train", "--corpus", "small.txt", "--max-steps", "2", "--hidden", "16",
                                      "--eval-every", "2", "--run-dir", "run2"])
    assert given.exit_code == 0 and "auto:" not in given.output
    assert json.loads(Path("run2/config.json").read_text())["model"]["cell"] == resolve_config().model.cell


def test_the_speed_is_timed_on_the_threads_the_run_will_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run given one thread (``--threads 1``, or one core left free by other work) must be
    planned from one thread's speed, not from the process's default count."""
    import torch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    probed: list[int] = []

    def fake_time(hidden: int, *_args: object) -> float:
        probed.append(torch.get_num_threads())
        return 0.01 + 1e-10 * step_flops(hidden, 65)

    monkeypatch.setattr(autoconfig, "_time_steps", fake_time)
    monkeypatch.setattr(autoconfig.os, "getloadavg", lambda: (0.1, 0.1, 0.1))  # a quiet machine keeps it
    Path("small.txt").write_text("to be or not to be, that is the question\n" * 300)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the process's count, which the run's one thread must override
    try:
        result = CliRunner().invoke(main, ["train", "--corpus", "small.txt", "--max-time", "1", "--threads", "1",
                                           "--run-dir", "run"])
        assert result.exit_code == 0, result.output
        assert probed and set(probed) == {1}
        assert "threads 1|" in next(iter(json.loads((tmp_path / "cache" / "speed.json").read_text())))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_transposed_copies_are_not_new_data() -> None:
    """bach's train split is 12 keys of each chorale: the width cap counts the distinct tokens,
    so 3.44 M augmented tokens get the model 287 k tokens allow, not one twelve times larger."""
    speed = speed_giving(20000, 600.0)  # fast enough for any width
    plain = choose(3_440_000, 474, 600.0, 0, 0.0, speed)
    keys = choose(3_440_000, 474, 600.0, 0, 0.0, speed, copies=12)
    assert keys.settings["hidden"] < plain.settings["hidden"]
    assert autoconfig.weights(keys.settings["hidden"], 474) <= autoconfig.PARAMS_PER_TOKEN * 3_440_000 / 12


def test_a_large_corpus_gets_no_wider_model_than_the_budget_can_feed() -> None:
    """folk at 10 minutes on the 2-core Xeon (its measured speed line): the step floor alone let a
    2x768 GRU through (870 steps, 0.6 train tokens per weight); the budget must show each weight
    TOKENS_PER_WEIGHT tokens, and the next wider candidate would have seen fewer."""
    speed = XEON
    choice = choose(24_110_000, 750, 600.0, 0, 0.0, speed, copies=12)
    hidden = choice.settings["hidden"]

    def tokens_per_weight(width: int) -> float:
        steps = 600.0 / speed.seconds(step_flops(width, 750))
        return autoconfig.tokens_seen(width, steps) / autoconfig.weights(width, 750)

    assert tokens_per_weight(hidden) >= autoconfig.TOKENS_PER_WEIGHT and choice.steps >= autoconfig.MIN_STEPS
    wider = autoconfig.WIDTHS[autoconfig.WIDTHS.index(hidden) + 1]
    assert tokens_per_weight(wider) < autoconfig.TOKENS_PER_WEIGHT
    assert hidden < 768


def test_a_slow_hour_on_the_xeon_keeps_the_presets_width_at_71_seconds() -> None:
    """The 2-core Xeon's speed line predicts 745 steps for the 2x256 GRU at 71 s; 2x256 runs of
    747-913 steps beat 2x192 runs of 925-1,183 on tiny-shakespeare, the 38 plays and bach
    (benchmarks/RESULTS.md, held-out over three corpora), so the floors must let 2x256 through."""
    choice = choose(SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB, 71.0, 0, 0.0, XEON)
    assert choice.settings["hidden"] == 256 and 700 <= choice.steps < 800


def test_a_long_budget_on_a_small_corpus_stops_at_the_epoch_cap() -> None:
    speed = speed_giving(20000, 71.0)  # fast: 30 minutes would be hundreds of epochs
    long = choose(420_000, 104, 1800.0, 0, 0.0, speed)
    hidden = long.settings["hidden"]
    assert long.settings["epochs"] == autoconfig.MAX_EPOCHS
    assert long.steps == round(autoconfig.MAX_EPOCHS * 420_000 / autoconfig.tokens_seen(hidden, 1))
    assert "epochs" not in choose(420_000, 104, 1800.0, 0, 50.0, speed).settings  # the user's epochs win
    assert "epochs" not in choose(420_000, 104, 0.0, 100_000, 0.0, None).settings  # so do their steps
    assert "epochs" not in choose(SHAKESPEARE_TOKENS, SHAKESPEARE_VOCAB, 71.0, 0, 0.0, XEON).settings


def test_train_ends_a_capped_time_budget_after_its_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(autoconfig, "measure_speed", lambda *_a: speed_giving(20000, 71.0))
    Path("small.txt").write_text("to be or not to be, that is the question\n" * 300)
    result = CliRunner().invoke(main, ["train", "--corpus", "small.txt", "--max-time", "600", "--run-dir", "run"])
    assert result.exit_code == 0, result.output
    assert "it stops there, since more epochs would overfit" in result.output
    config = json.loads(Path("run/config.json").read_text())
    t = config["train"]
    per_epoch = (len(Path("small.txt").read_text()) * 0.9 - 1) // t["batch_size"] // t["seq_len"]
    done = int(re.search(r"done: step (\d+)", result.output).group(1))
    assert t["epochs"] == autoconfig.MAX_EPOCHS and t["max_time"] == 600
    assert abs(done - autoconfig.MAX_EPOCHS * per_epoch) <= 1
