"""dropout: who is about to drop out of Vietnam's voluntary social insurance, why, and whom to visit."""

__version__ = "0.1.0"
