"""A run whose loss explodes or stops being finite stops with one sentence: step, loss, cause, fix."""

import math

import numpy as np
import pytest
import torch

from parity import cli, divergence, lockstep
from parity.problem import make_problem
from parity.spec import Spec, two_layer

from impl_torch_manual.mlp import MLP as TorchMLP


def test_a_large_lr_on_the_two_layer_net_stops_at_step_1_with_the_cause():
    report = lockstep.run(two_layer(lr=1e-3), steps=20)
    d = report.diverged
    assert d is not None and d.step == 1 and report.steps_run == 2 and not report.ok
    # the first loss of the seeded two-layer net is about 3e7; step 1 is far past 1e6 times that
    assert d.first_loss == pytest.approx(report.losses["numpy"][0]) and d.loss > 1e6 * d.first_loss
    text = d.sentence(report.spec)
    assert "step 1" in text and "lr = 0.001" in text and "scale the inputs down" in text
    assert text.count(". ") == 0 and text.endswith(".")          # one sentence


def test_the_stable_lr_of_one_linear_layer_is_two_over_k_lambda():
    # one sample x = [3, 4] (|x|² = 25), sse (k = 2): stable below 2 / (2·25) = 0.04
    spec = Spec(sizes=(2, 1), activation="identity", loss="sse", n_samples=1, bias=False)
    limit, lam = divergence.stable_lr(spec, np.array([[3.0, 4.0]]))
    assert lam == pytest.approx(25.0) and limit == pytest.approx(0.04)
    # with a bias the input gains a 1: |x̃|² = 26
    limit, lam = divergence.stable_lr(spec.replace(bias=True), np.array([[3.0, 4.0]]))
    assert lam == pytest.approx(26.0) and limit == pytest.approx(2 / 52)


@pytest.mark.parametrize("lr, diverges", [(0.05, True), (0.035, False)], ids=["above-limit", "below-limit"])
def test_the_limit_is_where_one_linear_layer_starts_to_diverge(lr, diverges):
    spec = Spec(sizes=(2, 1), activation="identity", loss="sse", n_samples=1, bias=False, lr=lr,
                init="constant", init_value=0.0, steps=150)
    problem = make_problem(spec, x=[[3.0, 4.0]], y=[[1.0]])
    report = lockstep.run(spec, problem=problem)
    assert (report.diverged is not None) == diverges
    if diverges:
        assert "lr = 0.05 is too large for inputs this size" in report.diverged.sentence(spec)


def test_a_loss_that_turns_non_finite_is_named_so():
    spec = Spec(sizes=(2, 1), activation="identity", loss="sse", n_samples=1, lr=1e300,
                init="constant", init_value=0.0, steps=10)
    report = lockstep.run(spec, problem=make_problem(spec, x=[[3.0, 4.0]], y=[[1.0]]))
    d = report.diverged
    assert d is not None and not math.isfinite(d.loss)
    assert "is not finite" in d.sentence(spec) and f"step {d.step}" in d.sentence(spec)


def test_the_cli_exits_1_with_the_sentence_and_prints_no_nan(capsys):
    status = cli.main(["compare", "--preset", "three-layer", "--lr", "3", "--steps", "30"])
    out = capsys.readouterr().out
    assert status == 1
    assert "training diverged at step 3" in out and "likely cause" in out and "fix" in out
    assert "nan" not in out.lower()


@pytest.mark.parametrize("optimizer, lr, label", [("adam", 10.0, "Adam"), ("adamw", 10.0, "AdamW"),
                                                  ("rmsprop", 1.0, "RMSprop")])
