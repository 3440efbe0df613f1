"""Chapter 7 as the book writes it: format_input, InstructionDataset, custom_collate_fn."""

import torch
from torch.utils.data import Dataset


def format_input(entry):
    """The Alpaca prompt: {"instruction": "Name a color.", "input": ""}
    -> "Below is an instruction ... the request.\\n\\n### Instruction:\\nName a color." """
    instruction_text = (
        f"Below is an instruction that describes a task. "
        f"Write a response that appropriately completes the request."
        f"\n\n### Instruction:\n{entry['instruction']}"
    )

    input_text = f"\n\n### Input:\n{entry['input']}" if entry["input"] else ""

    return instruction_text + input_text


class InstructionDataset(Dataset):
    """Each entry's prompt and response as one list of ids; prompt_lengths for masking (exercise 7.2)."""

    def __init__(self, data, tokenizer):
        """2 entries -> len(dataset) == 2, dataset[0] a list of ints"""
        self.data = data

        # Pre-tokenize texts
        self.encoded_texts = []
        self.prompt_lengths = []  # the book's exercise 7.2 keeps these as instruction_lengths
        for entry in data:
            instruction_plus_input = format_input(entry)
            response_text = f"\n\n### Response:\n{entry['output']}"
            full_text = instruction_plus_input + response_text
            self.encoded_texts.append(tokenizer.encode(full_text))
            self.prompt_lengths.append(len(tokenizer.encode(instruction_plus_input)))

    def __getitem__(self, index):
        return self.encoded_texts[index]

    def __len__(self):
        return len(self.data)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    """[[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]] -> targets [[1, 2, 3, 4, 50256], [6, 50256, -100, -100, -100], ...]"""
    # Find the longest sequence in the batch
    batch_max_length = max(len(item) + 1 for item in batch)

    # Pad and prepare inputs and targets
    inputs_lst, targets_lst = [], []

    for item in batch:
        new_item = item.copy()
        # Add an <|endoftext|> token
        new_item += [pad_token_id]
        # Pad sequences to max_length
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])  # Truncate the last token for inputs
        targets = torch.tensor(padded[1:])  # Shift +1 to the right for targets

        # New: Replace all but the first padding tokens in targets by ignore_index
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index

        # New: Optionally truncate to maximum sequence length
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]

        inputs_lst.append(inputs)
        targets_lst.append(targets)

    # Convert list of inputs and targets to tensors and transfer to target device
    inputs_tensor = torch.stack(inputs_lst).to(device)  # (B, T)
    targets_tensor = torch.stack(targets_lst).to(device)  # (B, T)

    return inputs_tensor, targets_tensor


def mask_prompt_targets(targets, prompt_lengths, ignore_index=-100):
    """Exercise 7.2's masking: targets [[11, 12, 13, 14]], prompt_lengths [3] -> [[-100, -100, 13, 14]]"""
    masked = targets.clone()
    for i, prompt_length in enumerate(prompt_lengths):
        masked[i, : prompt_length - 1] = ignore_index  # target j predicts token j + 1
    return masked


def calc_loss_batch(input_batch, target_batch, model, device):
    """Cross-entropy over every token; targets of -100 are left out (given: chapter 5's)."""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (B, T, V)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())  # (B*T, V), (B*T,)
    return loss
