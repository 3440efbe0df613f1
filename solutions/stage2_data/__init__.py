"""Stage 2: embeddings and the sliding-window data loader (lessons/stage2_data.md)."""

from .dataset import GPTDatasetV1, create_dataloader_v1
from .embedding import GPTEmbedding

__all__ = ["GPTDatasetV1", "GPTEmbedding", "create_dataloader_v1"]
