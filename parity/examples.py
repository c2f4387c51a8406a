"""The seed notebooks' toy problems, each trained in all four styles in lockstep.

`python -m parity example NAME` (or `make examples` for all of them) runs one
problem from a seed notebook in the four styles at once, compares every pair
after every phase of every step (as `compare` does), and then checks that the
outcome the seed reached is reached in every style:

    line        seed 003   ŷ = w·x fitted to y = 2x: w reaches 2
    quadratic   seed 003   its homework, ŷ = w1·x² + w2·x + b with the same lr: diverges; a fix beside it
    xor         seed 004   2-30-2 sigmoid net, one sample at a time: all four cases right
    fizzbuzz    seed 002   10-100-4 ReLU classifier with cross-entropy: accuracy on 1..100
    prelu       seed 003   Linear → PReLU → Linear with Adam and a shuffled DataLoader

Exit status: 0 when every pair of styles agrees and the outcome is reached,
1 when they disagree, the outcome is missed or the run diverged (the quadratic
homework diverges on purpose), 2 on bad input. `example all` runs every one and
exits 0 when each behaves as its seed did, the quadratic one included.
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from dataclasses import dataclass, field

import numpy as np

from . import lockstep
from .divergence import stable_lr
from .tolerance import compare_arrays
from .problem import make_problem
from .spec import Spec, SpecError
from .styles import LABELS, STYLES


@dataclass
class Result:
    """What one example did: its lockstep reports, the numbers it checks, and a verdict."""
    name: str
    reports: list                                   # lockstep.Report, one per setting run
    values: dict = field(default_factory=dict)      # style -> {quantity: value}, the checked outcome
    lines: list = field(default_factory=list)       # the printout
    parity_ok: bool = True                          # every pair agreed in every run
    outcome_ok: bool = True                         # the seed's outcome was reached
    expected: bool = True                           # behaved as the seed did (for `example all`)

    @property
    def status(self):
        return 0 if self.parity_ok and self.outcome_ok else 1


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


def predict(style, x):
    """ŷ of one trained style for inputs x (N, n0), through the lesson's own forward, as float64."""
    x = np.ascontiguousarray(np.asarray(x, dtype=style.spec.dtype))
    y = style.net.forward(style.convert(x))
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    return np.array(y, dtype=np.float64)


def parity_sentence(report):
    """One line: every pair agrees, or the pinned first disagreement."""
    if report.first is not None:
        return "DISAGREE: first divergence at " + report.first.sentence()
    return (f"parity: all {len(report.pairs)} pairs of styles agree within {report.tol:g} after every phase "
            f"of {report.steps_run} steps (largest scaled error {report.error_array().max(initial=0.0):.2g})")


def lockstep(spec, problem, *, progress=False):
    with one_thread():
        return lockstep.run(spec, STYLES, problem=problem, progress=progress)


@contextlib.contextmanager
def one_thread():
    """torch on one thread for these small nets: a thread pool costs more than it saves.

    Measured on the project's 2-core machine (busy): fizzbuzz in lockstep took 8 ms a
    step on one thread against 68 ms on two. The sums come out the same either way to
    within the tolerance policy; the thread count is restored afterwards.
    """
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _table(head, rows):
    width = max(len(LABELS[s]) for s in STYLES) + 2
    out = [f"  {'style':<{width}}" + "".join(f"{h:>14}" for h in head)]
    for s, cells in rows:
        out.append(f"  {LABELS[s]:<{width}}" + "".join(f"{c:>14}" for c in cells))
    return out


# ---------------------------------------------------------------------------
# line (seed 003): ŷ = w·x on x = 1..5, y = 2x, one sample at a time
# ---------------------------------------------------------------------------

LINE_X = np.arange(1.0, 6.0).reshape(-1, 1)     # x = 1, 2, 3, 4, 5
LINE_Y = 2.0 * LINE_X                            # y = 2x
LINE_TOL = 1e-6                                  # |w − 2| and |ŷ(4) − 8| / 4 after training


