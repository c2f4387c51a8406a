"""mlp-parity: the harness that runs the four styles and proves them equal."""
