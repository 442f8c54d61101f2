"""torch.nn.functional for tapegrad: re-exports the ops declared in ops/ (activations,
convolution and pooling, normalization, losses)."""

from ..ops.activation import *  # noqa: F403
from ..ops.loss import *  # noqa: F403
from ..ops.nn_ops import *  # noqa: F403
from ..ops.shape import pad  # noqa: F401
