"""A node on older software, for the chaos run: ``python -m tests.chaos.oldnode node serve …`` is the
node as it was before it knew ``material.received`` (the hub's receipt for a file). Such a node
holds the first downlink batch that carries one, tells the county it needs an upgrade, and
applies it once the harness restarts it as ``yiwang`` (issue 17, finding 4)."""

import sys

from sync_protocol import MATERIAL_RECEIVED, RECORD_SPECS

FORGOTTEN = MATERIAL_RECEIVED

if __name__ == "__main__":
    del RECORD_SPECS[FORGOTTEN]
    from yiwang import main

    sys.exit(main())
