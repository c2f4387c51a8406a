"""The command line: `python -m parity compare | record | explain | check | pictures | bench | example |
template | lessons` (also installed as `mlp-parity ...`; the usage line names the command as it was
invoked). It only assembles: each command is a module
with `add_parser(subparsers)`, which registers its options and sets `main`, and
`main(args) -> exit status`.

Exit status: 0 success (every pair agrees), 1 a disagreement or a diverged run,
2 bad input (one line naming the fix, printed before any work; no command at all
prints the list of commands on stdout and that line), 130 interrupted by Ctrl-C, 143 by
SIGTERM (one line on stderr saying what was written: every file is written atomically, so
each is the old one or the new one, never half of each), 141 standard output
closed by its reader (`compare | head`): the run stops quietly, as a Unix tool
killed by SIGPIPE does (128 + 13), so `set -o pipefail` sees it did not finish and
it is not read as a verdict (0, 1) or as bad input (2).
"""

from __future__ import annotations

import errno
import os
import sys

from . import files, interrupt
from .options import Parser, UsageError
from .spec import SpecError

INTERRUPTED, BROKEN_PIPE = 130, 141


def commands():
    """The command modules, imported here (not at import time) so that a Ctrl-C while they load is caught."""
    from . import bench, check, compare, examples, explain, pictures, record
    from . import lessons, template
    return (compare, record, explain, check, pictures, bench, examples, template, lessons)


def invoked_as():
    """The command as the user typed it: `mlp-parity` (the installed script) or `python -m parity`."""
    name = os.path.basename(sys.argv[0] or "")
    return "mlp-parity" if name.startswith("mlp-parity") else "python -m parity"


def build_parser():
    from . import __version__
    p = Parser(prog=invoked_as(), description="One MLP written six ways, proven equal step by step.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=Parser)   # not required: none gets the list below
    for command in commands():
        command.add_parser(sub)
    p.command_names = tuple(sub.choices)
    return p


def main(argv=None):
    files.forget_written()
    with interrupt.watching():
        try:
            status = _main(argv)
            interrupt.check()            # a Ctrl-C lost after the last step's check: still an interrupted run
            return status
        except BaseException as exc:     # Ctrl-C, or another error it was turned into where it landed
            if not (isinstance(exc, KeyboardInterrupt) or interrupt.seen()):
                raise
            _say(_interrupted())
            return interrupt.status()       # INTERRUPTED, or 143 where SIGTERM ended the run


def _main(argv):
    try:
        interrupt.check()                             # a Ctrl-C lost while the command line loaded
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit:              # --help, or argparse's usage error: its text must reach its stream
            sys.stdout.flush()
            raise
        if args.command is None:
            parser.print_help()                       # the commands, each with one line, on stdout
            raise UsageError(f"no command given: name one of {', '.join(parser.command_names)} "
                             f"(e.g. {parser.prog} compare; {parser.prog} COMMAND --help for its options)")
        from .threads import for_command, use
        use(for_command(args))                        # before any work: one thread for these nets, or --threads
        status = args.func(args)
        sys.stdout.flush()              # a full or failing standard output is said here, not lost at exit
        return status
    except SpecError as exc:
        _say(f"error: {exc}")
        return 2
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        _silence_stdout()
        return BROKEN_PIPE
    except OSError as exc:      # a file or stream the system refuses: a full disk, a device that takes no writes
        if exc.errno not in REFUSED_WRITES:
            raise
        _say(f"error: {exc.filename or 'standard output'}: {exc.strerror or exc} (give another place, or make "
             "room)")
        if not exc.filename:
            _silence_stdout()   # what is left in its buffer would fail again at exit
        return 2                # the system refused the output, as it refuses a bad path: not the run's verdict


# The errors of a write the system refuses (ENOSPC, EDQUOT, EFBIG, EIO, EROFS, EACCES, EPERM): said in one line.
REFUSED_WRITES = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS", "EACCES", "EPERM")
                  if hasattr(errno, name)}


def _interrupted():
    """One true line: what was written before Ctrl-C (whole: every write is atomic), or nothing."""
    done = files.written()
    if not done:
        return interrupt.NOTHING_WRITTEN
    return f"interrupted: wrote {', '.join(done)} (whole) before stopping; nothing was left half-written"


def _say(line):
    """One line on stderr, even where stderr itself is a closed pipe."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _stdout_closed():
    """Whether standard output is a pipe (or socket) whose reader has gone: the BrokenPipeError was its."""
    try:
        import select
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):      # no poll (Windows), or stdout is not a file
        return sys.stdout is sys.__stdout__


def _silence_stdout():
    """Point stdout at /dev/null, so that the interpreter's last flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
