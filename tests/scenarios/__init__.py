"""Named situations from serious case reviews, as hand-written feeds with the alerts and flags they must raise."""
