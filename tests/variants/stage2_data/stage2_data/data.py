"""Sliding windows with Tensor.unfold instead of a Python loop over slices."""

import torch
from torch.utils.data import DataLoader, Dataset


class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        ids = torch.as_tensor(tokenizer.encode(txt, allowed_special="all"), dtype=torch.int64)
        if ids.numel() < max_length + 1:
            raise ValueError(
                f"need at least max_length + 1 = {max_length + 1} tokens for one window, the text has {ids.numel()}; "
                "give more text or lower max_length"
            )
        # ids[:-1] ends one early, so every window of it has a next token for its targets:
        # unfold keeps starts 0, stride, ... with start + max_length <= len(ids) - 1.
        inputs = ids[:-1].unfold(0, max_length, stride)  # (n_windows, max_length)
        targets = ids[1:].unfold(0, max_length, stride)  # (n_windows, max_length)
        self.input_ids = [row.clone() for row in inputs]
        self.target_ids = [row.clone() for row in targets]

    def __len__(self):
        return len(self.target_ids)

    def __getitem__(self, idx):
        return (self.input_ids[idx], self.target_ids[idx])


def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                         num_workers=0, tokenizer=None):
    if tokenizer is None:
        import tiktoken

        tokenizer = tiktoken.get_encoding("gpt2")
    options = dict(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers)
    return DataLoader(GPTDatasetV1(txt, tokenizer, max_length=max_length, stride=stride), **options)