def test_an_adaptive_optimizer_is_told_its_step_size_not_sgds_stable_lr(optimizer, lr, label):
    # The stable-lr bound 2 / (k·|x|²) is about plain gradient descent, whose step grows with the
    # gradient; Adam and AdamW move every entry by about lr whatever the gradient's size, RMSprop by lr/√(1 − α) at first.
    spec = Spec(sizes=(2, 3, 2, 1), activation="identity", loss="half_sse", optimizer=optimizer, lr=lr,
                n_samples=1, data="ones", init="constant", init_value=0.5, steps=20)
    report = lockstep.run(spec, styles=("numpy", "torch_nn"))
    d = report.diverged
    assert d is not None and d.optimizer == optimizer
    for text in (d.sentence(spec), d.sentence()):       # with the spec (compare) and without (record)
        assert f"lr = {lr:g} is too large for the scale of the weights" in text
        moves = ("lr/√(1 − α) = 10·lr at its first step (its average of g² starts at 0 and is not corrected for "
                 "that), then less, toward lr" if optimizer == "rmsprop" else "about lr each step")
        assert f"{label} moves every entry by {moves}, whatever the size of its gradient" in text
        # (a tenth of lr is still far above torch.optim's default for these, which is named instead)
        usual = {"adam": 0.001, "adamw": 0.001, "rmsprop": 0.01}[optimizer]
        assert f"fix: lower lr, e.g. to {usual:g}, torch.optim.{label}'s default." in text
        assert "stable only below" not in text and "|x|²" not in text and "linear layer" not in text
        assert "scale the inputs down" not in text
        assert text.replace("e.g. ", "").count(". ") == 0 and text.endswith(".")          # one sentence



def test_the_step_whose_loss_overflows_is_judged_diverged_not_a_disagreement():
    # A deep linear net at lr 0.01 in float32 (found by the property test): the loss is inf at
    # step 2, and that step's deltas lie near float32's largest number (1.9e36), where the
    # styles round 1.4e-6 apart and the float64 shadows, which did not overflow, measure an
    # infinite noise. The verdict is the divergence at step 2, not a disagreement in dz1.
    spec = Spec(sizes=(3, 12, 13, 4, 2), activation="identity", loss="sse", bias=False, lr=0.01,
                dtype="float32", seed=17, steps=6, n_samples=8, init_scale=0.5)
    report = lockstep.run(spec, lr_schedule={3: spec.lr / 2})
    assert report.first is None
    assert report.diverged is not None and report.diverged.step == 2 and not math.isfinite(report.diverged.loss)
    # ... while a mistake at that step's loss is still a disagreement
    from impl_numpy.mlp import MLP

    class Doubled(MLP):
        def loss(self, yhat, y):
            return 2 * super().loss(yhat, y)

    wrong = lockstep.run(spec, styles=("numpy", "torch_nn"), mlp_classes={"numpy": Doubled})
    assert wrong.first is not None and (wrong.first.step, wrong.first.phase) == (0, "loss")


def test_the_overflow_of_the_step_that_blows_up_is_the_divergence_and_the_table_stops_before_it():
    # At lr 1e30 in float32 the weights after step 0 are near float32's largest number, and
    # step 1's forward pass overflows before its loss does: NumPy's matmul rounds inf - inf to
    # NaN where torch's gives inf. That is the blow-up, named by the divergence, not a
    # difference in code; and the table judges the step before it alone, so no cell says FAIL.
    from parity.report import format_run

    report = lockstep.run(two_layer(lr=1e30, dtype="float32"), ("numpy", "torch_manual"), steps=3)
    assert report.diverged is not None and report.diverged.step == 1
    assert not np.isfinite(report.error_array()[1]).all()        # the overflow is there, measured
    assert report.first is None and report.judged_steps() == 1
    text = format_run(report)
    assert "FAIL" not in text and "DISAGREE" not in text
    assert "over step 0, before the divergence" in text


def test_a_finite_disagreement_at_the_step_that_blows_up_is_still_named():
    # the same run with NumPy's first layer doubled in the forward pass of step 1 only:
    # its numbers are finite where they part, so it is a disagreement as well as the divergence
    from impl_numpy.mlp import MLP

    class DoubledAtStep1(MLP):
        calls = 0

        def forward(self, x):                    # (its float64 shadow runs the same code)
            out = super().forward(x)
            self.calls += 1
            if self.calls == 2:
                self.z[0] *= 2
            return out

    report = lockstep.run(two_layer(lr=1e30, dtype="float32"), ("numpy", "torch_manual"), steps=3,
                          mlp_classes={"numpy": DoubledAtStep1})
    assert report.diverged is not None and report.diverged.step == 1
    d = report.first
    assert d is not None and (d.step, d.phase, d.tensor) == (1, "forward", "z1")
    assert math.isfinite(d.value_a) and math.isfinite(d.value_b) and d.value_a == pytest.approx(2 * d.value_b, rel=1e-6)
    assert report.judged_steps() == 2


