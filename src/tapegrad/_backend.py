"""The array namespace behind tensors: NumPy (CuPy would slot in here for device='cuda')."""

import numpy

numpy_namespace = numpy
