"""Tools for the project's maintainers: measurements behind the written policies (not part of the package)."""
