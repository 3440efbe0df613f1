"""Stage 2 as chapter 2 writes it: GPTDatasetV1 and create_dataloader_v1."""

import torch
from torch.utils.data import DataLoader, Dataset


class GPTDatasetV1(Dataset):
    """Input and target chunks of max_length ids, one every `stride` ids."""

    def __init__(self, txt, tokenizer, max_length, stride):
        """ids 10..19, max_length=4, stride=2 -> input_ids [10..13], [12..15], [14..17]"""
        self.input_ids = []
        self.target_ids = []

        # Tokenize the entire text
        token_ids = tokenizer.encode(txt, allowed_special={"<|endoftext|>"})
        # The book makes no window and says nothing; the lesson asks for a ValueError.
        if len(token_ids) <= max_length:
            raise ValueError(f"{len(token_ids)} tokens are too few for one window of max_length={max_length}")

        # Use a sliding window to chunk the book into overlapping sequences of max_length
        for i in range(0, len(token_ids) - max_length, stride):
            input_chunk = token_ids[i : i + max_length]
            target_chunk = token_ids[i + 1 : i + max_length + 1]
            self.input_ids.append(torch.tensor(input_chunk))
            self.target_ids.append(torch.tensor(target_chunk))

    def __len__(self):
        """The number of chunks: 10 ids, max_length=4, stride=2 -> 3"""
        return len(self.input_ids)

    def __getitem__(self, idx):
        """Chunk idx: dataset[1] -> (tensor([12, 13, 14, 15]), tensor([13, 14, 15, 16]))"""
        return self.input_ids[idx], self.target_ids[idx]


def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                         num_workers=0, tokenizer=None):
    """A DataLoader of (batch_size, max_length) batches; the book always makes GPT-2's tokenizer here."""
    if tokenizer is None:
        import tiktoken

        tokenizer = tiktoken.get_encoding("gpt2")

    # Create dataset
    dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)

    # Create dataloader
    dataloader = DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers
    )

    return dataloader
