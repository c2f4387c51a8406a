"""mlp-parity: the harness that runs the six styles and proves them equal."""

__version__ = "0.1.0"      # the one place the version is written: pyproject.toml reads it from here
