"""`python -m parity pictures --out DIR`: the pictures of seed 002, drawn from the lessons.

activations.png  every activation f (left) and its derivative f' (right), as the
                 NumPy lesson writes them by hand.
optimizers.png   the loss, step by step, of SGD, SGD with momentum, RMSprop and
                 Adam training the same net from the same initial weights on the
                 same shuffled mini-batches (seed 002's y = x² + noise task).
                 Every run is done by all six styles in lockstep; the title says
                 whether they agreed.
"""

from __future__ import annotations

import os

import numpy as np

from .files import pyplot, save_figure
from .lockstep import MAX_STEPS
from .report import counted
from .options import UsageError, count, output_path
from .spec import ACTIVATIONS, Spec
from .styles import reference_activations

# Seed 002 §2.4.3: 1-20-1 ReLU net, MSE, batches of 32 shuffled, lr 0.01, and these four.
OPTIMIZER_RUNS = {
    "SGD": dict(optimizer="sgd"),
    "Momentum": dict(optimizer="sgd", momentum=0.8),
    "RMSprop": dict(optimizer="rmsprop", alpha=0.9),
    "Adam": dict(optimizer="adam", betas=(0.9, 0.99)),
}


def _plt():
    return pyplot()


def activations_png(path):
    plt = _plt()
    reference = reference_activations()
    z = np.linspace(-5, 5, 1001)
    settings = {"leaky_relu": dict(slope=0.1), "prelu": dict(slope=np.array([0.25])),
                "softplus": dict(beta=1.0, threshold=20.0)}
    fig, axes = plt.subplots(len(ACTIVATIONS), 2, figsize=(8, 2.0 * len(ACTIVATIONS)), sharex=True)
    for row, name in zip(axes, ACTIVATIONS):
        f, f_grad = reference[name]
        kw = settings.get(name, {})
        label = {"leaky_relu": "leaky_relu (slope 0.1)", "prelu": "prelu (slope 0.25 at the start)"}.get(name, name)
        row[0].plot(z, f(z, **kw), color="tab:red")
        row[0].set_ylabel(label, fontsize=9)
        row[1].plot(z, f_grad(z, **kw), color="tab:blue")
        if name in ("relu", "leaky_relu", "prelu"):       # the kink: the value torch (and the lessons) use
            row[1].plot([0.0], f_grad(np.zeros(1), **kw), "o", color="black", ms=4, label="f'(0), as torch")
            row[1].legend(loc="center right", fontsize=8)
        for ax in row:
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.grid(alpha=0.3)
    axes[0][0].set_title("f(z)")
    axes[0][1].set_title("f'(z), as the backward pass uses it")
    axes[-1][0].set_xlabel("z")
    axes[-1][1].set_xlabel("z")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


BATCHES = 32                       # batches of 32 in an epoch of the 1000 samples
MAX_EPOCHS = MAX_STEPS // BATCHES


def optimizer_runs(epochs=12, n=1000, batch_size=32, lr=0.01, seed=1):
    """{label: (losses per step, Report)} for the four optimizers, all six styles in lockstep."""
    from .lockstep import run
    from .problem import make_problem
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, n).reshape(-1, 1)
    y = x ** 2 + 0.1 * rng.standard_normal(x.shape)
    steps = epochs * -(-n // batch_size)
    base = Spec(name="seed-002", sizes=(1, 20, 1), activation="relu", bias=True, loss="mse", lr=lr,
                n_samples=n, batch_size=batch_size, shuffle=True, seed=seed, steps=steps, init_scale=0.5)
    weights = make_problem(base).weights                  # one draw: every optimizer starts from these
    biases = make_problem(base).biases
    out = {}
    for label, changes in OPTIMIZER_RUNS.items():
        spec = base.replace(name=label, **changes)
        report = run(spec, problem=make_problem(spec, x=x, y=y, weights=weights, biases=biases))
        out[label] = (report.losses["numpy"], report)
    return out


def optimizers_png(path, runs, epochs=12):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    worst = 0.0
    agree = True
    for label, (losses, report) in runs.items():
        ax.plot(losses, label=label, lw=1)
        worst = max(worst, float(report.error_array().max(initial=0.0)))
        agree = agree and report.ok
    ax.set_ylim(0, 0.2)
    ax.set_xlabel(f"step (batches of 32, shuffled; {counted(epochs, 'epoch')})")
    ax.set_ylabel("mini-batch loss (MSE)")
    verdict = (f"all six styles agree at every step (largest scaled error {worst:.1e})" if agree
               else "the styles DISAGREE: run python -m parity compare")
    ax.set_title(f"seed 002: y = x² + noise, 1-20-1 ReLU, lr 0.01, same initial weights\n{verdict}", fontsize=10)
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return agree


FILES = ("activations.png", "optimizers.png")


def main(args):
    output_path("--out", args.out, folder=True, example="pictures")     # refused before any work
    act, opt = (os.path.join(args.out, name) for name in FILES)
    if os.path.isdir(args.out):                  # each picture that will be replaced must be replaceable
        for name, path in zip(FILES, (act, opt)):
            if os.path.isdir(path):               # (output_path would suggest a file inside it: the name is fixed)
                raise UsageError(f"--out {args.out}: {path} is a folder, and this command writes its picture "
                                 f"{name} there: move that folder away, or give another --out folder")
            output_path("--out", path)
    made = not os.path.isdir(args.out)
    os.makedirs(args.out, exist_ok=True)         # its parent exists: checked above
    try:
        activations_png(act)
    except BaseException:                        # Ctrl-C (or a failure) before the first picture: no empty folder
        if made:
            try:
                os.rmdir(args.out)
            except OSError:
                pass
        raise
    print(f"wrote {act}")
    runs = optimizer_runs(epochs=args.epochs)
    agree = optimizers_png(opt, runs, epochs=args.epochs)
    for label, (losses, report) in runs.items():
        print(f"  {label:<9} loss {losses[0]:.4f} -> {losses[-1]:.4f} over {counted(report.steps_run, 'step')}, "
              f"styles {'agree' if report.ok else 'DISAGREE'}")
    print(f"wrote {opt}")
    return 0 if agree else 1


def add_parser(sub):
    """Register `pictures` on the command line's subparsers."""
    p = sub.add_parser("pictures", help="write seed 002's pictures: activations, and the loss of four optimizers")
    p.add_argument("--out", required=True, help="folder for the PNG files (made if missing; its parent must exist)")
    p.add_argument("--epochs", type=count("--epochs", 1, "12", high=MAX_EPOCHS,
                                          why=f"{BATCHES} batches an epoch, {MAX_STEPS} steps a run at most"), default=12, help="epochs of the optimizer comparison (default: 12)")
    p.set_defaults(func=main)
    return p
