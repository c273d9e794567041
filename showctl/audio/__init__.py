"""Audio output: the seam to sound cards, and the engine that places clips on the timeline.

Only :mod:`showctl.audio.sounddevice_backend` imports ``sounddevice``; everything else here
works without PortAudio.
"""
