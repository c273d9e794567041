"""Calibration: every output measured with a microphone and trimmed to the sample.

:mod:`.estimate` finds each output's arrival in a recording; :mod:`.session` plays the
measurement through the players and records it through the audio seam; :mod:`.stored` is the
calibration file beside the show, whose trims the players add to the outputs' delays.
"""
