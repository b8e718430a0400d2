"""``python -m meshsec`` runs the command line."""

from meshsec.cli import main

raise SystemExit(main())
