"""yiwang edge node: offline intake at a village or township service point."""
