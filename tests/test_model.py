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
def test_init_options_change_the_recurrent_weights(init: str) -> None:
    torch.manual_seed(0)
    w = LanguageModel(ModelConfig(vocab_size=10, hidden=8, embed=8, init=init)).rnn.weight_hh_l0.detach()
    if init == "orthogonal":
        gate = w[:8]
        torch.testing.assert_close(gate @ gate.T, torch.eye(8), atol=1e-5, rtol=0)
    assert w.abs().max() > 1 / 8 ** 0.5  # beyond the default uniform(-1/sqrt(h), 1/sqrt(h)) bound


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
