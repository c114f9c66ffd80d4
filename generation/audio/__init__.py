"""MIDI to loudness-matched audio, with no Django: FluidSynth synthesis, loudness and true
peak, encoders, and the pool that renders many files over every core."""
