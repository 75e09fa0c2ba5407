"""Tiny trained runs for the playground's tests: a text run and a music run, a few seconds of CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pretty_midi

from seqgen.config import Config
from seqgen.trainer import Trainer

TEXT_RUN, MUSIC_RUN = "play-lstm", "tunes-gru"
#: The base URL of a TestClient for an app bound to 127.0.0.1 (its own "testserver" Host is refused).
LOCAL = "http://127.0.0.1:8000"


def write_tunes(folder: Path) -> Path:
    """Six short two-track MIDI tunes (a melody and a bass under it): a music corpus that trains in
    seconds, with voices to mute and solo."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(6):
        midi = pretty_midi.PrettyMIDI(initial_tempo=120)
        piano = pretty_midi.Instrument(program=0, name="Piano")
        for i in range(48):
            pitch = 60 + (0, 2, 4, 5, 7, 9, 11, 12)[(i * (k + 1)) % 8]
            piano.notes.append(pretty_midi.Note(80, pitch, i * 0.25, i * 0.25 + 0.25))
        bass = pretty_midi.Instrument(program=32, name="Bass")
        for i in range(12):
            bass.notes.append(pretty_midi.Note(70, 36 + (0, 7, 5, 7)[(i + k) % 4], i, i + 1))
        midi.instruments.extend([piano, bass])
        midi.write(str(folder / f"tune{k}.mid"))
    return folder


def build_runs(root: Path) -> Path:
    """``root/checkpoints`` with a tiny text run and a tiny music run (a few seconds of CPU)."""
    speakers = ["ROMEO", "JULIET", "NURSE", "MERCUTIO"]
    play = root / "play.txt"
    play.write_text("\n".join(f"{speakers[i % 4]}:\nO gentle night, number {i % 17} is the one we keep.\n"
                              for i in range(300)), encoding="utf-8")
    tunes = write_tunes(root / "tunes")
    runs = root / "checkpoints"
    old = os.environ.get("SEQGEN_CACHE")
    os.environ["SEQGEN_CACHE"] = str(root / "cache")
    try:
        for corpus, name, cell in ((play, TEXT_RUN, "lstm"), (tunes, MUSIC_RUN, "gru")):
            config = Config()
            config.update({"corpus": str(corpus), "cell": cell, "hidden": 16, "embed": 8, "layers": 1,
                           "batch_size": 2, "seq_len": 16, "max_steps": 6, "max_time": 0, "eval_every": 3,
                           "val_frac": 0.2, "test_frac": 0.0, "run_dir": str(runs / name), "device": "cpu"})
            Trainer(config, echo=lambda _line: None).run()
    finally:
        if old is None:
            os.environ.pop("SEQGEN_CACHE", None)
        else:
            os.environ["SEQGEN_CACHE"] = old
    return runs
