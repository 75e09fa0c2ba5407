"""MIDI channels for a piece's tracks: drums on channel 10 (index 9), every pitched track on a
channel of its own while the 15 melodic channels last, then tracks that share a GM program share
a channel (one program per channel is all MIDI can hold), and a clear error beyond that.

pretty_midi picks channels itself (``instrument index % 15``, drums counted in the index), so a
16th pitched track, or 15 pitched tracks beside a drum track, silently lands on a channel another
program already uses. :class:`ChannelledMIDI` writes through pretty_midi and then puts each
track's messages on the channel :func:`assign_channels` chose.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

import mido
import pretty_midi

from seqgen.errors import SeqgenError

#: The drum channel (GM channel 10).
DRUM_CHANNEL = 9
#: The 15 melodic channels, in the order they are handed out.
MELODIC_CHANNELS = [c for c in range(16) if c != DRUM_CHANNEL]


def assign_channels(tracks: Sequence[Any]) -> list[int]:
    """The channel of each track (anything with ``program`` and ``is_drum``: a Track or a
    pretty_midi Instrument), in order.

    Drum tracks get channel 9. Pitched tracks get channels 0-8, 10-15 one each, in track order,
    while there are at most 15 of them. With more, every program first gets one channel (in
    order of first appearance) and the channels left over go, in track order, to further tracks
    of a program; the remaining tracks share their program's first channel. More than 15
    programs raises :class:`SeqgenError`.
    """
    pitched = [i for i, t in enumerate(tracks) if not t.is_drum]
    channels = [DRUM_CHANNEL] * len(tracks)
    if len(pitched) <= len(MELODIC_CHANNELS):
        for i, channel in zip(pitched, MELODIC_CHANNELS):
            channels[i] = channel
        return channels
    programs = list(dict.fromkeys(int(tracks[i].program) for i in pitched))
    if len(programs) > len(MELODIC_CHANNELS):
        raise SeqgenError(
            f"{len(pitched)} pitched tracks with {len(programs)} programs: MIDI has "
            f"{len(MELODIC_CHANNELS)} melodic channels (one program each); give some tracks "
            "the same program or write fewer tracks"
        )
    free = iter(MELODIC_CHANNELS)
    first = {program: next(free) for program in programs}
    spare = len(MELODIC_CHANNELS) - len(programs)
    seen: set[int] = set()
    for i in pitched:
        program = int(tracks[i].program)
        if program not in seen:
            seen.add(program)
            channels[i] = first[program]
        elif spare > 0:
            channels[i] = next(free)
            spare -= 1
        else:
            channels[i] = first[program]
    return channels


class ChannelledMIDI(pretty_midi.PrettyMIDI):
    """A PrettyMIDI whose ``write`` puts instrument ``k``'s messages on ``assign_channels``'s
    channel ``k`` (pretty_midi writes the tempo/meter track first, then one track per
    instrument, so track ``k + 1`` is instrument ``k``)."""

    def write(self, filename: Any) -> None:
        channels = assign_channels(self.instruments)
        buffer = io.BytesIO()
        super().write(buffer)
        buffer.seek(0)
        mid = mido.MidiFile(file=buffer)
        for track, channel in zip(mid.tracks[1:], channels):
            for k, msg in enumerate(track):
                if not msg.is_meta and hasattr(msg, "channel"):
                    track[k] = msg.copy(channel=channel)
        if isinstance(filename, (str, PurePath)):
            mid.save(filename=str(filename))
        else:
            mid.save(file=filename)
