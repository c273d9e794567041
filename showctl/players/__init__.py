"""The players: one OS process per audio output (:mod:`.player`), the pool that starts and
supervises them on the controller's side (:mod:`.pool`), and the typed pipe between
(:mod:`.protocol`).

Nothing here is imported by the player process but :mod:`.player` and :mod:`.protocol`.
"""
