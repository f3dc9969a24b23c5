"""Weight patches on shared networks: exact sums, untouched originals, and no copy of a weight beyond the sum."""

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from runtime.weights.patches import WeightPatch, apply_patches, restore_weights


class OpRecorder(TorchDispatchMode):
    """Names of the aten operations run while active."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def test_patches_sum_into_a_new_tensor_and_leave_the_original_alone():
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    weight, bias = network[0].weight.data.clone(), network[1].bias.data.clone()
    storage = network[0].weight.data_ptr()
    delta = torch.randn(3, 4)
    patches = (WeightPatch("0.weight", 0.5, lambda w: delta), WeightPatch("0.weight", 2.0, lambda w: w),
               WeightPatch("1.bias", 1.0, lambda w: torch.ones_like(w)))
    with OpRecorder() as recorder:
        apply_patches(network, patches)
    torch.testing.assert_close(network[0].weight.data, weight + 0.5 * delta + 2.0 * weight)
    torch.testing.assert_close(network[1].bias.data, bias + 1.0)
    # the sums are the only new weights: the originals are kept as they are, never cloned
    assert "clone" not in recorder.ops and "copy_" not in recorder.ops, recorder.ops
    assert network[0].weight.data_ptr() != storage
    restore_weights(network)
    assert network[0].weight.data_ptr() == storage
    assert torch.equal(network[0].weight.data, weight) and torch.equal(network[1].bias.data, bias)
