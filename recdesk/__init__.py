"""recdesk: a keyboard-only records desk for hospital medical-records clerks."""

__version__ = "0.1.0"
