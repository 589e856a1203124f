"""odbridge: read patient data out of Open Dental's REST API, keep it in sync, and use it."""

__version__ = "0.1.0"
