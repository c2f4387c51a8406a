"""Random specs: all four styles agree, whatever the net, activation, loss, optimizer and batches.

float64 only: in float32 a gradient that is exactly 0 in exact arithmetic (an L1
loss whose ±1 signs balance over an even batch) comes out as 0 in one style
and as rounding noise in another, and Adam or RMSprop divide it by its own
size; see parity.tolerance. The grid (tests/harness/test_components.py) covers float32
with batches where that cannot happen.
"""

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from parity import lockstep
from parity.spec import ACTIVATIONS, LOSSES, OPTIMIZERS, Spec

OPTIMIZER_SETTINGS = {
    "sgd": st.fixed_dictionaries({"momentum": st.sampled_from([0.0, 0.9]), "weight_decay": st.sampled_from([0.0, 0.01])}),
    "rmsprop": st.fixed_dictionaries({"momentum": st.sampled_from([0.0, 0.5]), "centered": st.booleans()}),
    "adam": st.fixed_dictionaries({"weight_decay": st.sampled_from([0.0, 0.01])}),
    "adamw": st.fixed_dictionaries({"weight_decay": st.sampled_from([0.0, 0.1])}),
}


@st.composite
def specs(draw):
    depth = draw(st.integers(1, 4))
    sizes = tuple(draw(st.lists(st.integers(1, 16), min_size=depth + 1, max_size=depth + 1)))
    n = draw(st.integers(1, 12))
    optimizer = draw(st.sampled_from(OPTIMIZERS))
    loss = draw(st.sampled_from(LOSSES))
    batch_size = draw(st.one_of(st.none(), st.integers(1, n)))
    return Spec(name="random", sizes=sizes, activation=draw(st.sampled_from(ACTIVATIONS)),
                output_activation=draw(st.sampled_from(ACTIVATIONS)), bias=draw(st.booleans()), loss=loss,
                optimizer=optimizer, lr=draw(st.sampled_from([1e-3, 1e-2])), n_samples=n,
                batch_size=batch_size, shuffle=batch_size is not None and draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)), steps=6, init_scale=0.5, **draw(OPTIMIZER_SETTINGS[optimizer]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_all_four_styles_agree_on_a_random_spec(spec):
    note(f"spec: {spec!r}")
    report = lockstep.run(spec, lr_schedule={3: spec.lr / 2})
    assert report.first is None, f"{spec!r}\n{report.first.sentence()}"
