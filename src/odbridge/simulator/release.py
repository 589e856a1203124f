"""The Open Dental release the simulator behaves as by default (a module of its own, so the
command line can show it without loading the simulator)."""

CURRENT_OD_VERSION = "25.3"
"""The Open Dental release simulated by default (the current one)."""
