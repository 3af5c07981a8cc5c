"""leadledger: a PostgreSQL-native backend for lead-generation platforms."""

__version__ = "0.1.0"
