"""The `logs` command."""
