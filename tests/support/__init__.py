"""Test support shared by the test packages: real processes, real links, real images."""
