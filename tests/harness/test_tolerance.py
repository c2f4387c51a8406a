"""The tolerance policy holds what it says: its margins, and its measurements on this machine."""

import pytest

from parity.tolerance import MEASURED, TOLERANCE
from tests.helpers import preset_run


@pytest.mark.parametrize("key", list(MEASURED), ids=lambda k: "-".join(map(str, k)))
def test_each_tolerance_keeps_a_margin_over_what_was_measured(key):
    _, dtype, _ = key
    assert MEASURED[key] * 5 <= TOLERANCE[dtype]


def test_float64_sits_near_machine_precision():
    assert TOLERANCE["float64"] <= 1e-11


@pytest.mark.parametrize("name, steps, dtype, measured_at", [
    ("three-layer", 50, "float64", ("three-layer", "float64", 50)),
    ("three-layer", 50, "float32", ("three-layer", "float32", 50)),
    ("two-layer", 20, "float32", ("two-layer", "float32", 50)),
])
def test_live_errors_are_of_the_measured_size(name, steps, dtype, measured_at):
    # Same machine, same libraries: the errors are those the policy records, within a factor 10.
    worst = max(preset_run(name, steps, bias=b, dtype=dtype).error_array().max()
                for b in ((False, True) if name == "three-layer" else (False,)))
    assert worst <= 10 * MEASURED[measured_at]