def line_spec(*, epochs=100, lr=0.01, dtype="float64"):
    """One weight, no bias, no activation; loss (ŷ − y)² of one sample; SGD; w starts at 0."""
    return Spec(name="line", sizes=(1, 1), activation="identity", output_activation="identity", bias=False,
                loss="sse", optimizer="sgd", lr=lr, dtype=dtype, steps=5 * epochs, n_samples=5, batch_size=1,
                init="constant", init_value=0.0)


def line_problem(spec):
    return make_problem(spec, x=LINE_X, y=LINE_Y)


def line(*, epochs=100, lr=0.01, dtype="float64", progress=False):
    spec = line_spec(epochs=epochs, lr=lr, dtype=dtype)
    report = lockstep(spec, line_problem(spec), progress=progress)
    res = Result("line", [report], parity_ok=report.first is None)
    res.lines.append(f"== line (seed 003): ŷ = w·x on x = 1..5, y = 2x, one sample at a time in order, "
                     f"loss (ŷ − y)², SGD lr {lr:g}, w from 0, {epochs} epochs ({spec.steps} steps), {dtype}")
    res.lines.append("  " + parity_sentence(report))
    if report.diverged is not None:
        res.lines.append("  DIVERGED: " + report.diverged.sentence(spec))
        res.outcome_ok = False
        return res
    rows = []
    for s in STYLES:
        st = report.built[s]
        w = float(st.read("update")["W1"][0, 0])
        y4 = float(predict(st, [[4.0]])[0, 0])
        res.values[s] = {"w": w, "y4": y4}
        rows.append((s, [f"{w:.9f}", f"{y4:.9f}"]))
        res.outcome_ok &= abs(w - 2.0) <= LINE_TOL and abs(y4 - 8.0) <= 4 * LINE_TOL
    res.lines += _table(["w", "ŷ(x = 4)"], rows)
    verdict = "OK" if res.outcome_ok else "MISSED (wanted)"
    res.lines.append(f"  {verdict}: w = 2 within {LINE_TOL:g} and ŷ(4) = 8 within {4 * LINE_TOL:g} in every style "
                     f"(seed 003: 'Predicted value(After Training)' 8 after 100 epochs)")
    res.expected = res.status == 0
    return res


# ---------------------------------------------------------------------------
# quadratic (seed 003's homework): ŷ = w1·x² + w2·x + b, same data, same lr
# ---------------------------------------------------------------------------
# The model is one linear layer with a bias on the features (x², x): ŷ = W1 @ [x², x] + b1.
# At x = 5 the features are (25, 5, and 1 for the bias): |x̃|² = 651, and SGD on (ŷ − y)² is
# stable only while lr·2·|x̃|² < 2, i.e. lr < 1/651 ≈ 0.0015. The seed's lr 0.01 is 6.5 times
# that: every visit to x = 5 multiplies the error by about 1 − 2·0.01·651 ≈ −12, and it blows up.
# A learning rate under the limit alone stops the blow-up but crawls, because x², x and 1 differ
# so much in size (and on 1..5 point so nearly the same way) that some directions barely move.
# The fix is the inputs: u = (x − 3)/2 lies in [−1, 1], so |ũ|² ≤ 3 and the limit rises to 1/3,
# and centring makes u², u and 1 nearly orthogonal. ŷ = w1·u² + w2·u + b is the same family of
# quadratics in x; with lr 0.1 it fits in the seed's own 100 epochs.

QUAD_FIX = dict(centre=3.0, scale=2.0, lr=0.1)   # u = (x − 3)/2
QUAD_TOL = 1e-6                                  # |ŷ(4) − 8| after the corrected run


def quadratic_features(x, centre=0.0, scale=1.0):
    u = (np.asarray(x, dtype=np.float64).reshape(-1, 1) - centre) / scale
    return np.hstack([u ** 2, u])


def quadratic_spec(*, epochs=100, lr=0.01, dtype="float64", name="quadratic"):
    return Spec(name=name, sizes=(2, 1), activation="identity", output_activation="identity", bias=True,
                loss="sse", optimizer="sgd", lr=lr, dtype=dtype, steps=5 * epochs, n_samples=5, batch_size=1,
                init="constant", init_value=0.0)


def quadratic_problem(spec, centre=0.0, scale=1.0):
    return make_problem(spec, x=quadratic_features(LINE_X, centre, scale), y=LINE_Y)


