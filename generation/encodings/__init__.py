"""Encodings of quantized music for the model zoo. Plain Python: no Django imports.

- melody_events: Magenta Melody RNN "basic" one-hot events (note-off, no-event, note-on per pitch)
- note_tuples: (pitch, duration[, beat]) tokens with a vocabulary (Qin, Nichani & Kural)
- piano_roll: time x pitch play / articulate / replay / velocity planes (Biaxial LSTM, DeepJ)
"""
