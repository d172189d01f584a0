"""hdrive-migrate: move H: drives into OneDrive for Business through Microsoft Graph."""

__version__ = "0.1.0"
