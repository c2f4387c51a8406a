"""Optimizers of the nn + optim lesson (nn modules and torch.optim): the torch.optim optimizer of each, by name.

mlp.py looks up its optimizer in OPTIMIZERS.
"""

import torch

# ============================================================================
# Optimizers: torch.optim owns the update of every parameter
# ============================================================================


def sgd(params, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                           weight_decay=weight_decay)


def rmsprop(params, *, lr, alpha, eps, momentum, centered, weight_decay, **unused):
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered,
                               weight_decay=weight_decay)


def adam(params, *, lr, betas, eps, weight_decay, **unused):
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def adamw(params, *, lr, betas, eps, weight_decay, **unused):
    return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


OPTIMIZERS = {"sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}
