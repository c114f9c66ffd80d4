"""Music as earshot holds it, with no Django: quantized scores, reading MIDI and music21's
corpus, keys, melody extraction, corpora and train/valid/test splits."""
