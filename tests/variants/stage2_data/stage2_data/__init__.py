"""Stage 2, written a second way: windows cut with Tensor.unfold, a (1, T, D) position row."""

from .data import GPTDatasetV1, create_dataloader_v1
from .layers import GPTEmbedding

__all__ = ["GPTDatasetV1", "GPTEmbedding", "create_dataloader_v1"]
