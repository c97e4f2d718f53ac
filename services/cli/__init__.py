"""The `docsight` command line."""
