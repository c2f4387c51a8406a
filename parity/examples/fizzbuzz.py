"""fizzbuzz (seed 002): a 10-100-4 ReLU classifier learns fizz buzz from numbers it never saw answered.

Seed 002 (/work/shared/seeds/002_*.txt, "3.3 fizz_buzz demo") encodes each
number as its 10 binary digits, trains Linear(10, 100) → ReLU → Linear(100, 4)
with cross-entropy and SGD lr 0.05 in batches of 128 on 101..1023, and then
answers 1..100, which it never trained on. The classes are 0: the number itself,
1: fizz, 2: buzz, 3: fizzbuzz. Here all six styles train in lockstep (1000
epochs by default, about a minute; --full is the seed's 10 000) and must predict
the same class for every number in 1..100, and more of them right than the 53
that saying the number every time gets.

The batches are the seed's slices trX[start:end], in order: 923 numbers make 7
batches of 128 and a last one of 27. The initial weights and biases are drawn as
nn.Linear draws its own, uniform in ±1/√n_in, from a seeded generator.
"""

from __future__ import annotations

import textwrap

import numpy as np

from ..problem import make_problem
from ..report import counted
from ..spec import Spec
from ..styles import LABELS, STYLES
from .common import begin_result, linear_init, predict, train

OPTIONS = ("full", "seed")                  # the command's options it takes besides --epochs, --lr, --dtype

DIGITS, HIDDEN = 10, 100
SHORT_EPOCHS = 1000               # about a minute; 88/100 right with seed 0
FULL_EPOCHS = 10_000              # the seed's count: 80 000 steps, 100/100 right with seed 0
WORDS = ("{}", "fizz", "buzz", "fizzbuzz")
BASELINE = 53                     # numbers in 1..100 that are neither fizz nor buzz


def fizz_buzz_encode(i):
    return 3 if i % 15 == 0 else 2 if i % 5 == 0 else 1 if i % 3 == 0 else 0


def fizz_buzz_decode(i, prediction):
    return WORDS[prediction].format(i)


def binary_encode(i, digits=DIGITS):
    """The seed's encoding: the binary digits of i, most significant first, zero-padded."""
    return np.array([(i >> d) & 1 for d in reversed(range(digits))], dtype=np.float64)


TRAIN = np.arange(101, 2 ** DIGITS)
TEST = np.arange(1, 101)


def spec(*, epochs=SHORT_EPOCHS, lr=0.05, dtype="float64", seed=0):
    n = len(TRAIN)
    steps_per_epoch = -(-n // 128)
    return Spec(name="fizzbuzz", sizes=(DIGITS, HIDDEN, 4), activation="relu",
                output_activation="identity", bias=True, loss="cross_entropy", optimizer="sgd", lr=lr,
                dtype=dtype, seed=seed, steps=steps_per_epoch * epochs, n_samples=n, batch_size=128,
                shuffle=False)


def problem(spec):
    x = np.stack([binary_encode(i) for i in TRAIN])
    y = np.array([fizz_buzz_encode(i) for i in TRAIN])
    weights, biases = linear_init(spec)
    return make_problem(spec, x=x, y=y, weights=weights, biases=biases)


def run(*, full=False, epochs=None, lr=0.05, dtype="float64", seed=0, progress=False):
    epochs = epochs or (FULL_EPOCHS if full else SHORT_EPOCHS)
    report = train(problem(spec(epochs=epochs, lr=lr, dtype=dtype, seed=seed)), progress=progress)
    steps = report.spec.steps
    res = begin_result("fizzbuzz", report,
                       f"== fizzbuzz (seed 002): 10-bit binary, 10-100-4 ReLU, cross-entropy, SGD lr {lr:g}, "
                       f"batches of 128 in order, train on 101..1023, test on 1..100, {counted(epochs, 'epoch')} ({steps} "
                       f"steps), {dtype}, seed {seed}" + ("" if full else f"; the seed's {FULL_EPOCHS} epochs: --full"))
    if report.diverged is not None:
        return res
    x_test = np.stack([binary_encode(i) for i in TEST])
    truth = np.array([fizz_buzz_encode(i) for i in TEST])
    for s in STYLES:
        classes = predict(report.built[s], x_test).argmax(axis=1)
        words = [fizz_buzz_decode(int(i), int(c)) for i, c in zip(TEST, classes)]
        res.values[s] = {"accuracy": int((classes == truth).sum()), "classes": classes, "words": words}
        right = classes == truth
        res.lines.append(f"  {LABELS[s]}: {res.values[s]['accuracy']}/100 right")
        res.lines += textwrap.wrap(" ".join(w if ok else f"[{w}]" for w, ok in zip(words, right)), width=100,
                                   initial_indent="    ", subsequent_indent="    ")
    accuracies = {res.values[s]["accuracy"] for s in STYLES}
    same = all(np.array_equal(res.values[s]["classes"], res.values[STYLES[0]]["classes"]) for s in STYLES)
    # Saying the number every time gets 53 of 1..100 right: learning means doing better than that.
    res.outcome_ok = same and min(accuracies) > BASELINE
    first_epoch = float(np.mean(report.losses["numpy"][:steps // epochs]))
    last_epoch = float(np.mean(report.losses["numpy"][-(steps // epochs):]))
    res.values["loss"] = (first_epoch, last_epoch)
    verdict = "DIFFERENT" if not same else "OK" if res.outcome_ok else "NOT LEARNED"
    res.lines.append(f"  {verdict}: {'every style predicts the same' if same else 'the styles predict different'} "
                     f"class for the 100 numbers (accuracy {'/'.join(map(str, sorted(accuracies)))}/100 against "
                     f"{BASELINE} for always saying the number; [x] marks a wrong answer); mean batch loss "
                     f"{first_epoch:.4f} in epoch 1, {last_epoch:.4f} in epoch {epochs}")
    res.expected = res.status == 0
    return res
