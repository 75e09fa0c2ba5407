"""The voice-leading rule: a voice may not move in parallel fifths or octaves with another, by
the definition the music-theory statistics count; holding, resting and contrary motion are free."""

from __future__ import annotations

import pytest
import torch

from seqgen.music.controls import Controls
from seqgen.music.grammar import PITCH, GridGrammar
from seqgen.music.grid import GridTokenizer
from seqgen.music.score import Note, Piece, Track
from seqgen.music.voice_leading import parallel_pitches, remember, sounding


def forbidden(voices: dict, track: int, onset: int) -> set[int]:
    return set(torch.nonzero(parallel_pitches(voices, track, onset)).flatten().tolist())


def test_similar_motion_into_a_fifth_or_octave_is_refused() -> None:
    # The lower voice has moved F4 -> G4 at step 4; the upper one held C5 (a fifth above F4).
    fifth = {0: [(0, 4, 72)], 1: [(0, 4, 65), (4, 8, 67)]}
    assert forbidden(fifth, 0, 4) == {74, 86, 98, 110, 122}  # D5 and its octaves, moving up
    octave = {0: [(0, 4, 72)], 1: [(0, 4, 60), (4, 8, 62)]}
    assert forbidden(octave, 0, 4) == {74, 86, 98, 110, 122}
    falling = {0: [(0, 4, 72)], 1: [(0, 4, 60), (4, 8, 57)]}
    assert forbidden(falling, 0, 4) == {69, 57, 45, 33, 21, 9}  # below C5 only; contrary motion is free


@pytest.mark.parametrize("voices", [
    {0: [(0, 4, 72)], 1: [(0, 8, 65)]},  # the other voice holds
    {0: [(0, 4, 72)], 1: [(0, 3, 65), (4, 8, 67)]},  # it rested just before
    {0: [(0, 3, 72)], 1: [(0, 4, 65), (4, 8, 67)]},  # this voice rested just before
    {0: [(0, 4, 72)], 1: [(0, 4, 64), (4, 8, 67)]},  # a sixth before: no perfect interval kept
])
def test_holding_resting_and_other_intervals_are_free(voices: dict) -> None:
    assert forbidden(voices, 0, 4) == set()


def test_notes_are_remembered_while_they_matter() -> None:
    notes = remember(remember([], (0, 4, 60)), (4, 6, 62))
    assert notes == [(0, 4, 60), (4, 6, 62)] and sounding(notes, 3.5) == 60 and sounding(notes, 4.5) == 62
    assert remember(notes, (8, 9, 64)) == [(8, 9, 64)]
    assert sounding([(0, 4, 60), (0, 4, 64)], 1) is None  # a chord is no single line


def test_the_grammar_refuses_the_pitch_that_would_make_parallels() -> None:
    """Encode C5-D5 over F4-G4 (parallel fifths), replay it up to the second voice's pitch at
    beat 2, and ask the grammar: that pitch is refused, unless parallels are allowed."""
    duet = Piece([Track("Soprano", 0, False, [Note(72, 0.0, 1.0, 80), Note(74, 1.0, 1.0, 80)]),
                  Track("Bass", 0, False, [Note(65, 0.0, 1.0, 80), Note(67, 1.0, 1.0, 80)])],
                 tempo_qpm=90.0, time_signature=(4, 4))
    codec = GridTokenizer.fit([duet])
    ids = codec.encode(duet)
    pitches = [i for i, token in enumerate(ids) if codec.kinds[token] == PITCH]
    cut = pitches[3]  # the second pitch at beat 2, whichever voice the encoder writes second
    for rule, refused in ((True, True), (False, False)):
        grammar = GridGrammar(codec, ids[:cut], controls=Controls(voice_leading=rule))
        allowed = grammar.allowed(0)
        assert bool(allowed[ids[cut]]) is not refused
        first = codec.id[(PITCH, 0)]
        assert allowed[first: first + 128].sum() >= 2  # another pitch is left


def test_a_voice_may_not_cross_the_voices_around_it() -> None:
    from seqgen.music.voice_leading import crossing_pitches

    order = [0, 1, 2]  # soprano, alto, bass
    voices = {0: [(0, 8, 72)], 2: [(4, 8, 55)]}  # the soprano holds C5, the bass sings G3 from step 4
    refused = set(torch.nonzero(crossing_pitches(voices, 1, 4, order)).flatten().tolist())
    assert refused == set(range(73, 128)) | set(range(0, 55))  # the alto stays from G3 to C5
    assert not crossing_pitches({0: [(0, 4, 72)]}, 1, 4, order).any()  # the soprano's note has ended
