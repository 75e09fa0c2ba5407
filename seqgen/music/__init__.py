"""Music: corpora of scores and MIDI, note codecs, and MIDI/MusicXML/audio/picture writers."""
