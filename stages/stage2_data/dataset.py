"""The sliding-window data set and its DataLoader (lessons/stage2_data.md, §2-§4).

A GPT learns to predict the next token. GPTDatasetV1 cuts the token ids of a text into windows of
max_length ids (the inputs) and pairs each with the same window moved one token to the right (the
targets). create_dataloader_v1 wraps it in a torch DataLoader that yields batches of shape
(batch_size, max_length).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset


class GPTDatasetV1(Dataset):
    """Input/target windows of max_length token ids, one window every `stride` tokens.

    Attributes (the book's names; the checks read them):
        input_ids:  list of 1-D int64 tensors of length max_length, one per window
        target_ids: list of 1-D int64 tensors, each its input window moved one token right
    """

    def __init__(self, txt: str, tokenizer, max_length: int, stride: int):
        """Tokenize txt once, then cut windows starting at 0, stride, 2 * stride, ...

        A window starting at i is kept while i + max_length < len(token_ids): its target needs the
        one token after the window. A text with no room for even one window raises ValueError.

        Example (a tokenizer that turns txt into the ids 10, 11, ..., 19; max_length=4, stride=2):
            input_ids  -> [tensor([10, 11, 12, 13]), tensor([12, 13, 14, 15]), tensor([14, 15, 16, 17])]
            target_ids -> [tensor([11, 12, 13, 14]), tensor([13, 14, 15, 16]), tensor([15, 16, 17, 18])]
            (a window at 6 would need the target 7..10, and there is no id at 10)
        """
        self.input_ids: list[torch.Tensor] = []
        self.target_ids: list[torch.Tensor] = []
        # TODO: encode txt (allow <|endoftext|>), slide the window, raise ValueError if none fits
        raise NotImplementedError('encode txt (allow <|endoftext|>), slide the window, raise ValueError if none fits')

    def __len__(self) -> int:
        """The number of windows.

        Example (10 token ids, max_length=4, stride=2): len(dataset) -> 3
        """
        # TODO: return how many windows there are
        raise NotImplementedError('return how many windows there are')

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Window number idx as the pair (inputs, targets).

        Example (ids 10..19, max_length=4, stride=2):
            dataset[1] -> (tensor([12, 13, 14, 15]), tensor([13, 14, 15, 16]))
        """
        # TODO: return the input window and the target window number idx
        raise NotImplementedError('return the input window and the target window number idx')


def create_dataloader_v1(
    txt: str,
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
    tokenizer=None,
) -> DataLoader:
    """A DataLoader over GPTDatasetV1(txt, tokenizer, max_length, stride).

    Each batch is a pair (inputs, targets) of int64 tensors of shape (batch_size, max_length).
    shuffle=True visits the windows in a new random order every epoch (torch.manual_seed fixes it);
    drop_last=True drops a last batch smaller than batch_size. With tokenizer=None it uses GPT-2's
    tokenizer, tiktoken.get_encoding("gpt2") (tiktoken downloads it on first use).

    Example (ids 10..19, batch_size=2, max_length=4, stride=2, shuffle=False, drop_last=True):
        3 windows make one full batch; the third window is dropped:
        [(tensor([[10, 11, 12, 13], [12, 13, 14, 15]]), tensor([[11, 12, 13, 14], [13, 14, 15, 16]]))]
    """
    if tokenizer is None:
        import tiktoken  # only here: the checks pass their own tokenizer and never download

        tokenizer = tiktoken.get_encoding("gpt2")
    # TODO: build the GPTDatasetV1 and return a DataLoader with batch_size, shuffle, drop_last, num_workers
    raise NotImplementedError('build the GPTDatasetV1 and return a DataLoader with batch_size, shuffle, drop_last, num_workers')