def quadratic(*, epochs=100, lr=0.01, dtype="float64", progress=False):
    spec = quadratic_spec(epochs=epochs, lr=lr, dtype=dtype)
    report = lockstep(spec, quadratic_problem(spec), progress=progress)
    res = Result("quadratic", [report], parity_ok=report.first is None)
    res.lines.append(f"== quadratic (seed 003's homework): ŷ = w1·x² + w2·x + b on x = 1..5, y = 2x, one sample "
                     f"at a time, loss (ŷ − y)², SGD lr {lr:g}, all from 0, {epochs} epochs, {dtype}")
    res.lines.append("  " + parity_sentence(report))
    d = report.diverged
    if d is not None:
        res.lines.append("  DIVERGED: " + d.sentence(spec))
        res.values["diverged"] = {"step": d.step, "loss": d.loss, "lr_limit": d.lr_limit}
        res.outcome_ok = False                  # the seed's setting does not fit the data
        res.lines.append("  (the model is one linear layer on the inputs x² and x, plus 1 for the bias: at x = 5 "
                         "that is 25² + 5² + 1 = 651, and SGD on (ŷ − y)² needs lr·651 < 1)")
        res.lines.append(f"  (a smaller lr alone stops the blow-up but crawls: x², x and 1 differ so much in size "
                         f"that lr {d.lr_limit / 2:.2g} on the raw x still gives ŷ(4) = 7.84 after 1000 epochs; "
                         f"centring and scaling x fixes both)")
    else:
        res.lines.append(f"  no divergence in {report.steps_run} steps at lr {lr:g}")
    # The fix, shown beside it: the same model on centred and scaled inputs, lr under the new limit.
    c, k, flr = QUAD_FIX["centre"], QUAD_FIX["scale"], QUAD_FIX["lr"]
    fspec = quadratic_spec(epochs=epochs, lr=flr, dtype=dtype, name=f"quadratic, u = (x - {c:g})/{k:g}")
    fixed = lockstep(fspec, quadratic_problem(fspec, c, k), progress=progress)
    res.reports.append(fixed)
    res.parity_ok &= fixed.first is None
    limit, _ = stable_lr(fspec, quadratic_features(LINE_X, c, k))
    res.lines.append(f"-- the fix: the same quadratic in u = (x − {c:g})/{k:g}, which lies in [−1, 1], so the "
                     f"stable limit rises to lr = {limit:.3g} and u², u, 1 are nearly orthogonal; lr {flr:g}, "
                     f"{epochs} epochs ({fspec.steps} steps)")
    res.lines.append("  " + parity_sentence(fixed))
    fixed_ok = fixed.diverged is None
    rows = []
    for s in STYLES:
        st = fixed.built[s]
        y4 = float(predict(st, quadratic_features([4.0], c, k))[0, 0])
        loss = fixed.losses[s][-1]
        res.values[s] = {"y4": y4, "last_loss": loss}
        rows.append((s, [f"{y4:.9f}", f"{loss:.3g}"]))
        fixed_ok &= abs(y4 - 8.0) <= QUAD_TOL
    res.lines += _table(["ŷ(x = 4)", "last loss"], rows)
    res.values["fixed_ok"] = fixed_ok
    res.lines.append(f"  {'CONVERGED' if fixed_ok else 'MISSED (wanted)'}: ŷ(4) = 8 within {QUAD_TOL:g} in every style")
    # As the seed did: the homework diverges and the fix converges, all in parity.
    res.expected = res.parity_ok and d is not None and fixed_ok
    return res


# ---------------------------------------------------------------------------
# xor (seed 004): 2-30-2, sigmoid after both layers, no bias, one sample at a time
# ---------------------------------------------------------------------------
# The seed computes dy = t − y and then w += lr·dw: that is gradient descent on ½·Σ(t − y)²
# (whose gradient in y is y − t), so the loss here is half_sse and the update the usual w −= lr·g.
# Initial weights as the seed draws them: normal(0, 1/√n_in), here from a seeded generator.

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.99, 0.01], [0.01, 0.99], [0.01, 0.99], [0.99, 0.01]])
XOR_SHORT = dict(lr=1.0, epochs=500)       # all four right in every style, a few seconds
XOR_FULL = dict(lr=0.1, epochs=100_000)    # the seed's own lr and count: 400 000 steps, the seed's outputs


