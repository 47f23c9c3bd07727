"""Command line: the same use cases as the GUI, no Qt."""
