"""The seed examples: parity of every pair, the seed's printed numbers, and each outcome.

Expected numbers come from the seed notebooks' printouts (seed 003 printed in
float32), not from this code.
"""

import functools

import numpy as np
import pytest

import impl_numpy.mlp as np_lesson
from parity import cli, examples, harness
from parity.styles import STYLES

# Seed 003, first epoch of the one-weight fit: w.grad after each sample, then the loss
# printed at the end of epochs 1, 2 and 3 (the loss of the last sample, x = 5).
LINE_GRADS = [-4.0, -15.680000305175781, -32.457603454589844, -47.31596755981445, -50.273216247558594]
LINE_EPOCH_LOSSES = {4: 25.273963928222656, 9: 1.5969340801239014, 14: 0.1009020283818245}
# Seed 003's homework: w1.grad after each sample of epoch 1, and of epoch 3.
QUAD_W1_GRADS = [-4.0, -29.760000228881836, -41.05440139770508, 173.85321044921875, -1762.6634521484375]
QUAD_W1_GRADS_EPOCH3 = [-979.8092041015625, -13397.98828125, -39779.1015625, 95917.1328125, -1037661.9375]
QUAD_EPOCH_LOSSES = {4: 1242.79296875, 9: 718501.125}
# float32 arithmetic (the seed's) against float64 (ours): agreement to a few float32 ulps
# per step, growing with the blow-up; 1e-5 relative leaves room and still pins every digit printed.
SEED_RTOL = {"float64": 1e-5, "float32": 1e-5}


@functools.lru_cache(maxsize=None)
def line_result(dtype):
    return examples.line(dtype=dtype)


@functools.lru_cache(maxsize=None)
def quadratic_result():
    return examples.quadratic()


@functools.lru_cache(maxsize=None)
def xor_result(epochs):
    return examples.xor(epochs=epochs)


