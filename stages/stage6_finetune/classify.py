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
        # TODO: read the rows, encode each Text, cut to max_length (or use the longest), pad with pad_token_id
        raise NotImplementedError('read the rows, encode each Text, cut to max_length (or use the longest), pad with pad_token_id')

    def __getitem__(self, index):
        """(token ids of shape (max_length,), label of shape ()), both int64.

        Example: dataset[1] -> (tensor([8, 50256, 50256]), tensor(0))
        """
        # TODO: return the padded ids and the label as int64 tensors
        raise NotImplementedError('return the padded ids and the label as int64 tensors')

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
    # TODO: freeze everything, new out_head with num_classes outputs, unfreeze trf_blocks[-1] and final_norm
    raise NotImplementedError('freeze everything, new out_head with num_classes outputs, unfreeze trf_blocks[-1] and final_norm')


def calc_loss_batch(input_batch, target_batch, model, device):
    """Cross-entropy of the LAST token's logits against the labels.

    The last token is the only one that has attended to every token of the text. Example:
    inputs of shape (2, 5) -> model logits (2, 5, 2) -> last-token logits (2, 2) -> one loss.
    """
    # TODO: logits of the last token only, then cross-entropy with the class labels
    raise NotImplementedError('logits of the last token only, then cross-entropy with the class labels')


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
    # TODO: eval mode, no_grad; argmax of the last token's logits; count matches over the batches
    raise NotImplementedError("eval mode, no_grad; argmax of the last token's logits; count matches over the batches")


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
    # TODO: per batch zero_grad, loss, backward, step; count texts; evaluate every eval_freq steps and each epoch
    raise NotImplementedError('per batch zero_grad, loss, backward, step; count texts; evaluate every eval_freq steps and each epoch')


def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    """"spam" if the model's last-token argmax is 1, else "not spam".

    The text is encoded, cut to min(max_length, context_length) tokens and padded to max_length
    as SpamDataset pads (max_length=None: cut to the context length, no padding). Example: with
    max_length=4, "Hi" encoding to [17250] is run as [[17250, 50256, 50256, 50256]].
    """
    # TODO: encode, truncate, right-pad, one batch of one; argmax of the last token's logits
    raise NotImplementedError("encode, truncate, right-pad, one batch of one; argmax of the last token's logits")
