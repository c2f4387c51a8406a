"""The files a learner is pointed at, found where the package is, installed or not.

The starter templates, the check protocol (docs/check.md), the worked solutions,
the gallery of buggy MLPs the check names, and the lessons as notebooks are kept
at the top of the checkout (templates/, docs/, examples/, notebooks/) and shipped
inside the package as `parity/data/...`: in a checkout `parity/data/` holds links
to those folders, in a wheel or an sdist it holds copies (the package data that
pyproject.toml declares). Every path here is found through the package itself
(importlib.resources), so the same call answers in a checkout, after
`pip install -e .` and after `pip install mlp-parity-*.whl`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FLAVOURS = ("numpy", "torch")


def data():
    """The folder of shipped files: parity/data (a plain folder: the package is never zipped)."""
    return Path(str(resources.files("parity") / "data"))


def _at(*parts):
    """A shipped file's path, with the checkout's links followed (templates/... rather than parity/data/...)."""
    return data().joinpath(*parts).resolve()


def template(flavour):
    """The starter file a learner fills in: templates/mlp_<flavour>.py (numpy or torch)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"no template for {flavour!r}: choose from {', '.join(FLAVOURS)}")
    return _at("templates", f"mlp_{flavour}.py")


def protocol():
    """The check protocol: what a learner's MLP must define, phase by phase (docs/check.md)."""
    return _at("docs", "check.md")


def solution(flavour):
    """A filled-in template that passes the check: examples/solutions/mlp_<flavour>.py."""
    if flavour not in FLAVOURS:
        raise ValueError(f"no solution for {flavour!r}: choose from {', '.join(FLAVOURS)}")
    return _at("examples", "solutions", f"mlp_{flavour}.py")


def mistakes():
    """The gallery of buggy MLPs, one common mistake each, that the check names: examples/buggy/."""
    return _at("examples", "buggy")


def notebooks():
    """The seed lessons as Jupyter notebooks (notebooks/, written by `make notebooks`)."""
    return _at("notebooks")
