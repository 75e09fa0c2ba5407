import pytest
import torch

from seqgen.errors import SeqgenError
from seqgen.text.char import CharTokenizer
from seqgen.tokenizer import tokenizer_class, tokenizer_from_state


def test_char_round_trip_and_vocab_from_train_only() -> None:
    tok = CharTokenizer.fit(["hello world\n"])
    assert tok.vocab_size == len(set("hello world\n")) + 1
    assert tok.decode(tok.encode("hello\nworld")) == "hello\nworld"
    # A character seen only outside the train split encodes to unk instead of failing.
    assert tok.encode("z") == [tok.unk_id]
    assert tok.decode([tok.unk_id, 10_000, -1]) == CharTokenizer.UNK * 3


def test_seed_with_unknown_characters_names_them() -> None:
    tok = CharTokenizer.fit(["abc"])
    with pytest.raises(SeqgenError, match="'x', 'é'"):
        tok.encode_seed("abxé")
    with pytest.raises(SeqgenError, match="empty"):
        tok.encode_seed("")


def test_state_survives_safe_torch_load(tmp_path) -> None:
    tok = CharTokenizer.fit(["ROMEO:\nHi"])
    torch.save(tok.state_dict(), tmp_path / "t.pt")
    again = tokenizer_from_state(torch.load(tmp_path / "t.pt", weights_only=True))
    assert again.encode("ROMEO:") == tok.encode("ROMEO:")


def test_unknown_tokenizer_lists_known_ones() -> None:
    with pytest.raises(SeqgenError, match="known tokenizers: .*char"):
        tokenizer_class("wordpiece")


def test_char_encoding_is_vectorised_but_exact() -> None:
    text = "naïve café 😀 ROMEO:\n" * 3
    tok = CharTokenizer.fit([text[:10], text[10:]])  # fitted chunk by chunk, as corpora stream
    assert tok.chars == "".join(sorted(set(text)))
    ids = tok.encode_array(text + "z€")
    assert ids.dtype.kind == "i" and ids.tolist() == tok.encode(text + "z€")
    assert ids.tolist()[:-2] == [tok.chars.index(c) for c in text]
    assert ids.tolist()[-2:] == [tok.unk_id, tok.unk_id]  # unseen, below and above the largest code point
    assert tok.encode("\U0010ffff\x00") == [tok.unk_id, tok.unk_id]


def test_unknown_symbol_is_never_sampled() -> None:
    """An untrained model gives the unknown id a real share of probability; the ban must hold
    over 10,000 tokens drawn hot (and without it, the same draw does produce it)."""
    from seqgen.config import ModelConfig
    from seqgen.model import LanguageModel
    from seqgen.sampler import SamplingSettings, generate

    tok = CharTokenizer.fit(["ROMEO:\nO gentle night\n"])
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=tok.vocab_size, hidden=16, embed=8)).eval()

    def draw(banned: tuple[int, ...]) -> str:
        g = torch.Generator().manual_seed(0)
        ids = torch.stack(list(generate(model, tok.encode("R"), 1000, SamplingSettings(temperature=2), 10, g, banned)))
        return tok.decode(ids.flatten().tolist())

    assert CharTokenizer.UNK in draw(())
    assert CharTokenizer.UNK not in draw(tok.banned)
