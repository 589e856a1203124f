"""``python -m odbridge.cli``."""

from odbridge.cli import app

app()
