"""Sampling on a GPU: where sampling runs, and the GPU step against the CPU's.

The GPU tests skip without CUDA; they ran on the lent H100 (see the closing note of issue 14).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.config import ModelConfig
from seqgen.cuda_step import GPU_HIDDEN, on_device, sampling_device
from seqgen.errors import SeqgenError
from seqgen.generate import SampleRequest
from seqgen.model import LanguageModel
from seqgen.sampler import SamplingSettings, generate

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CELLS = ["lstm", "gru", "rnn", "peephole"]


def model(cell: str, hidden: int = 64, layers: int = 2) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(ModelConfig(vocab_size=50, hidden=hidden, embed=16, layers=layers, cell=cell,
                                     dropout=0)).eval()


def test_auto_samples_on_a_gpu_only_wide_models(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sampling_device("auto", GPU_HIDDEN - 1).type == "cpu"
    assert sampling_device("cpu", 4096).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert sampling_device("auto", GPU_HIDDEN).type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert sampling_device("auto", GPU_HIDDEN).type == "cpu"


def test_cuda_without_a_gpu_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SeqgenError, match="no CUDA GPU"):
        SampleRequest(device="cuda")
    result = CliRunner().invoke(main, ["sample", "--device", "cuda", "--checkpoint", "nowhere"])
    assert result.exit_code != 0 and "no CUDA GPU" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(SeqgenError, match="unknown device"):
        SampleRequest(device="tpu")


def test_a_cpu_generator_is_used_as_it_is() -> None:
    g = torch.Generator().manual_seed(3)
    assert on_device(g, torch.device("cpu")) is g and on_device(None, torch.device("cuda")) is None


@gpu
@pytest.mark.parametrize("cell", CELLS)
def test_the_gpu_step_matches_the_cpu(cell: str) -> None:
    m = model(cell)
    cuda = torch.device("cuda")
    cpu_step, gpu_step = m.stepper(False), m.stepper(False, cuda)
    tokens = torch.tensor([1, 7, 3, 9])
    state_cpu = m.init_state(4)
    state_gpu = tuple(s.to(cuda) for s in state_cpu)
    with torch.inference_mode():
        for step in range(20):
            want, state_cpu = cpu_step(tokens, state_cpu)
            got, state_gpu = gpu_step(tokens.to(cuda), state_gpu)
            torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-4)
            tokens = (tokens * 3 + step) % 50


@gpu
def test_generation_on_the_gpu_is_seeded_and_keeps_bans() -> None:
    m = model("lstm", hidden=GPU_HIDDEN, layers=1)

    def run() -> list[list[int]]:
        g = torch.Generator().manual_seed(5)
        return [t.tolist() for t in generate(m, [1, 2, 3], 200, SamplingSettings(temperature=2.0), 4, g,
                                             banned=[0, 49], device="auto")]

    first = run()
    assert first == run()
    assert len(first) == 200 and all(len(row) == 4 for row in first)
    drawn = {t for row in first for t in row}
    assert not drawn & {0, 49} and len(drawn) > 20


@gpu
def test_cli_samples_text_and_music_on_the_gpu(tmp_path: Path, small_text: Path, midi_folder: Path) -> None:
    import pretty_midi

    runner = CliRunner()
    for corpus, run in ((small_text, "runs/t"), (midi_folder, "runs/m")):
        result = runner.invoke(main, ["train", "--corpus", str(corpus), "--run-dir", run, "--max-steps", "60",
                                      "--hidden", "32", "--device", "cuda"])
        assert result.exit_code == 0, result.output
    text = runner.invoke(main, ["sample", "--checkpoint", "runs/t", "--device", "cuda", "--length", "300",
                                "--random-seed", "1", "--out", "t.txt"])
    assert text.exit_code == 0, text.output
    assert len(Path("t.txt").read_text()) >= 300
    music = runner.invoke(main, ["sample", "--checkpoint", "runs/m", "--device", "cuda", "--bars", "4",
                                 "--num-samples", "4", "--random-seed", "1", "--out", "m.mid"])
    assert music.exit_code == 0, music.output
    files = [pretty_midi.PrettyMIDI(f"m-{i}.mid") for i in range(1, 5)]
    assert sum(len(track.notes) for midi in files for track in midi.instruments) > 0
