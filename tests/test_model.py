import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.model import LanguageModel, Stepper, weight_shapes

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
