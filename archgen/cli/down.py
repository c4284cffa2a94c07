"""The `down` command."""
