"""MIDI <-> Piece through pretty_midi, which does the file format; this module only maps models.

Reading turns seconds back into quarters through the file's own tempo map (via ticks, so nothing
is rounded twice). Writing guards pretty_midi's known traps: it truncates overlapping notes of
the same pitch on its own terms, keeps zero-length notes, and has no public API for tempo changes.
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi

from seqgen.music.channels import ChannelledMIDI
from seqgen.music.score import Note, Piece, Track

#: Ticks per quarter note of the files we write: the common DAW default, divisible by 2, 3 and 5.
RESOLUTION = 480


def normalise_key(name: str) -> str:
    """``"G Major"`` / ``"e minor"`` / ``"B- major"`` -> ``"G major"`` / ``"E minor"`` / ``"Bb major"``."""
    tonic, _, mode = name.strip().partition(" ")
    tonic = tonic[:1].upper() + tonic[1:].replace("-", "b")
    return f"{tonic} {mode.lower() or 'major'}"


#: MIDI controller number of the sustain (damper) pedal; values >= 64 mean "down".
SUSTAIN_CC = 64


def _sustained(notes: list[pretty_midi.Note], controls: list[pretty_midi.ControlChange],
               end_time: float) -> list[tuple[int, float, float, int]]:
    """``(pitch, start, end, velocity)`` in seconds with the sustain pedal applied, as Magenta's
    ``apply_sustain_control_changes``: while the pedal is down a note-off waits for the pedal's
    release, and a re-struck pitch ends the note it sustains; notes still held when the file ends
    last to ``end_time``. The pretty_midi notes are left as they are."""
    rows = [[n.pitch, n.start, n.end, n.velocity] for n in notes]
    # at one instant: pedal down, pedal up, note-on, note-off (Magenta's order)
    events = [(cc.time, 0 if cc.value >= 64 else 1, -1) for cc in controls if cc.number == SUSTAIN_CC]
    if not events:
        return [tuple(r) for r in rows]  # type: ignore[misc]
    events += [(r[1], 2, i) for i, r in enumerate(rows)] + [(r[2], 3, i) for i, r in enumerate(rows)]
    events.sort()
    active: dict[int, list[int]] = {}  # pitch -> rows sounding (or held by the pedal)
    pedal = False
    for time, kind, i in events:
        if kind == 0:
            pedal = True
        elif kind == 1:
            pedal = False
            for pitch, held in list(active.items()):
                kept = []
                for j in held:
                    if rows[j][2] < time:  # released under the pedal: ends now
                        rows[j][2] = time
                    else:
                        kept.append(j)
                active[pitch] = kept
        elif kind == 2:
            pitch = rows[i][0]
            if pedal:  # a re-strike under the pedal ends the sustained note of this pitch
                for j in active.get(pitch, []):
                    rows[j][2] = time
                active[pitch] = []
            active.setdefault(pitch, []).append(i)
        elif not pedal and i in active.get(rows[i][0], []):
            active[rows[i][0]].remove(i)
    for held in active.values():  # pedal never released
        for j in held:
            rows[j][2] = max(rows[j][2], end_time)
    return [tuple(r) for r in rows]  # type: ignore[misc]


def piece_from_midi(pm: pretty_midi.PrettyMIDI, title: str = "", sustain: bool = True) -> Piece:
    """One track per pretty_midi instrument (name, program, is_drum kept), times in quarters.

    ``sustain`` applies the sustain pedal (control change 64) of each instrument to its notes'
    ends, as a listener hears them; without it pedalled piano reads dry and staccato."""
    resolution = pm.resolution

    def quarters(seconds: float) -> float:
        return int(pm.time_to_tick(seconds)) / resolution

    times, tempi = pm.get_tempo_changes()
    tempi = [round(float(t), 3) for t in tempi]  # MIDI stores whole microseconds per quarter
    tempo_changes: list[tuple[float, float]] = []
    for t, qpm in zip(times[1:], tempi[1:]):
        last = tempo_changes[-1][1] if tempo_changes else tempi[0]
        if abs(qpm - last) > 1e-6:
            tempo_changes.append((quarters(t), qpm))

    time_signature = (4, 4)
    meter_changes: list[tuple[float, int, int]] = []
    for ts in sorted(pm.time_signature_changes, key=lambda ts: ts.time):
        q = quarters(ts.time)
        if q <= 0:
            time_signature = (ts.numerator, ts.denominator)
        else:
            meter_changes.append((q, ts.numerator, ts.denominator))

    key = None
    if pm.key_signature_changes:
        key = normalise_key(pretty_midi.key_number_to_key_name(pm.key_signature_changes[0].key_number))

    last_end = max((n.end for inst in pm.instruments for n in inst.notes), default=0.0)
    tracks = []
    for inst in pm.instruments:
        notes = []
        if sustain:
            rows = _sustained(inst.notes, inst.control_changes, last_end)
        else:
            rows = [(n.pitch, n.start, n.end, n.velocity) for n in inst.notes]
        for pitch, start_s, end_s, velocity in rows:
            start, end = quarters(start_s), quarters(end_s)
            if end > start:
                notes.append(Note(int(pitch), start, end - start, int(velocity)))
        if not notes:
            continue
        notes.sort(key=lambda n: (n.start, n.pitch))
        name = inst.name.strip() or ("Drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program))
        tracks.append(Track(name=name, program=int(inst.program), is_drum=bool(inst.is_drum), notes=notes))

    return Piece(
        tracks=tracks,
        tempo_qpm=tempi[0] if tempi else 120.0,
        time_signature=time_signature,
        key=key,
        title=title,
        tempo_changes=tempo_changes,
        time_signature_changes=meter_changes,
    )


def read_midi(path: Path, sustain: bool = True) -> Piece:
    """Parse a MIDI file (raises whatever pretty_midi/mido raise on a broken file); ``sustain``
    lengthens notes held by the sustain pedal (see :func:`piece_from_midi`)."""
    return piece_from_midi(pretty_midi.PrettyMIDI(str(path)), title=Path(path).stem, sustain=sustain)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _track_ticks(track: Track, resolution: int) -> list[tuple[int, int, int, int]]:
    """``(start, end, pitch, velocity)`` in ticks: clamped, at least one tick long, and with no
    two notes of one pitch overlapping (the earlier note is shortened, as a player would)."""
    rows = []
    for n in track.notes:
        start = max(0, round(n.start * resolution))
        end = max(start + 1, round(n.end * resolution))
        rows.append((min(127, max(0, int(n.pitch))), start, end, min(127, max(1, int(n.velocity)))))
    rows.sort()
    kept: list[tuple[int, int, int, int]] = []
    for i, (pitch, start, end, vel) in enumerate(rows):
        if i + 1 < len(rows) and rows[i + 1][0] == pitch and rows[i + 1][1] < end:
            end = rows[i + 1][1]
            if end <= start:  # same pitch struck twice at once: keep the later (longer) one
                continue
        kept.append((start, end, pitch, vel))
    kept.sort()
    return kept


def piece_to_midi(piece: Piece, resolution: int = RESOLUTION) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI whose ``write`` gives a type-1 file: tempo map, meter and key at tick 0,
    one named track per Track with its GM program (drums on channel 10)."""
    pm = ChannelledMIDI(resolution=resolution, initial_tempo=piece.tempo_qpm)  # our channels, not pretty_midi's
    # pretty_midi has no public API for tempo changes; its own reader fills _tick_scales the
    # same way, and write() emits one set_tempo per entry.
    scales: list[tuple[int, float]] = []
    for q, qpm in piece.tempo_map():
        tick, scale = round(q * resolution), 60.0 / (min(max(qpm, 1.0), 1000.0) * resolution)
        if scales and scales[-1][0] == tick:
            scales[-1] = (tick, scale)
        elif not scales or scales[-1][1] != scale:
            scales.append((tick, scale))
    pm._tick_scales = scales
    rows = [_track_ticks(t, resolution) for t in piece.tracks]
    last_tick = max([r[-1][1] for r in rows if r] + [round(piece.end * resolution), 0])
    pm._update_tick_to_time(last_tick + 1)

    def seconds(q: float) -> float:
        return float(pm.tick_to_time(round(q * resolution)))

    meters = [(0.0, *piece.time_signature)] + sorted(piece.time_signature_changes)
    for q, num, den in meters:
        if num > 0 and _is_power_of_two(den) and q >= 0:
            pm.time_signature_changes.append(pretty_midi.TimeSignature(int(num), int(den), seconds(q)))
    if not pm.time_signature_changes or pm.time_signature_changes[0].time > 0:
        pm.time_signature_changes.insert(0, pretty_midi.TimeSignature(4, 4, 0.0))
    if piece.key:
        try:
            number = pretty_midi.key_name_to_key_number(normalise_key(piece.key))
            pm.key_signature_changes.append(pretty_midi.KeySignature(number, 0.0))
        except ValueError:
            pass  # modes MIDI cannot express (dorian, ...): leave the key out

    for track, ticks in zip(piece.tracks, rows):
        if not ticks:
            continue
        program = min(127, max(0, int(track.program)))
        name = track.name or ("Drums" if track.is_drum else pretty_midi.program_to_instrument_name(program))
        name = name.encode("latin-1", "replace").decode("latin-1")  # MIDI text is 8-bit: no emoji
        inst = pretty_midi.Instrument(program=program, is_drum=track.is_drum, name=name)
        for start, end, pitch, vel in ticks:
            start_s, end_s = float(pm.tick_to_time(start)), float(pm.tick_to_time(end))
            inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start_s, end=end_s))
        pm.instruments.append(inst)
    return pm