def test_a_parameter_that_blows_up_in_the_last_update_is_a_divergence(tmp_path):
    # lr 1.7e308: the one step's loss is finite, but its update sends W3 to -inf in every style.
    # No later loss shows it, so the parameters are looked at: DIVERGED at step 0, not AGREE;
    # record writes nothing, and explain says so too.
    from parity.explain import _explain
    from parity.spec import three_layer
    from parity.trace import RunDiverged, write_trace

    spec = three_layer(lr=1.7e308, loss="sse")
    report = lockstep.run(spec, steps=1)
    d = report.diverged
    assert d is not None and not report.ok and (d.step, d.tensor) == (0, "W3") and math.isfinite(d.loss)
    assert "W3 in NumPy by hand is not finite after the update" in d.sentence(spec)
    assert report.judged_steps() == 1       # the step's phases were compared before its update blew up
    with pytest.raises(RunDiverged):
        write_trace(tmp_path / "run.safetensors", spec.replace(steps=1))
    assert not list(tmp_path.iterdir())
    assert _explain(spec, 0)[1].tensor == "W3"
    # a step later, the loss itself shows it: the loss's divergence, as before
    later = lockstep.run(spec, steps=2).diverged
    assert (later.step, later.tensor) == (1, None)


def test_a_loss_that_blows_up_in_one_style_alone_is_that_styles_disagreement_not_a_divergence():
    # NumPy's update steps a million times too far: its loss explodes at step 1 while the other
    # styles train on. That is not the training diverging (no cause to give, no lr to lower) but
    # NumPy parting from the others: DISAGREE where it parts, at step 0's update.
    from impl_numpy.mlp import MLP
    from parity.report import format_run
    from parity.spec import three_layer

    class Overstepped(MLP):
        def update(self):
            self.lr *= 1e6
            super().update()
            self.lr /= 1e6

    spec = three_layer()
    report = lockstep.run(spec, ("numpy", "torch_nn"), steps=5, mlp_classes={"numpy": Overstepped})
    assert report.diverged is None
    d = report.first
    assert d is not None and (d.step, d.phase, d.tensor) == (0, "update", "W1")
    assert report.steps_run == 2                     # ended at the step it blew up
    assert divergence.exploded(report.losses["numpy"][1], report.losses["numpy"][0])
    text = format_run(report)
    assert "DIVERGED" not in text and "likely cause" not in text and "DISAGREE" in text
    # where every style oversteps alike, the same run is the divergence, with its cause
    both = lockstep.run(spec.replace(lr=spec.lr * 1e6), ("numpy", "torch_nn"), steps=5)
    assert both.first is None and both.diverged is not None and both.diverged.step == 1


@pytest.mark.parametrize("steps", [1, 2], ids=["in-the-last-update", "then-its-loss"])
def test_a_parameter_that_turns_nan_in_one_style_alone_is_a_disagreement(steps):
    # NumPy's W1 turns NaN in the update; at 2 steps its next loss is NaN too, the others' finite
    from impl_numpy.mlp import MLP
    from parity.spec import three_layer

    class NanInTheUpdate(MLP):
        def update(self):
            super().update()
            self.W[0][0, 0] = np.nan

    report = lockstep.run(three_layer(), ("numpy", "torch_nn"), steps=steps, mlp_classes={"numpy": NanInTheUpdate})
    assert report.diverged is None
    assert report.first is not None and (report.first.step, report.first.phase, report.first.tensor) == \
        (0, "update", "W1")
    assert math.isnan(report.first.value_a)


def test_a_trace_whose_last_update_holds_a_nan_is_a_disagreement_not_a_divergence(tmp_path, capsys):
    # a recorded run damaged after it was written: the live styles train on; the trace parts from them
    from safetensors import safe_open
    from safetensors.numpy import save_file
    from parity.spec import three_layer
    from parity.trace import write_trace

    path = tmp_path / "run.safetensors"
    write_trace(path, three_layer(steps=2), "torch_nn")
    with safe_open(str(path), framework="numpy") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors["step0001/update/W1"].flat[0] = np.nan
    save_file(tensors, str(path), metadata=meta)
    rc = cli.main(["compare", "--against", str(path), "--styles", "numpy"])
    out = capsys.readouterr().out
    assert rc == 1 and "DIVERGED" not in out and "likely cause" not in out
    assert "DISAGREE: first at step 1, phase update, layer 1, tensor W1, between numpy and recorded" in out


