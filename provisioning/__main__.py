"""`python -m provisioning` is the `yiwang` command."""

from .cli import main

raise SystemExit(main())
