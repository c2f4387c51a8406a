"""Bad input stops before any work, with a message that names the problem and the fix:
the seed nets' settings, then the activations, losses, optimizers and batches of seeds 002-004."""

import numpy as np
import pytest

import impl_numpy.mlp
import impl_torch_autograd.mlp
import impl_torch_manual.mlp
import impl_torch_nn.mlp
from parity import lockstep
from parity.problem import make_problem
from parity.spec import ACTIVATIONS, LOSSES, OPTIMIZERS, Spec, SpecError, preset, three_layer, two_layer


LESSONS = [impl_numpy.mlp, impl_torch_manual.mlp, impl_torch_autograd.mlp, impl_torch_nn.mlp]


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
