"""``python -m creditcore`` runs the command line."""

from creditcore.cli import main

main()