# ---------------------------------------------------------------------------- line


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("style", STYLES)
def test_line_first_epoch_gradients_are_seed_003s(style, dtype):
    spec = examples.line_spec(dtype=dtype)
    tr = lockstep.trace(spec, style, problem=examples.line_problem(spec), steps=5)
    grads = [float(rec["backward"]["dW1"][0, 0]) for rec in tr]
    np.testing.assert_allclose(grads, LINE_GRADS, rtol=SEED_RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float64"])      # float32: the seed's gradients above, and test_seed003.py
def test_line_agrees_in_every_pair_and_w_reaches_2(dtype):
    res = line_result(dtype)
    report = res.reports[0]
    assert report.ok and report.steps_run == 500, examples.parity_sentence(report)
    for step, printed in LINE_EPOCH_LOSSES.items():
        for s in STYLES:
            assert report.losses[s][step] == pytest.approx(printed, rel=SEED_RTOL[dtype])
    for s in STYLES:
        assert abs(res.values[s]["w"] - 2.0) <= examples.LINE_TOL
        assert abs(res.values[s]["y4"] - 8.0) <= 4 * examples.LINE_TOL
    assert res.status == 0 and res.expected


def test_line_parity_fails_on_a_sign_flipped_update():
    class SignFlip(np_lesson.MLP):
        def update(self):
            for l in range(len(self.W)):
                self.W[l] += self.lr * self.dW[l]        # bug: + instead of −
    spec = examples.line_spec(epochs=2)
    report = lockstep.run(spec, problem=examples.line_problem(spec), mlp_classes={"numpy": SignFlip})
    d = report.first
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1") and "numpy" in d.pair


def test_line_misses_w_2_when_trained_too_briefly():
    res = examples.line(epochs=2)                        # w ≈ 2 − 2·0.25² ≈ 1.87
    assert res.parity_ok and not res.outcome_ok and res.status == 1


# ---------------------------------------------------------------------------- quadratic


@pytest.mark.parametrize("style", STYLES)
def test_quadratic_gradients_are_seed_003s(style):
    spec = examples.quadratic_spec(dtype="float32")
    tr = lockstep.trace(spec, style, problem=examples.quadratic_problem(spec), steps=15)
    w1 = [float(rec["backward"]["dW1"][0, 0]) for rec in tr]
    np.testing.assert_allclose(w1[:5], QUAD_W1_GRADS, rtol=1e-5)
    np.testing.assert_allclose(w1[10:15], QUAD_W1_GRADS_EPOCH3, rtol=1e-4)   # after 10 steps of blow-up
    for step, printed in QUAD_EPOCH_LOSSES.items():
        assert float(tr[step]["loss"]["loss"]) == pytest.approx(printed, rel=1e-5)


def test_quadratic_divergence_is_detected_at_the_step_the_seeds_numbers_give():
    # From the seed's own printout: w1.grad = 2·x²·(ŷ − y), so the loss of each sample is
    # (w1.grad / (2·x²))²; the first to pass 1e6 times the first loss (4) is the step.
    x = np.tile(np.arange(1.0, 6.0), 3)
    grads = np.array(QUAD_W1_GRADS + [np.nan] * 5 + QUAD_W1_GRADS_EPOCH3)
    losses = (grads / (2 * x ** 2)) ** 2
    first_loss = losses[0]
    seed_step = int(np.argmax(np.nan_to_num(losses) > divergence.DIVERGENCE_FACTOR * first_loss))
    assert seed_step == 12 and first_loss == 4.0

    res = quadratic_result()
    d = res.reports[0].diverged
    assert d is not None and d.step == seed_step and res.reports[0].first is None and res.parity_ok
    assert d.lr_limit == pytest.approx(1 / 651)              # |x̃|² = 25² + 5² + 1 at x = 5
    text = d.sentence(res.reports[0].spec)
    assert "step 12" in text and "lr = 0.01" in text and "651" in text and "scale the inputs down" in text
    assert res.status == 1                                    # the seed's setting diverges: exit non-zero


def test_quadratic_fix_converges_in_every_style_and_pair():
    res = quadratic_result()
    fixed = res.reports[1]
    assert fixed.ok and fixed.diverged is None, examples.parity_sentence(fixed)
    for s in STYLES:
        assert abs(res.values[s]["y4"] - 8.0) <= examples.QUAD_TOL
    assert res.values["fixed_ok"] and res.expected


def test_quadratic_a_smaller_lr_alone_is_stable_but_slow_as_printed():
    spec = examples.quadratic_spec(epochs=1000, lr=1 / 651 / 2)
    report = lockstep.run(spec, ("numpy",), problem=examples.quadratic_problem(spec))
    y4 = examples.predict(report.built["numpy"], examples.quadratic_features([4.0]))[0, 0]
    assert report.diverged is None and round(y4, 2) == 7.84


def test_quadratic_cli_exits_1_with_the_divergence_sentence(capsys, monkeypatch):
    monkeypatch.setitem(examples.EXAMPLES, "quadratic", lambda **kw: quadratic_result())
    assert cli.main(["example", "quadratic"]) == 1
    out = capsys.readouterr().out
    assert "DIVERGED: training diverged at step 12" in out and "CONVERGED" in out and "nan" not in out


# ---------------------------------------------------------------------------- xor


def test_xor_agrees_in_every_pair_and_gets_all_four_cases():
    res = xor_result(250)                                  # 1000 steps; the default is 500 epochs
    assert res.reports[0].ok, examples.parity_sentence(res.reports[0])
    for s in STYLES:
        assert res.values[s]["right"] == 4
        np.testing.assert_array_equal(res.values[s]["y"].argmax(axis=1), [0, 1, 1, 0])
    assert res.status == 0


def test_xor_is_not_learned_in_a_few_epochs():
    res = xor_result(20)
    assert res.parity_ok and not res.outcome_ok
    assert all(res.values[s]["right"] < 4 for s in STYLES)


def test_xor_initial_weights_follow_the_seed_scale():
    spec = examples.xor_spec()
    W1, W2 = examples.xor_problem(spec).weights
    assert W1.shape == (30, 2) and W2.shape == (2, 30)
    assert 0.4 < W1.std() < 1.0 and 0.1 < W2.std() < 0.3       # 1/√2 ≈ 0.71 and 1/√30 ≈ 0.18


# ---------------------------------------------------------------------------- fizzbuzz


def test_fizzbuzz_encoding_is_the_seeds():
    for i in range(1, 2 ** 10):
        seed_bits = [int(c) for c in bin(i)[2:].zfill(10)]           # seed 002's binary_encode
        np.testing.assert_array_equal(examples.binary_encode(i), seed_bits)
    assert [examples.fizz_buzz_decode(i, examples.fizz_buzz_encode(i)) for i in (1, 3, 5, 15, 98)] == \
        ["1", "fizz", "buzz", "fizzbuzz", "98"]
    assert examples.FIZZ_BASELINE == sum(1 for i in range(1, 101) if i % 3 and i % 5)


def test_fizzbuzz_batches_are_the_seeds_slices_with_a_last_partial_one():
    spec = examples.fizzbuzz_spec(epochs=2)
    sizes = [len(rows) for rows in lockstep.batches(spec, 923, spec.steps)]
    assert sizes == [128] * 7 + [27] + [128] * 7 + [27]
    first = next(iter(lockstep.batches(spec, 923, 1)))
    np.testing.assert_array_equal(first, np.arange(128))              # in order, as trX[start:end]


@functools.lru_cache(maxsize=None)
def fizzbuzz_result(epochs):
    return examples.fizzbuzz(epochs=epochs, progress=False)


def test_fizzbuzz_agrees_in_every_pair_and_every_style_predicts_the_same():
    res = fizzbuzz_result(12)                                         # 96 steps, 12 partial batches
    assert res.parity_ok, examples.parity_sentence(res.reports[0])
    classes = [res.values[s]["classes"] for s in STYLES]
    for c in classes[1:]:
        np.testing.assert_array_equal(c, classes[0])
    assert len({res.values[s]["accuracy"] for s in STYLES}) == 1
    assert all(len(res.values[s]["words"]) == 100 for s in STYLES)
    first, last = res.values["loss"]
    assert last < first                                               # it is learning


def test_fizzbuzz_after_a_few_epochs_has_not_learned_and_says_so():
    res = fizzbuzz_result(12)
    # this early every style still says the number every time: the 53 of 1..100 that are numbers
    assert all(res.values[s]["accuracy"] == examples.FIZZ_BASELINE for s in STYLES)
    assert not res.outcome_ok and res.status == 1 and "NOT LEARNED" in res.lines[-1]


def test_fizzbuzz_parity_fails_on_a_cross_entropy_gradient_without_the_mean():
    class SumNotMean(np_lesson.MLP):
        def backward(self):
            grad = self.loss_grad
            self.loss_grad = lambda yhat, y: grad(yhat, y) * len(y)    # bug: forgot to divide by N
            try:
                super().backward()
            finally:
                self.loss_grad = grad
    spec = examples.fizzbuzz_spec(epochs=1)
    report = lockstep.run(spec, problem=examples.fizzbuzz_problem(spec), steps=2, mlp_classes={"numpy": SumNotMean})
    d = report.first
    assert (d.step, d.phase, d.tensor) == (0, "backward", "dz2") and "numpy" in d.pair


# ---------------------------------------------------------------------------- prelu


@functools.lru_cache(maxsize=None)
def prelu_result():
    return examples.prelu()


def test_prelu_agrees_in_every_pair_with_shuffled_batches_and_fits():
    res = prelu_result()
    report = res.reports[0]
    assert report.ok and report.steps_run == 500, examples.parity_sentence(report)
    assert ("forward", "x") in report.tensors and ("update", "p1") in report.tensors   # same batches, slope
    for s in STYLES:
        v = res.values[s]
        assert abs(v["y4"] - 8.0) <= examples.PRELU_TOL and v["last"] <= examples.PRELU_DROP * v["first"]
        assert v["slope"] != 0.25                                     # the slope was learned
    assert res.status == 0


def test_prelu_batches_are_shuffled_differently_each_epoch():
    spec = examples.prelu_spec(epochs=3)
    rows = [int(r[0]) for r in lockstep.batches(spec, 5, spec.steps)]
    epochs = [rows[0:5], rows[5:10], rows[10:15]]
    assert all(sorted(e) == [0, 1, 2, 3, 4] for e in epochs)
    assert epochs[0] != [0, 1, 2, 3, 4] and len({tuple(e) for e in epochs}) > 1


def test_every_example_is_on_the_command_line():
    parser = cli.build_parser()
    for name in ["all", *examples.EXAMPLES]:
        assert parser.parse_args(["example", name]).func is examples.cmd_example
    assert set(examples.EXAMPLES) == {"line", "quadratic", "xor", "fizzbuzz", "prelu"}


def test_example_save_writes_a_checkpoint_every_style_reloads(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(examples.EXAMPLES, "line", lambda **kw: examples.line(epochs=3))
    path = tmp_path / "line.safetensors"
    assert cli.main(["example", "line", "--save", str(path)]) == 1     # 3 epochs: w not yet 2, but saved
    out = capsys.readouterr().out
    assert path.exists() and "the same predictions on all 5 training inputs" in out
    assert cli.main(["example", "line", "--save", str(tmp_path / "net.pkl")]) == 2   # refused before training
    assert "unknown checkpoint format '.pkl'" in capsys.readouterr().err
