"""Run archgen as ``python -m archgen``."""

from archgen.cli import main

raise SystemExit(main())