def xor_spec(*, epochs=500, lr=1.0, dtype="float64", seed=0):
    return Spec(name="xor", sizes=(2, 30, 2), activation="sigmoid", output_activation="sigmoid", bias=False,
                loss="half_sse", optimizer="sgd", lr=lr, dtype=dtype, seed=seed, steps=4 * epochs,
                n_samples=4, batch_size=1)


def xor_problem(spec):
    rng = np.random.default_rng(spec.seed)
    weights = [rng.normal(0.0, n_in ** -0.5, size=(n_out, n_in))
               for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:])]
    return make_problem(spec, x=XOR_X, y=XOR_T, weights=weights)


def xor(*, full=False, epochs=None, lr=None, dtype="float64", seed=0, progress=False):
    setting = dict(XOR_FULL if full else XOR_SHORT)
    setting["epochs"] = epochs or setting["epochs"]
    setting["lr"] = lr or setting["lr"]
    spec = xor_spec(dtype=dtype, seed=seed, **setting)
    report = lockstep(spec, xor_problem(spec), progress=progress)
    res = Result("xor", [report], parity_ok=report.first is None)
    res.lines.append(f"== xor (seed 004): 2-30-2, sigmoid hidden and output, no bias, targets 0.99/0.01, one "
                     f"sample at a time, loss ½·Σ(t − y)², SGD lr {spec.lr:g}, {setting['epochs']} epochs "
                     f"({spec.steps} steps), {dtype}, seed {seed}"
                     + ("" if full else "; the seed's own lr 0.1 and 100 000 epochs: --full"))
    res.lines.append("  " + parity_sentence(report))
    if report.diverged is not None:
        res.lines.append("  DIVERGED: " + report.diverged.sentence(spec))
        res.outcome_ok = res.expected = False
        return res
    want = XOR_T.argmax(axis=1)
    rows = []
    for s in STYLES:
        y = predict(report.built[s], XOR_X)
        right = int((y.argmax(axis=1) == want).sum())
        res.values[s] = {"y": y, "right": right}
        rows.append((s, [f"{y[i, 0]:.3f}/{y[i, 1]:.3f}" for i in range(4)] + [f"{right}/4"]))
        res.outcome_ok &= right == 4
    res.lines += _table(["[0, 0]", "[0, 1]", "[1, 0]", "[1, 1]", "right"], rows)
    res.lines.append(f"  {'OK' if res.outcome_ok else 'MISSED (wanted)'}: every style gets all four cases right "
                     "(seed 004 after 100 000 epochs: 0.984/0.016, 0.016/0.984, 0.016/0.984, 0.984/0.016)")
    res.expected = res.status == 0
    return res


# ---------------------------------------------------------------------------
# fizzbuzz (seed 002): 10-bit binary in, 10-100-4 ReLU, cross-entropy, SGD lr 0.05, batch 128
# ---------------------------------------------------------------------------
# Train on 101..1023 (923 numbers: 7 batches of 128 and a last one of 27, in order, as the seed
# slices trX[start:end]), test on 1..100, which the net never saw. The classes are
# 0: the number itself, 1: fizz, 2: buzz, 3: fizzbuzz. Initial weights and biases as nn.Linear
# draws its own, uniform in ±1/√n_in, here from a seeded generator.

FIZZ_DIGITS, FIZZ_HIDDEN = 10, 100
FIZZ_SHORT_EPOCHS = 1000          # about a minute; 88/100 right with seed 0
FIZZ_FULL_EPOCHS = 10_000         # the seed's count: 80 000 steps, 100/100 right with seed 0
FIZZ_WORDS = ("{}", "fizz", "buzz", "fizzbuzz")
FIZZ_BASELINE = 53                # numbers in 1..100 that are neither fizz nor buzz


def fizz_buzz_encode(i):
    return 3 if i % 15 == 0 else 2 if i % 5 == 0 else 1 if i % 3 == 0 else 0


def fizz_buzz_decode(i, prediction):
    return FIZZ_WORDS[prediction].format(i)


