"""Neural-net ops: convolution, pooling, normalization, attention, embedding (being filled in)."""

__all__: list[str] = []
