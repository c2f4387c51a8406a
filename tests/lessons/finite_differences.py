"""Central finite differences of a style's loss, shared by the gradient-check tests."""


def loss_at(style, x, y):
    """The loss after a forward pass of x against y."""
    style.run_phase("forward", x)
    style.run_phase("loss", x, y)
    return float(style.read("loss")["loss"])


def central_difference(style, x, y, flat, i, h):
    """(L(θ_i + h) − L(θ_i − h)) / 2h, where `flat` is a view of a parameter of the style's net."""
    old = float(flat[i])
    flat[i] = old + h
    up = loss_at(style, x, y)
    flat[i] = old - h
    down = loss_at(style, x, y)
    flat[i] = old
    return (up - down) / (2 * h)