def test_an_l1_loss_is_not_given_a_curvature_bound_it_does_not_have():
    spec = two_layer(loss="l1", lr=100.0)
    d = lockstep.run(spec, ("numpy", "torch_manual"), steps=5).diverged
    text = d.sentence(spec)
    assert "the L1 loss's gradient is sign(ŷ − y)" in text and "stable only below" not in text
    # not a tenth of lr, which diverges again (and again, a tenth at a time), but where the mean squared error
    # stops overshooting on these inputs: a value that trains
    to = float(text.split("fix: lower lr, e.g. to ")[1].split(" ")[0])
    assert to < 1 and "half the stable limit the mean squared error has on these inputs" in text
    assert lockstep.run(two_layer(loss="l1", lr=to), ("numpy", "torch_manual"), steps=50).diverged is None


def test_centered_rmsprop_at_alpha_0_is_named_as_the_cause_not_the_lr():
    spec = Spec(sizes=(3, 4, 3), n_samples=5, steps=8, lr=0.01, seed=1, optimizer="rmsprop", alpha=0.0,
                centered=True)
    d = lockstep.run(spec, ("numpy", "torch_manual")).diverged
    assert d is not None
    text = d.sentence(spec)
    assert "RMSprop centered with alpha = 0" in text and "fix: alpha above 0" in text


class RoundsOtherwise(TorchMLP):
    """The torch lesson, its output one ulp up: how torch's matmul rounded the net below on one machine (an
    L1 loss of 8e-17 where NumPy's was 0). Another machine's kernels round both alike, so it is put in here."""

    def forward(self, x):
        a = super().forward(x)
        a.copy_(torch.nextafter(a, a + 1))            # in place: a is also the lesson's a_L and z_L
        return a


@pytest.mark.parametrize("block", ["live", "blocks"])
def test_a_loss_that_began_at_rounding_level_is_not_a_divergence(block, monkeypatch):
    # y made by the net itself: the L1 loss is 0 exactly in NumPy and an ulp in torch (RoundsOtherwise).
    # sign(0) = 0 leaves NumPy where it is; sign(1e-16) = 1 steps torch to a loss of 1.07, "a
    # million times its first value": not training that diverged, but a split at L1's kink. A blow-up is
    # measured from the loss of predicting 0 (a thousandth of it) where the first loss is below that.
    # (Both ways of running: with copies in blocks, as at two threads, a style that blew up stops its block.)
    monkeypatch.setattr(lockstep, "reads_live", lambda parallel=None: block == "live")
    x = np.array([[1.0, -1.0], [2.0, 1.0]])
    W1, W2 = np.array([[1.0, 1.0], [0.5, 0.5], [0.3, -0.7]]), np.array([[1.0, -2.0, 0.5]])
    spec = Spec(sizes=(2, 3, 1), activation="identity", loss="l1", lr=0.1, steps=3, n_samples=2)
    report = lockstep.run(spec, problem=make_problem(spec, x=x, y=(x @ W1.T) @ W2.T, weights=[W1, W2]),
                          mlp_classes={"torch_manual": RoundsOtherwise})
    assert report.losses["numpy"][:2] == [0.0, 0.0] and 0 < report.losses["torch_manual"][0] < 1e-15
    assert report.losses["torch_manual"][1] > 1
    assert report.diverged is None and report.steps_run == 3
    floor = divergence.loss_floor(spec, report.built["numpy"].problem.y)
    assert floor == pytest.approx(1e-3 * np.mean(np.abs((x @ W1.T) @ W2.T)))     # L1 of ŷ = 0: mean |y|


def test_a_blow_up_measured_from_the_floor_says_so():
    d = divergence.Diverged(step=2, style="numpy", loss=5.0, first_loss=1e-17, floor=2e-6)
    assert "reached 5, over 1e+06 times 2e-06, a thousandth of the loss of predicting 0 (its first value, 1e-17, " \
           "is smaller)" in d.sentence()
    assert "over 1e+06 times its first value 3" in divergence.Diverged(step=2, style="numpy", loss=4e7,
                                                                        first_loss=3.0, floor=2e-6).sentence()
