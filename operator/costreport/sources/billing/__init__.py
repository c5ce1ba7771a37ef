"""FOCUS bills: reading them, keeping them in the ledger, and cloud costs from them."""
