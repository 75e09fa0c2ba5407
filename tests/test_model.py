import pytest
import torch

from seqgen.compact import COMPACT_ROWS, int8_supported
from seqgen.config import ModelConfig
from seqgen.model import LanguageModel, Stepper, weight_shapes
from seqgen.sampler import SamplingSettings, generate

CELLS = ["lstm", "gru", "rnn", "rnn-relu", "peephole"]


@pytest.mark.parametrize("cell", CELLS)
def test_single_step_matches_sequence_forward(cell: str) -> None:
    """The sampler's hand-written step must compute exactly what training computed."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(cell=cell, vocab_size=30, hidden=24, embed=8, layers=3, dropout=0)).eval()
    x = torch.randint(0, 30, (5, 12))
    with torch.no_grad():
        full, final = model(x)
        step, state, logits = Stepper(model), model.init_state(5), []
        for t in range(12):
            out, state = step(x[:, t], state)
            logits.append(out)
    torch.testing.assert_close(torch.stack(logits, 1), full, atol=1e-5, rtol=1e-4)
    for a, b in zip(final, state):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_lstm_forget_gate_bias_is_one() -> None:
    model = LanguageModel(ModelConfig(vocab_size=10, hidden=6, embed=4, layers=2))
    bias = model.rnn.bias_ih_l1.detach()
    assert (bias[6:12] == 1).all() and (bias[:6] == 0).all() and (bias[12:] == 0).all()


@pytest.mark.parametrize("init", ["orthogonal", "xavier", "kaiming"])
def test_init_options_set_each_gate_block_as_named(init: str) -> None:
    """Each gate's block gets the named scheme on its own: its spread depends on the block's
    fan-in and fan-out (hidden 24, embed 8, so the input and recurrent blocks differ)."""
    torch.manual_seed(0)
    hidden, embed = 24, 8
    rnn = LanguageModel(ModelConfig(vocab_size=10, hidden=hidden, embed=embed, init=init)).rnn
    for weight, fan_in in ((rnn.weight_ih_l0, embed), (rnn.weight_hh_l0, hidden)):
        for block in weight.detach().split(hidden):  # the i, f, g, o gates
            if init == "orthogonal":
                rows = block if fan_in == hidden else block.T
                torch.testing.assert_close(rows @ rows.T, torch.eye(len(rows)), atol=1e-5, rtol=0)
                continue
            # uniform(-b, b): xavier b = sqrt(6 / (fan_in + fan_out)); kaiming (linear) b = sqrt(3 / fan_in)
            bound = (6 / (fan_in + hidden)) ** 0.5 if init == "xavier" else (3 / fan_in) ** 0.5
            assert block.abs().max() <= bound and block.abs().max() > 0.9 * bound
            assert block.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.2)


def test_tied_weights_share_one_tensor() -> None:
    model = LanguageModel(ModelConfig(vocab_size=10, hidden=8, embed=8, tie_weights=True))
    assert model.head.weight is model.embedding.weight
    untied = LanguageModel(ModelConfig(vocab_size=10, hidden=8, embed=8))
    assert model.num_parameters() == untied.num_parameters() - 80


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers, tie", [(1, False), (3, True)])
def test_weight_shapes_are_the_models(cell: str, layers: int, tie: bool) -> None:
    config = ModelConfig(cell=cell, layers=layers, hidden=8, embed=8 if tie else 5, tie_weights=tie, vocab_size=11)
    actual = {name: tuple(t.shape) for name, t in LanguageModel(config).state_dict().items()}
    assert weight_shapes(config) == actual


def sharp_model(cell: str) -> LanguageModel:
    """A model whose next-token distribution is sharp (scaled-up head), so a sampled id is decided
    by a clear margin and rounding of the weights cannot flip it."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(cell=cell, vocab_size=30, hidden=64, embed=16, layers=2, dropout=0)).eval()
    with torch.no_grad():
        model.head.weight.mul_(8)
    return model


@pytest.mark.skipif(not int8_supported(), reason="this torch build has no weight-only int8 product")
@pytest.mark.parametrize("cell", CELLS)
def test_compact_step_stays_close_to_float32(cell: str) -> None:
    """The int8 step (a few streams) gives logits and states within rounding of float32's along a
    whole sequence; a batch of COMPACT_ROWS or more takes the exact float32 path."""
    model = sharp_model(cell)
    exact, compact = Stepper(model), Stepper(model, compact=True)
    for batch in (1, COMPACT_ROWS):
        x = torch.randint(0, 30, (batch, 40), generator=torch.Generator().manual_seed(1))
        state_a = state_b = model.init_state(batch)
        with torch.no_grad():
            for t in range(40):
                logits_a, state_a = exact(x[:, t], state_a)
                logits_b, state_b = compact(x[:, t], state_b)
                if batch == COMPACT_ROWS:
                    assert torch.equal(logits_a, logits_b)
                    continue
                log_a, log_b = logits_a.log_softmax(-1), logits_b.log_softmax(-1)
                assert float((log_a.exp() * (log_a - log_b)).sum()) < 1e-3  # KL, nats
                torch.testing.assert_close(logits_b, logits_a, atol=0.1, rtol=0.02)
        for a, b in zip(state_a, state_b):
            torch.testing.assert_close(b, a, atol=0.02, rtol=0.02)


def cycle_model(period: int = 12, steps: int = 80) -> LanguageModel:
    """A small LSTM trained until it knows a repeating sequence: its distributions are sharp."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=30, hidden=64, embed=16, layers=2, dropout=0))
    sequence = torch.randperm(30)[:period].repeat(8)[None]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        logits, _ = model(sequence[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits[0], sequence[0, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.skipif(not int8_supported(), reason="this torch build has no weight-only int8 product")
def test_compact_sampling_draws_the_same_ids_where_the_model_is_sure() -> None:
    model = cycle_model()
    seed = torch.randperm(30, generator=torch.Generator().manual_seed(0))  # not the cycle: a real start

    def ids(compact: bool, temperature: float) -> list[int]:
        settings = SamplingSettings(temperature=temperature)
        steps = generate(model, seed[:3].tolist(), 200, settings, 1, torch.Generator().manual_seed(3), compact=compact)
        return torch.cat(list(steps)).tolist()

    greedy = ids(True, 0)
    assert greedy == ids(False, 0)
    assert ids(True, 0.7) == ids(False, 0.7)  # same seed, same random numbers, same ids
    assert len(set(greedy)) > 3  # it continues the cycle, not one token over and over


@pytest.mark.skipif(not int8_supported(), reason="this torch build has no weight-only int8 product")
def test_matrices_the_int8_kernel_cannot_take_stay_float32() -> None:
    """Input sizes off the kernel's block (hidden 24) crashed it or gave wrong sums: float32 there,
    and greedy samples of the same seed are the same every time."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=30, hidden=24, embed=8, layers=2, dropout=0)).eval()
    step = Stepper(model, compact=True)
    assert step.w_hh[0].int8 is None and step.head.int8 is None  # inputs of 24
    assert step.w[1].int8 is not None  # [input, hidden]: 48
    runs = [torch.cat(list(generate(model, [1], 30, SamplingSettings(temperature=0)))).tolist() for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_a_torch_without_the_int8_product_steps_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(torch, "_weight_int8pack_mm", raising=False)
    int8_supported.cache_clear()
    try:
        step = Stepper(sharp_model("gru"), compact=True)
        assert step.head.int8 is None and all(w.int8 is None for w in step.w)
    finally:
        monkeypatch.undo()
        int8_supported.cache_clear()
