// Anchor for tests/support.
