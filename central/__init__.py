"""yiwang county hub: ingest and verify, route, approve, send decisions down."""
