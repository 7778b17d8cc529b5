"""The audit result: reading a stored audit.json back (load) and writing a run's files as a set (write)."""
