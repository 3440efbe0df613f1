"""Instruction fine-tuning, chapter 7: the Alpaca prompt, the data set and the collate function.

Shapes in the comments: B batch, T tokens, V vocab_size. An entry is a dict with the keys
"instruction", "input" (may be "") and "output", as in the book's instruction-data.json.

The book names this chapter's loss `calc_loss_batch` too (chapter 5's: every token's logits);
it lives here, apart from classify.calc_loss_batch, which uses the last token only.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


def format_input(entry):
    """The Alpaca-style prompt of one entry, without the response, exactly as the book writes it.

    Example: {"instruction": "Name a color.", "input": "", "output": "Red."} ->
    "Below is an instruction that describes a task. Write a response that appropriately
    completes the request.\\n\\n### Instruction:\\nName a color."
    (one line up to "request."); with "input": "x", "\\n\\n### Input:\\nx" follows.
    """
    # BEGIN SOLUTION: the fixed preamble, "\n\n### Instruction:\n" + instruction, and "\n\n### Input:\n" + input only when it is not empty
    instruction_text = (
        f"Below is an instruction that describes a task. "
        f"Write a response that appropriately completes the request."
        f"\n\n### Instruction:\n{entry['instruction']}"
    )
    input_text = f"\n\n### Input:\n{entry['input']}" if entry["input"] else ""
    return instruction_text + input_text
    # END SOLUTION


class InstructionDataset(Dataset):
    """Each entry's prompt and response, encoded: a list of token ids per entry (not padded).

    self.encoded_texts[i] is tokenizer.encode(format_input(entry) + "\\n\\n### Response:\\n" +
    entry["output"]); self.prompt_lengths[i] is len(tokenizer.encode(format_input(entry))), for
    masking the prompt out of the loss (mask_prompt_targets).
    """

    def __init__(self, data, tokenizer):
        """Example: data of 2 entries -> len(dataset) == 2, dataset[0] a list of ints."""
        # BEGIN SOLUTION: encode format_input(entry) + the response section for every entry
        self.data = data
        self.encoded_texts = []
        self.prompt_lengths = []
        for entry in data:
            instruction_plus_input = format_input(entry)
            response_text = f"\n\n### Response:\n{entry['output']}"
            full_text = instruction_plus_input + response_text
            self.encoded_texts.append(tokenizer.encode(full_text))
            self.prompt_lengths.append(len(tokenizer.encode(instruction_plus_input)))
        # END SOLUTION

    def __getitem__(self, index):
        return self.encoded_texts[index]

    def __len__(self):
        return len(self.data)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    """Pad a batch of token-id lists into (inputs, targets), each of shape (B, T).

    Each item gets one pad_token_id (the end-of-text) appended, then is padded with pad_token_id
    to the longest item's length + 1; inputs drop the last token, targets the first (shifted by
    one); in the targets every pad after the first is set to ignore_index, so the model learns
    to end its answer once; finally both are cut to allowed_max_length tokens.

    Example (the book's): [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]] ->
      inputs  [[0, 1, 2, 3, 4], [5, 6, 50256, 50256, 50256], [7, 8, 9, 50256, 50256]]
      targets [[1, 2, 3, 4, 50256], [6, 50256, -100, -100, -100], [8, 9, 50256, -100, -100]]
    """
    # BEGIN SOLUTION: append one pad, pad to the longest + 1, shift inputs/targets, ignore_index on every target pad after the first, truncate
    batch_max_length = max(len(item) + 1 for item in batch)
    inputs_lst, targets_lst = [], []
    for item in batch:
        new_item = list(item)
        new_item += [pad_token_id]  # the end-of-text token the model must learn to produce
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])  # (T,)
        targets = torch.tensor(padded[1:])  # (T,): shifted one to the right
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()  # positions of the pads in the targets
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index  # keep the first pad, ignore the rest
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]
        inputs_lst.append(inputs)
        targets_lst.append(targets)
    inputs_tensor = torch.stack(inputs_lst).to(device)  # (B, T)
    targets_tensor = torch.stack(targets_lst).to(device)  # (B, T)
    return inputs_tensor, targets_tensor
    # END SOLUTION


def mask_prompt_targets(targets, prompt_lengths, ignore_index=-100):
    """A copy of targets (B, T) where the targets that predict prompt tokens are ignore_index.

    The course's addition to the book (its exercise 7.2): target j predicts token j + 1, so for
    a prompt of p tokens the targets 0 .. p - 2 are prompt tokens; the one at p - 1 is the first
    response token and is kept. Example: targets [[11, 12, 13, 14]], prompt_lengths [3] ->
    [[-100, -100, 13, 14]].
    """
    # BEGIN SOLUTION: copy, then for each row set the first prompt_length - 1 targets to ignore_index
    targets = targets.clone()
    for row, prompt_length in enumerate(prompt_lengths):
        targets[row, : max(int(prompt_length) - 1, 0)] = ignore_index
    return targets
    # END SOLUTION


def calc_loss_batch(input_batch, target_batch, model, device):
    """Cross-entropy over every token's logits; targets equal to -100 are left out."""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (B, T, V)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())  # (B*T, V) vs (B*T,)
