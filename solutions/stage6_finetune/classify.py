"""Fine-tuning for classification, chapter 6: the spam data set, the classifier head, training.

Shapes in the comments: B batch, T tokens (T <= context_length), emb_dim = cfg["emb_dim"],
C = num_classes. The model is your stage-4 GPTModel, by package name.

The book names this chapter's loss `calc_loss_batch`, like chapter 5's and chapter 7's; here
each part of the stage has its own module, so `stage6_finetune.classify.calc_loss_batch` (loss
on the last token's logits) and `stage6_finetune.instruct.calc_loss_batch` (loss on every token)
never meet.
"""

from __future__ import annotations

import csv

import torch
import torch.nn as nn
from torch.utils.data import Dataset


class SpamDataset(Dataset):
    """Labelled texts from a CSV file with the columns Label (0 or 1) and Text, as the book's.

    Every text is encoded, cut to max_length tokens and padded on the right with pad_token_id,
    so all items have the same length (max_length, or the longest text's when it is None).
    """

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        """Example (ids of a toy tokenizer): texts encoding to [5, 6, 7] and [8], max_length=None
        -> self.max_length == 3, items ([5, 6, 7], label), ([8, 50256, 50256], label);
        max_length=2 -> [5, 6] and [8, 50256].

        The book reads the CSV with pandas; the csv module reads the same file (a header row
        Label,Text, then one row per text).
        """
        # BEGIN SOLUTION: read the rows, encode each Text, cut to max_length (or use the longest), pad with pad_token_id
        with open(csv_file, newline="", encoding="utf-8") as f:
            self.data = list(csv.DictReader(f))
        self.encoded_texts = [tokenizer.encode(row["Text"]) for row in self.data]
        if max_length is None:
            self.max_length = self._longest_encoded_length()
        else:
            self.max_length = max_length
            self.encoded_texts = [ids[: self.max_length] for ids in self.encoded_texts]
        self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]
        # END SOLUTION

    def __getitem__(self, index):
        """(token ids of shape (max_length,), label of shape ()), both int64.

        Example: dataset[1] -> (tensor([8, 50256, 50256]), tensor(0))
        """
        # BEGIN SOLUTION: return the padded ids and the label as int64 tensors
        encoded = self.encoded_texts[index]
        label = int(self.data[index]["Label"])
        return torch.tensor(encoded, dtype=torch.long), torch.tensor(label, dtype=torch.long)
        # END SOLUTION

    def __len__(self):
        return len(self.data)

    def _longest_encoded_length(self):
        """Example: encoded texts [5, 6, 7] and [8] -> 3."""
        return max((len(ids) for ids in self.encoded_texts), default=0)


def prepare_classifier(model: nn.Module, num_classes: int = 2) -> nn.Module:
    """Turn a GPTModel into a classifier, in place, as section 6.5 does, and return it.

    Every parameter is frozen, then a new out_head Linear(emb_dim, num_classes) (trainable, as
    every new module is) replaces the vocabulary head, and the last transformer block and the
    final norm are unfrozen. Example (GPT-2 124M, qkv_bias=True): the trainable parameters are
    the last block's 7,087,872, the final norm's 1,536 and the head's 768 * 2 + 2 = 1,538.
    """
    # BEGIN SOLUTION: freeze everything, new out_head with num_classes outputs, unfreeze trf_blocks[-1] and final_norm
    for param in model.parameters():
        param.requires_grad = False
    emb_dim = model.out_head.in_features
    model.out_head = nn.Linear(in_features=emb_dim, out_features=num_classes)
    for param in model.trf_blocks[-1].parameters():
        param.requires_grad = True
    for param in model.final_norm.parameters():
        param.requires_grad = True
    return model
    # END SOLUTION


def calc_loss_batch(input_batch, target_batch, model, device):
    """Cross-entropy of the LAST token's logits against the labels.

    The last token is the only one that has attended to every token of the text. Example:
    inputs of shape (2, 5) -> model logits (2, 5, 2) -> last-token logits (2, 2) -> one loss.
    """
    # BEGIN SOLUTION: logits of the last token only, then cross-entropy with the class labels
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)[:, -1, :]  # (B, C): the last token's logits
    return torch.nn.functional.cross_entropy(logits, target_batch)
    # END SOLUTION


def calc_loss_loader(data_loader, model, device, num_batches=None):
    """The mean of calc_loss_batch over the first num_batches batches (all when None)."""
    total_loss = 0.0
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total_loss / num_batches


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    """The share of texts whose last-token argmax is their label, over the first num_batches.

    Example: predictions [1, 0, 1] for labels [1, 1, 1] -> 2 / 3 = 0.6667.
    """
    # BEGIN SOLUTION: eval mode, no_grad; argmax of the last token's logits; count matches over the batches
    model.eval()
    correct_predictions, num_examples = 0, 0
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        input_batch, target_batch = input_batch.to(device), target_batch.to(device)
        with torch.no_grad():
            logits = model(input_batch)[:, -1, :]  # (B, C)
        predicted_labels = torch.argmax(logits, dim=-1)  # (B,)
        num_examples += predicted_labels.shape[0]
        correct_predictions += (predicted_labels == target_batch).sum().item()
    return correct_predictions / num_examples
    # END SOLUTION


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    """(train loss, validation loss) over eval_iter batches each, in eval mode."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    """The book's loop: returns (train_losses, val_losses, train_accs, val_accs, examples_seen).

    Every eval_freq steps the losses over eval_iter batches are recorded; after every epoch, the
    accuracies over eval_iter batches. examples_seen counts texts, not tokens. Example: 2 epochs
    of 3 batches of 4 texts, eval_freq=2 -> losses recorded at steps 0, 2, 4: 3 entries each,
    2 accuracies each, examples_seen == 24.
    """
    # BEGIN SOLUTION: per batch zero_grad, loss, backward, step; count texts; evaluate every eval_freq steps and each epoch
    train_losses, val_losses, train_accs, val_accs = [], [], [], []
    examples_seen, global_step = 0, -1
    for epoch in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            examples_seen += input_batch.shape[0]
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
        train_accs.append(calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter))
        val_accs.append(calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter))
    return train_losses, val_losses, train_accs, val_accs, examples_seen
    # END SOLUTION


def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    """"spam" if the model's last-token argmax is 1, else "not spam".

    The text is encoded, cut to min(max_length, context_length) tokens and padded to max_length
    as SpamDataset pads (max_length=None: cut to the context length, no padding). Example: with
    max_length=4, "Hi" encoding to [17250] is run as [[17250, 50256, 50256, 50256]].
    """
    # BEGIN SOLUTION: encode, truncate, right-pad, one batch of one; argmax of the last token's logits
    model.eval()
    input_ids = tokenizer.encode(text)
    supported_context_length = model.pos_emb.weight.shape[0]
    if max_length is None:
        max_length = min(len(input_ids), supported_context_length)
    input_ids = input_ids[: min(max_length, supported_context_length)]
    input_ids += [pad_token_id] * (max_length - len(input_ids))
    input_tensor = torch.tensor(input_ids, device=device).unsqueeze(0)  # (1, T)
    with torch.no_grad():
        logits = model(input_tensor)[:, -1, :]  # (1, C)
    predicted_label = torch.argmax(logits, dim=-1).item()
    return "spam" if predicted_label == 1 else "not spam"
    # END SOLUTION
