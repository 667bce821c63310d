"""``python -m livepipe`` runs the command line."""

from livepipe.cli import main

main()
