"""One show played by several boxes (issue 24, being built): the leader's scene starts carried
to every box with their T0 on the wall clock, which each box maps onto its own monotonic clock
(:mod:`.wallclock`), in messages that say which show they belong to (:mod:`.messages`)."""
