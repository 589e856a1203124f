"""odbridge's version (its own module: any layer may read it without importing the API)."""

__version__ = "0.1.0"
