"""The storage port and its adapters (one module per database)."""
