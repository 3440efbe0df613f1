"""Chapter 7, written another way: the batch as one tensor, masks from positions."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

PREAMBLE = "Below is an instruction that describes a task. Write a response that appropriately completes the request."


def format_input(entry):
    parts = [PREAMBLE, "### Instruction:\n" + entry["instruction"]]
    if entry["input"]:
        parts.append("### Input:\n" + entry["input"])
    return "\n\n".join(parts)


class InstructionDataset(Dataset):
    def __init__(self, data, tokenizer):
        self.data = list(data)
        prompts = [format_input(e) for e in self.data]
        self.encoded_texts = [tokenizer.encode(p + "\n\n### Response:\n" + e["output"]) for p, e in zip(prompts, self.data)]
        self.prompt_lengths = [len(tokenizer.encode(p)) for p in prompts]

    def __getitem__(self, index):
        return self.encoded_texts[index]

    def __len__(self):
        return len(self.encoded_texts)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    width = max(len(item) for item in batch) + 1
    padded = torch.full((len(batch), width), pad_token_id, dtype=torch.long)  # (B, longest + 1)
    lengths = torch.tensor([len(item) for item in batch])  # (B,)
    for i, item in enumerate(batch):
        padded[i, : len(item)] = torch.tensor(item, dtype=torch.long)
    inputs, targets = padded[:, :-1].clone(), padded[:, 1:].clone()  # (B, longest) each
    # target j holds token j + 1: the first pad (the end of text) is target len - 1; later ones are ignored
    positions = torch.arange(width - 1).unsqueeze(0)  # (1, longest)
    targets[positions > (lengths - 1).unsqueeze(1)] = ignore_index
    if allowed_max_length is not None:
        inputs, targets = inputs[:, :allowed_max_length], targets[:, :allowed_max_length]
    return inputs.to(device), targets.to(device)


def mask_prompt_targets(targets, prompt_lengths, ignore_index=-100):
    keep_from = torch.as_tensor(prompt_lengths).view(-1, 1) - 1  # (B, 1)
    positions = torch.arange(targets.shape[1]).unsqueeze(0)  # (1, T)
    return torch.where(positions < keep_from, torch.full_like(targets, ignore_index), targets)


def calc_loss_batch(input_batch, target_batch, model, device):
    logits = model(input_batch.to(device))  # (B, T, V)
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), target_batch.to(device))  # (B, V, T) vs (B, T)