def binary_encode(i, digits=FIZZ_DIGITS):
    """The seed's encoding: the binary digits of i, most significant first, zero-padded."""
    return np.array([(i >> d) & 1 for d in reversed(range(digits))], dtype=np.float64)


FIZZ_TRAIN = np.arange(101, 2 ** FIZZ_DIGITS)
FIZZ_TEST = np.arange(1, 101)


def fizzbuzz_spec(*, epochs=FIZZ_SHORT_EPOCHS, lr=0.05, dtype="float64", seed=0):
    n = len(FIZZ_TRAIN)
    steps_per_epoch = -(-n // 128)
    return Spec(name="fizzbuzz", sizes=(FIZZ_DIGITS, FIZZ_HIDDEN, 4), activation="relu",
                output_activation="identity", bias=True, loss="cross_entropy", optimizer="sgd", lr=lr,
                dtype=dtype, seed=seed, steps=steps_per_epoch * epochs, n_samples=n, batch_size=128,
                shuffle=False)


def linear_init(spec):
    """nn.Linear's default initial weights and biases, uniform in ±1/√n_in, from spec.seed."""
    rng = np.random.default_rng(spec.seed)
    weights, biases = [], []
    for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        k = n_in ** -0.5
        weights.append(rng.uniform(-k, k, size=(n_out, n_in)))
        biases.append(rng.uniform(-k, k, size=n_out))
    return weights, (biases if spec.bias else None)


def fizzbuzz_problem(spec):
    x = np.stack([binary_encode(i) for i in FIZZ_TRAIN])
    y = np.array([fizz_buzz_encode(i) for i in FIZZ_TRAIN])
    weights, biases = linear_init(spec)
    return make_problem(spec, x=x, y=y, weights=weights, biases=biases)


def fizzbuzz(*, full=False, epochs=None, lr=0.05, dtype="float64", seed=0, progress=True):
    epochs = epochs or (FIZZ_FULL_EPOCHS if full else FIZZ_SHORT_EPOCHS)
    spec = fizzbuzz_spec(epochs=epochs, lr=lr, dtype=dtype, seed=seed)
    report = lockstep(spec, fizzbuzz_problem(spec), progress=progress)
    res = Result("fizzbuzz", [report], parity_ok=report.first is None)
    res.lines.append(f"== fizzbuzz (seed 002): 10-bit binary, 10-100-4 ReLU, cross-entropy, SGD lr {lr:g}, batches "
                     f"of 128 in order, train on 101..1023, test on 1..100, {epochs} epochs ({spec.steps} steps), "
                     f"{dtype}, seed {seed}" + ("" if full else f"; the seed's {FIZZ_FULL_EPOCHS} epochs: --full"))
    res.lines.append("  " + parity_sentence(report))
    if report.diverged is not None:
        res.lines.append("  DIVERGED: " + report.diverged.sentence(spec))
        res.outcome_ok = res.expected = False
        return res
    x_test = np.stack([binary_encode(i) for i in FIZZ_TEST])
    truth = np.array([fizz_buzz_encode(i) for i in FIZZ_TEST])
    for s in STYLES:
        classes = predict(report.built[s], x_test).argmax(axis=1)
        words = [fizz_buzz_decode(int(i), int(c)) for i, c in zip(FIZZ_TEST, classes)]
        res.values[s] = {"accuracy": int((classes == truth).sum()), "classes": classes, "words": words}
        right = classes == truth
        res.lines.append(f"  {LABELS[s]}: {res.values[s]['accuracy']}/100 right")
        res.lines += textwrap.wrap(" ".join(w if ok else f"[{w}]" for w, ok in zip(words, right)), width=100,
                                   initial_indent="    ", subsequent_indent="    ")
    accuracies = {res.values[s]["accuracy"] for s in STYLES}
    same = all(np.array_equal(res.values[s]["classes"], res.values[STYLES[0]]["classes"]) for s in STYLES)
    # Saying the number every time gets 53 of 1..100 right: learning means doing better than that.
    res.outcome_ok = same and min(accuracies) > FIZZ_BASELINE
    first_epoch = float(np.mean(report.losses["numpy"][:spec.steps // epochs]))
    last_epoch = float(np.mean(report.losses["numpy"][-(spec.steps // epochs):]))
    res.values["loss"] = (first_epoch, last_epoch)
    verdict = "DIFFERENT" if not same else "OK" if res.outcome_ok else "NOT LEARNED"
    res.lines.append(f"  {verdict}: {'every style predicts the same' if same else 'the styles predict different'} "
                     f"class for the 100 numbers (accuracy {'/'.join(map(str, sorted(accuracies)))}/100 against "
                     f"{FIZZ_BASELINE} for always saying the number; [x] marks a wrong answer); mean batch loss "
                     f"{first_epoch:.4f} in epoch 1, {last_epoch:.4f} in epoch {epochs}")
    res.expected = res.status == 0
    return res


# ---------------------------------------------------------------------------
# prelu (seed 003): Linear(1, 1) → PReLU → Linear(1, 1), MSE, Adam lr 0.01, shuffled batches of 1
# ---------------------------------------------------------------------------
# The data of the one-weight fit (x = 1..5, y = 2x), in a DataLoader with shuffle=True and a
# seeded generator: the nn style iterates it as the seed does, the other styles get the very
# same samples in the same order. Initial weights as nn.Linear draws them (uniform in ±1).
# The seed's loss per epoch (the mean over its 5 samples) fell from 34.6 to 0.31 by epoch 15.

PRELU_TOL = 0.25                  # |ŷ(4) − 8| after 100 epochs
PRELU_DROP = 0.01                 # the last epoch's mean loss below 1% of the first's


def prelu_spec(*, epochs=100, lr=0.01, dtype="float64", seed=0):
    return Spec(name="prelu", sizes=(1, 1, 1), activation="prelu", output_activation="identity", bias=True,
                loss="mse", optimizer="adam", lr=lr, dtype=dtype, seed=seed, steps=5 * epochs, n_samples=5,
                batch_size=1, shuffle=True)


def prelu_problem(spec):
    weights, biases = linear_init(spec)
    return make_problem(spec, x=LINE_X, y=LINE_Y, weights=weights, biases=biases)


def prelu(*, epochs=100, lr=0.01, dtype="float64", seed=0, progress=False):
    spec = prelu_spec(epochs=epochs, lr=lr, dtype=dtype, seed=seed)
    report = lockstep(spec, prelu_problem(spec), progress=progress)
    res = Result("prelu", [report], parity_ok=report.first is None)
    res.lines.append(f"== prelu (seed 003): Linear(1, 1) → PReLU → Linear(1, 1) on x = 1..5, y = 2x, MSE, Adam lr "
                     f"{lr:g}, a shuffled DataLoader of batch 1 (seeded), {epochs} epochs ({spec.steps} steps), "
                     f"{dtype}, seed {seed}")
    res.lines.append("  " + parity_sentence(report))
    if report.diverged is not None:
        res.lines.append("  DIVERGED: " + report.diverged.sentence(spec))
        res.outcome_ok = res.expected = False
        return res
    rows = []
    for s in STYLES:
        st = report.built[s]
        losses = np.asarray(report.losses[s]).reshape(epochs, 5).mean(axis=1)   # the seed's running mean
        y4 = float(predict(st, [[4.0]])[0, 0])
        slope = float(st.read("update")["p1"][0])
        res.values[s] = {"y4": y4, "slope": slope, "first": float(losses[0]), "last": float(losses[-1])}
        rows.append((s, [f"{losses[0]:.4f}", f"{losses[-1]:.4f}", f"{slope:.6f}", f"{y4:.6f}"]))
        res.outcome_ok &= abs(y4 - 8.0) <= PRELU_TOL and losses[-1] <= PRELU_DROP * losses[0]
    res.lines += _table(["loss epoch 1", f"epoch {epochs}", "PReLU slope", "ŷ(x = 4)"], rows)
    res.lines.append(f"  {'OK' if res.outcome_ok else 'MISSED (wanted)'}: the epoch loss falls below {PRELU_DROP:.0%} of "
                     f"epoch 1's and ŷ(4) = 8 within {PRELU_TOL:g} in every style (seed 003: 34.6 → 0.31 by "
                     "epoch 15)")
    res.expected = res.status == 0
    return res


# ---------------------------------------------------------------------------
# Save the trained net, load it into every style
# ---------------------------------------------------------------------------


def save_and_reload(report, path):
    """Save nn + optim's trained parameters to `path`, load them into a fresh copy of every style.

    Returns (line, worst): a sentence, and the largest scaled difference between a reloaded
    style's predictions on the training inputs and the trained net's.
    """
    from . import checkpoint
    from .styles import build
    src = report.built["torch_nn"]
    checkpoint.save(src, path)
    x = src.problem.x
    want = predict(src, x)
    worst = 0.0
    for s in STYLES:
        fresh = build(s, src.problem)               # the initial weights, then the file's
        checkpoint.load(fresh, path)
        # the policy's scaled error: the scale is the predictions' own size, as for every tensor
        err, _, _, _ = compare_arrays(predict(fresh, x), want, float(np.max(np.abs(want))), report.tol)
        worst = max(worst, err)
    verdict = "the same predictions" if worst <= report.tol else "DIFFERENT predictions"
    line = (f"  saved {LABELS['torch_nn']}'s parameters to {path} ({checkpoint.format_of(path)}); loaded into a "
            f"fresh copy of every style: {verdict} on all {len(x)} training inputs (largest scaled difference "
            f"{worst:.2g}, tolerance {report.tol:g})")
    return line, worst


# ---------------------------------------------------------------------------
# The command: python -m parity example NAME
# ---------------------------------------------------------------------------

EXAMPLES = {"line": line, "quadratic": quadratic, "xor": xor, "fizzbuzz": fizzbuzz, "prelu": prelu}


def cmd_example(args):
    if args.epochs is not None and args.epochs < 1:
        raise SpecError(f"--epochs {args.epochs}: give a whole number of epochs, 1 or more")
    if args.save and args.name == "all":
        raise SpecError("--save takes one example: name it (e.g. example fizzbuzz --save net.safetensors)")
    if args.save:
        from .checkpoint import format_of
        format_of(args.save)                        # a bad suffix stops here, before any training
    names = list(EXAMPLES) if args.name == "all" else [args.name]
    results = []
    for name in names:
        kwargs = {"dtype": args.dtype, "progress": sys.stderr.isatty() or name == "fizzbuzz"}
        if name in ("xor", "fizzbuzz"):
            kwargs.update(full=args.full, epochs=args.epochs, seed=args.seed)
        else:
            if args.epochs:
                kwargs["epochs"] = args.epochs
            if name == "prelu":
                kwargs["seed"] = args.seed
        if args.lr is not None:
            kwargs["lr"] = args.lr
        res = EXAMPLES[name](**kwargs)
        if args.save and res.reports[-1].diverged is None:
            line, worst = save_and_reload(res.reports[-1], args.save)
            res.lines.append(line)
            res.parity_ok &= worst <= res.reports[-1].tol
        print("\n".join(res.lines), flush=True)
        results.append(res)
    if args.name != "all":
        return results[0].status
    print("\n== summary")
    for res in results:
        print(f"  {res.name:<10} {'as the seed' if res.expected else 'NOT as the seed'}"
              f"{' (diverges, as the homework does; the fix converges)' if res.name == 'quadratic' else ''}")
    return 0 if all(r.expected for r in results) else 1


def add_parser(sub):
    """Register `example` on the command line's subparsers."""
    e = sub.add_parser("example", help="train a seed notebook's problem in all four styles, in lockstep")
    e.add_argument("name", choices=["all", "line", "quadratic", "xor", "fizzbuzz", "prelu"],
                   help="which problem (all: every one, as `make examples`)")
    e.add_argument("--full", action="store_true",
                   help="xor and fizzbuzz: the seed's own epoch count (about 12 and 6 minutes); line, quadratic "
                        "and prelu run the seed's 100 epochs already")
    e.add_argument("--epochs", type=int, help="epochs (default: the example's)")
    e.add_argument("--lr", type=float, help="learning rate (default: the example's; quadratic: the seed's 0.01)")
    e.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="default: float64")
    e.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default: 0)")
    e.add_argument("--save", metavar="PATH",
                   help="save the trained parameters (.safetensors, .npz or .pt) and load them into every style")
    e.set_defaults(func=cmd_example)
    return e
