"""`python -m impl_torch_func`: seed.py run as it is (500 steps, the loss every 50); it takes no options."""

import argparse
import signal

from . import seed

if hasattr(signal, "SIGPIPE"):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)          # `| head` ends it quietly, as it does any command
parser = argparse.ArgumentParser(prog="python -m impl_torch_func", description=(seed.__doc__ or "").split("\n")[0])
parser.error = lambda message: parser.exit(2, f"{parser.prog}: error: {message} (it takes no options)\n")
parser.parse_args()
seed.main()
