"""Pitfall: DistributedSampler.set_epoch never called.

The sampler draws each epoch's order from a generator seeded with seed + epoch;
without set_epoch its epoch stays 0, so every epoch repeats epoch 0's order
(each rank sees its same rows in the same batches, epoch after epoch). The
harness pins it at the first step of epoch 1, forward, x: the ranks' rows are not
the batch a single process shuffled anew. The fix: `loader.sampler.set_epoch(epoch)`
before each epoch, as the lesson's start_epoch does.
"""


def start_epoch(loader, epoch):
    return iter(loader)                      # bug: no loader.sampler.set_epoch(epoch)
