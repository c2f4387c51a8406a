"""`mlp-parity lessons`: where each lesson lives on disk, and the order to read them in.

The lessons are the packages impl_* (parity.styles lists them, in reading order);
each reads top to bottom, seed.py first. Also shown: the seed lessons as notebooks
and the files a learner writes their own MLP from (template, protocol, solutions,
the gallery of mistakes), wherever the package is installed.
"""

from __future__ import annotations

from . import resources, styles


def add_parser(sub):
    """Register `lessons` on the command line's subparsers."""
    p = sub.add_parser("lessons", help="where each lesson lives on disk, and the order to read them in",
                       description="List the lessons (one MLP written several ways) in reading order, with "
                                   "the folder and files of each, the notebooks, and the files for checking "
                                   "your own MLP.")
    p.set_defaults(func=main)
    return p


def main(args):
    from .cli import invoked_as
    notebooks = resources.notebooks()
    print("The lessons, in the order to read them (in each, seed.py first where there is one: the seed")
    print("notebooks' two-layer net; then mlp.py, the same net with any depth, and the modules it imports):")
    for i, (_, package, label, folder, names) in enumerate(styles.lessons(), 1):
        print(f"{i}. {label} ({package})")
        print(f"   {folder}")
        print(f"   {' '.join(names)}")
        notebook = notebooks / f"{package}_seed.ipynb"
        if notebook.is_file():
            print(f"   notebook: {notebook}")
    print()
    print("Your own MLP against them:")
    print(f"   a starter to fill in:  {invoked_as()} template numpy|torch [PATH]")
    print(f"   the protocol:          {resources.protocol()}")
    print(f"   worked solutions:      {resources.solution('numpy').parent}")
    print(f"   the mistakes it names: {resources.mistakes()}")
    return 0
