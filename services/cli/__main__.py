"""`python -m services.cli`: the same as the `docsight` command."""

from services.cli.main import main

main()
