"""The room's hands: the relays, locks and solenoids of a show, and what it tells props."""
