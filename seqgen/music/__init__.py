"""Music: corpora of scores and MIDI, note codecs, and MIDI/MusicXML/audio/picture writers.

Everything that knows what a note is lives here, around one flat model (:mod:`.score`:
``Piece -> Track -> Note``, times in quarter notes):

- :mod:`.reader`, :mod:`.midi_io`, :mod:`.music21_io` - files <-> Piece (pretty_midi, music21)
- :mod:`.corpus`, :mod:`.parsing` - named corpora (``bach``, ``folk``, ``folk-all``) and folders,
  parsed on all cores and cached
- :mod:`.codecs`, :mod:`.grid`, :mod:`.performance` - the ``grid`` and ``performance`` tokenizers
- :mod:`.grammar` - which grid token may come next (constrained decoding: every sample is valid)
- :mod:`.channels` - MIDI channels for a piece's tracks (drums on 10, at most 15 melodic)
- :mod:`.writers` - ``write_music(piece, path)`` for .mid/.midi, .musicxml/.xml/.mxl, .wav, .png
- :mod:`.stats` - MusPy-style statistics of a piece
"""
