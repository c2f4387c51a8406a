"""Bad input stops before any work, with a message that names the problem and the fix:
the seed nets' settings, then the activations, losses, optimizers and batches of seeds 002-004."""

import dataclasses

import numpy as np
import pytest

import impl_numpy.mlp
import impl_numpy_autograd.mlp
import impl_torch_autograd.mlp
import impl_torch_func.mlp
import impl_torch_manual.mlp
import impl_torch_nn.mlp
from parity import lockstep
from parity.problem import make_problem
from parity.spec import (ACTIVATIONS, FLOAT32_MAX, LOSSES, OPTIMIZERS, SEED_LIMIT, WEIGHT_DECAY, Spec, SpecError,
                         _memory_bytes, preset, three_layer, two_layer)


LESSONS = [impl_numpy.mlp, impl_torch_manual.mlp, impl_numpy_autograd.mlp, impl_torch_autograd.mlp, impl_torch_nn.mlp,
           impl_torch_func.mlp]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda m: m.__name__.split(".")[0])
def test_every_lesson_knows_exactly_the_spec_names(lesson):
    assert tuple(lesson.ACTIVATIONS) == ACTIVATIONS
    assert tuple(lesson.LOSSES) == LOSSES


@pytest.mark.parametrize("changes, words", [
    (dict(activation="relux"), ["unknown activation 'relux'", "relu", "sigmoid"]),
    (dict(loss="cross"), ["unknown loss 'cross'", "half_sse", "mse"]),
    (dict(optimizer="adamx"), ["unknown optimizer 'adamx'", "sgd"]),
    (dict(dtype="float16"), ["unknown dtype 'float16'", "float32", "float64"]),
    (dict(lr=-0.1), ["lr", "positive"]),
    (dict(lr=float("nan")), ["lr must be a finite number"]),
    (dict(lr="0.1"), ["lr must be a finite number"]),
    (dict(momentum=1.0), ["momentum", "[0, 1)"]),
    (dict(steps=-1), ["steps must be an integer >= 0"]),
    (dict(sizes=(2, 0, 1)), ["sizes[1] = 0", "positive integer"]),
    (dict(sizes=(3,)), ["at least two layer widths"]),
    (dict(batch_size=0), ["batch_size must be an integer >= 1"]),
    (dict(nesterov=True), ["nesterov needs momentum > 0"]),
    (dict(colour="red"), ["unknown spec field(s) colour"]),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_bad_spec_is_refused_with_the_valid_choices(changes, words):
    with pytest.raises(SpecError) as info:
        three_layer(**changes)
    for w in words:
        assert w in str(info.value)


def test_unknown_preset():
    with pytest.raises(SpecError, match="unknown preset 'four-layer': choose one of three-layer, two-layer"):
        preset("four-layer")


@pytest.mark.parametrize("kwargs, words", [
    (dict(x=np.ones((1, 3))), ["x has shape (1, 3), expected (N, 2)"]),
    (dict(x=np.ones(2)), ["x has shape (2,)", "x.reshape(1, -1)"]),
    (dict(y=np.ones((1, 2))), ["y has shape (1, 2), expected (1, 1)"]),
    (dict(y=np.ones((2, 1))), ["x has 1 rows but y has 2"]),
    (dict(x=np.array([[1.0, np.nan]])), ["x holds NaN or inf at index [0, 1]"]),
    (dict(weights=[np.ones((3, 2)), np.ones((3, 2)), np.ones((1, 2))]),
     ["W2 has shape (3, 2), expected (2, 3)", "must chain"]),
    (dict(weights=[np.ones((3, 2))]), ["1 weight matrices for sizes (2, 3, 2, 1): expected 3"]),
    (dict(biases=[np.ones(3), np.ones(2), np.ones(1)]), ["bias off"]),
])
def test_bad_data_or_weights_are_refused_before_any_step(kwargs, words):
    with pytest.raises(SpecError) as info:
        make_problem(three_layer(), **kwargs)
    for w in words:
        assert w in str(info.value)


def test_unknown_style_is_refused_before_any_step():
    with pytest.raises(SpecError, match="unknown style 'jax'"):
        lockstep.run(three_layer(), styles=("numpy", "jax"))


def test_all_among_other_styles_is_refused_with_what_it_means(capsys):
    from parity import cli
    assert cli.main(["compare", "--styles", "all,nn"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "all names every lesson and stands alone" in err


def test_one_style_by_its_name_and_its_short_name_is_said_to_be_one_style(capsys):
    from parity import cli
    assert cli.main(["compare", "--styles", "np,numpy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'np' and 'numpy' are one style, numpy" in err


def test_presets_match_the_seeds():
    s3 = three_layer()
    assert (s3.sizes, s3.activation, s3.loss, s3.bias, s3.lr, s3.steps) == ((2, 3, 2, 1), "identity", "half_sse",
                                                                           False, 0.1, 50)
    s2 = two_layer()
    assert (s2.sizes, s2.activation, s2.loss, s2.lr, s2.steps, s2.n_samples) == ((1000, 100, 10), "relu", "sse",
                                                                              1e-6, 500, 64)
    p = make_problem(s2)
    assert p.weights[0].shape == (100, 1000) and p.weights[1].shape == (10, 100)   # nn.Linear layout
    assert p.x.shape == (64, 1000) and p.y.shape == (64, 10)
    # the same seed gives the same numbers; another seed other numbers
    np.testing.assert_array_equal(make_problem(s2).weights[0], p.weights[0])
    assert not np.array_equal(make_problem(s2.replace(seed=1)).weights[0], p.weights[0])


def test_spec_is_checked_when_built_directly():
    with pytest.raises(SpecError, match="unknown activation"):
        Spec(activation="swish")


# ----------------------------------------------------------------------------
# Activations, losses, optimizers and batches (seeds 002-004)
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda m: m.__name__.split(".")[0])
def test_every_lesson_knows_exactly_the_spec_optimizers(lesson):
    assert tuple(lesson.OPTIMIZERS) == OPTIMIZERS


@pytest.mark.parametrize("changes, words", [
    (dict(optimizer="adagrad"), ["unknown optimizer 'adagrad'", "sgd, rmsprop, adam, adamw"]),
    (dict(activation="gelu"), ["unknown activation 'gelu'", "leaky_relu", "prelu", "softplus"]),
    (dict(loss="hinge"), ["unknown loss 'hinge'", "l1", "cross_entropy", "bce_with_logits"]),
    (dict(lr=-0.01, optimizer="adam"), ["lr = -0.01 is out of range", "(0, inf)"]),
    (dict(lr=0.0), ["lr = 0.0 is out of range"]),
    (dict(momentum=1.0, optimizer="rmsprop"), ["momentum = 1.0 is out of range", "[0, 1)"]),
    (dict(momentum=-0.1), ["momentum = -0.1 is out of range", "[0, 1)"]),
    (dict(betas=(1.0, 0.999), optimizer="adam"), ["betas[0] = 1.0 is out of range", "[0, 1)"]),
    (dict(betas=(0.9, -0.1), optimizer="adamw"), ["betas[1] = -0.1 is out of range", "[0, 1)"]),
    (dict(betas=(0.9,), optimizer="adam"), ["betas must be a pair"]),
    (dict(eps=0.0, optimizer="adam"), ["eps = 0.0 is out of range", "(0, inf)"]),
    (dict(eps=-1e-8, optimizer="rmsprop"), ["eps = -1e-08 is out of range"]),
    (dict(alpha=1.0, optimizer="rmsprop"), ["alpha = 1.0 is out of range", "[0, 1)"]),
    (dict(weight_decay=-0.01, optimizer="adamw"), ["weight_decay = -0.01 is out of range", "[0, inf)"]),
    (dict(dampening=1.5), ["dampening = 1.5 is out of range", "[0, 1]"]),
    (dict(softplus_beta=0.0), ["softplus_beta = 0.0 is out of range", "(0, inf)"]),
    (dict(negative_slope=float("inf")), ["negative_slope must be a finite number"]),
    (dict(centered="yes", optimizer="rmsprop"), ["centered must be True or False"]),
    (dict(momentum=0.9, optimizer="adam"), ["takes no momentum", "betas"]),
    (dict(nesterov=True, momentum=0.9, optimizer="rmsprop"), ["nesterov and dampening are SGD settings"]),
    (dict(centered=True, optimizer="adam"), ["centered is an RMSprop setting"]),
    (dict(shuffle=True), ["shuffle needs mini-batches", "batch_size"]),
    (dict(batch_size=9, n_samples=8), ["batch_size = 9 is larger than the data set"]),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_out_of_range_settings_are_refused_naming_the_range(changes, words):
    with pytest.raises(SpecError) as info:
        Spec(**changes)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_cross_entropy_takes_class_indices():
    spec = Spec(sizes=(2, 3), loss="cross_entropy", n_samples=4)
    p = make_problem(spec)
    assert p.y.shape == (4,) and p.y.dtype == np.int64 and set(p.y) <= {0, 1, 2}
    with pytest.raises(SpecError, match=r"y has shape \(4, 3\), but loss cross_entropy takes one class index "
                                        r"per sample, shape \(4,\)"):
        make_problem(spec, y=np.zeros((4, 3)))
    with pytest.raises(SpecError, match=r"y\[2\] = 3 is not a class index: .* integers in 0\.\.2"):
        make_problem(spec, y=[0, 1, 3, 2])
    with pytest.raises(SpecError, match=r"y\[0\] = 0.5 is not a class index"):
        make_problem(spec, y=[0.5, 1, 1, 2])
    with pytest.raises(SpecError, match="x has 4 rows but y has 3"):
        make_problem(spec, y=[0, 1, 2])


def test_bce_targets_must_be_probabilities():
    spec = Spec(sizes=(2, 1), loss="bce_with_logits", n_samples=3)
    assert set(make_problem(spec).y.ravel()) <= {0.0, 1.0}
    with pytest.raises(SpecError, match=r"bce_with_logits needs targets y in \[0, 1\]"):
        make_problem(spec, y=[[0.0], [2.0], [1.0]])


def test_the_weights_do_not_depend_on_the_loss():
    # the class targets come from the same draw as the regression targets, so changing the
    # loss changes nothing else
    a = make_problem(Spec(sizes=(2, 3), loss="mse", n_samples=4))
    b = make_problem(Spec(sizes=(2, 3), loss="cross_entropy", n_samples=4))
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    np.testing.assert_array_equal(np.argmax(a.y, axis=1), b.y)


# ----------------------------------------------------------------------------
# Ranges every style can take: a setting one style cannot run is refused before any work
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("changes, words", [
    pytest.param(dict(seed=2**64), ["seed = 18446744073709551616 is out of range", "[0, 2**64 - 1]",
                                    "use a smaller seed"], id="seed-2**64"),
    pytest.param(dict(seed=-1), ["seed must be an integer >= 0, got -1"], id="seed-negative"),
    pytest.param(dict(lr=10**400), ["lr must be a finite number, got an integer of 401 digits"],
                 id="lr-an-int-past-every-float"),
    pytest.param(dict(lr=1e39, dtype="float32"), ["lr = 1e+39 does not fit float32", "3.4028234663852886e+38",
                                                  "--dtype float64"], id="lr-past-float32"),
    pytest.param(dict(lr=1e-46, dtype="float32"), ["lr = 1e-46 rounds to 0 in float32", "1.4e-45",
                                                   "a larger lr"], id="lr-0-in-float32"),
    pytest.param(dict(eps=1e-50, optimizer="rmsprop", dtype="float32"), ["eps = 1e-50 rounds to 0 in float32"],
                 id="eps-0-in-float32"),
    pytest.param(dict(eps=1e39, optimizer="adam", dtype="float32"), ["eps = 1e+39 does not fit float32"],
                 id="eps-past-float32"),
    pytest.param(dict(weight_decay=1e39, dtype="float32"), ["weight_decay = 1e+39 does not fit float32"],
                 id="weight_decay-past-float32"),
    pytest.param(dict(activation="leaky_relu", negative_slope=-1e39, dtype="float32"),
                 ["negative_slope = -1e+39 does not fit float32"], id="negative_slope-past-float32"),
    pytest.param(dict(activation="softplus", softplus_beta=1e-50, dtype="float32"),
                 ["softplus_beta = 1e-50 rounds to 0 in float32"], id="softplus_beta-0-in-float32"),
    pytest.param(dict(activation="softplus", softplus_threshold=1e39, dtype="float32"),
                 ["softplus_threshold = 1e+39 does not fit float32"], id="softplus_threshold-past-float32"),
    pytest.param(dict(init="constant", init_value=-1e39, dtype="float32"), ["init_value = -1e+39 does not fit"],
                 id="init_value-past-float32"),
    pytest.param(dict(init_scale=1e39, dtype="float32"), ["init_scale = 1e+39 does not fit float32"],
                 id="init_scale-past-float32"),
    pytest.param(dict(name=""), ["name must be a non-empty string"], id="name-empty"),
])
def test_a_setting_some_style_cannot_take_is_refused_naming_the_range_and_the_fix(changes, words):
    with pytest.raises(SpecError) as info:
        Spec(**changes)
    for w in words:
        assert w in str(info.value), str(info.value)


@pytest.mark.parametrize("changes", [
    pytest.param(dict(seed=2**64 - 1, batch_size=2, n_samples=4, shuffle=True), id="seed-2**64-1"),
    pytest.param(dict(lr=FLOAT32_MAX, dtype="float32"), id="lr-float32-max"),
    pytest.param(dict(eps=2.0**-149, optimizer="adam", dtype="float32"), id="eps-smallest-float32"),
    pytest.param(dict(lr=1e39, weight_decay=1e39, init_value=-1e39), id="past-float32-in-float64"),
    pytest.param(dict(lr=10**300), id="lr-a-large-int"),
])
def test_the_edges_of_each_range_are_accepted(changes):
    Spec(**changes)


def test_the_seed_range_is_torch_generators_and_every_style_takes_its_largest_seed():
    import torch
    torch.Generator().manual_seed(SEED_LIMIT - 1)
    with pytest.raises(ValueError, match="Overflow"):
        torch.Generator().manual_seed(SEED_LIMIT)
    spec = Spec(seed=SEED_LIMIT - 1, batch_size=2, n_samples=4, shuffle=True, steps=3)
    report = lockstep.run(spec)                       # the nn lesson's DataLoader and NumPy's rng take it
    assert report.ok and report.steps_run == 3


@pytest.mark.skipif(_memory_bytes() is None, reason="this system does not tell its memory")
@pytest.mark.parametrize("changes", [
    pytest.param(dict(sizes=(2**31, 2**31)), id="sizes-2**31"),
    pytest.param(dict(n_samples=2**60), id="n_samples-2**60"),
])
def test_data_and_weights_larger_than_the_machine_are_refused(changes):
    with pytest.raises(SpecError, match=r"need .* for the data and weights alone, more than this machine's .*: "
                                        r"use smaller sizes or fewer samples"):
        Spec(**changes)


def test_compare_refuses_a_seed_past_2_64_in_one_line(capsys):
    from parity.cli import main
    assert main(["compare", "--seed", str(2**64)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: three-layer: seed = 18446744073709551616 is out of range")


# ----------------------------------------------------------------------------
# Each optimizer's defaults are torch.optim's (tests/lessons/test_edges.py holds them against torch)
# ----------------------------------------------------------------------------


def test_weight_decay_left_out_is_torch_optims_default_for_the_optimizer():
    assert {name: Spec(optimizer=name).weight_decay for name in OPTIMIZERS} == WEIGHT_DECAY
    assert WEIGHT_DECAY == {"sgd": 0.0, "rmsprop": 0.0, "adam": 0.0, "adamw": 0.01}
    spec = three_layer(optimizer="adamw")
    assert spec.weight_decay == 0.01 and spec.optimizer_kwargs()["weight_decay"] == 0.01
    assert "adamw(weight_decay=0.01) lr 0.1" in spec.describe()          # the resolved value is shown
    assert dataclasses.asdict(spec)["weight_decay"] == 0.01               # and written in the JSON
    assert Spec(**dataclasses.asdict(spec)) == spec                       # which reads back as the same spec
    assert spec.replace(optimizer="adam").weight_decay == 0.0             # left out: now Adam's default
    assert spec.replace(weight_decay=0.1).replace(optimizer="adam").weight_decay == 0.1   # given: kept
    assert Spec(optimizer="adamw", weight_decay=0.0).weight_decay == 0.0  # off, by choice
    assert "adamw(weight_decay=0) lr" in Spec(optimizer="adamw", weight_decay=0.0).describe()  # and said (a bare
    # "adamw" read as AdamW's default, 0.01)
    assert "sgd lr" in three_layer().describe()                          # nothing added where it is 0


def test_the_header_names_every_setting_that_applies_and_is_not_torchs_default():
    spec = Spec(sizes=(3, 4, 3), activation="leaky_relu", negative_slope=-0.3, output_activation="sigmoid",
                optimizer="sgd", momentum=0.9, dampening=0.1, nesterov=False, weight_decay=0.01, alpha=0.5)
    assert ("custom: 3-4-3, leaky_relu(negative_slope=-0.3) (sigmoid output), no bias, loss sse, "
            "sgd(momentum=0.9, dampening=0.1, weight_decay=0.01) lr 1e-06") in spec.describe()   # (alpha: RMSprop's)
    rms = Spec(sizes=(3, 4, 3), activation="softplus", softplus_threshold=1.0, optimizer="rmsprop", alpha=0.5,
               centered=True, eps=1e-6)
    assert "softplus(softplus_threshold=1), no bias" in rms.describe()
    assert "rmsprop(alpha=0.5, eps=1e-06, centered=True) lr" in rms.describe()
    # every setting in the digits that say it exactly: six digits showed 0.999999999999 as 1, which is refused
    assert "sgd(momentum=0.999999999999) lr 2," in Spec(momentum=0.999999999999, lr=2.0).describe()
    assert "adam(betas=(0.999999999, 0.9999999999)) lr 1e-06" in Spec(optimizer="adam",
                                                                      betas=(0.999999999, 0.9999999999)).describe()
    assert "adam(betas=(0.8, 0.99)) lr" in Spec(optimizer="adam", betas=(0.8, 0.99)).describe()


def test_a_float32_setting_that_rounds_up_to_the_smallest_float32_is_taken():
    # 1e-45 is 1.4e-45 in float32 (round to nearest: anything above half the smallest float32 rounds up to it);
    # it was refused as "rounds to 0"
    from parity.spec import FLOAT32_TINY
    assert float(np.float32(1e-45)) == FLOAT32_TINY
    assert three_layer(dtype="float32", optimizer="adam", eps=1e-45).eps == 1e-45
    with pytest.raises(SpecError, match="rounds to 0 in float32"):
        three_layer(dtype="float32", optimizer="adam", eps=FLOAT32_TINY / 2)      # a tie: to even, 0
    assert float(np.float32(FLOAT32_TINY / 2)) == 0.0
