"""Chapter 6, written another way: the padded ids as one tensor, the loss by hand."""

from __future__ import annotations

import csv
from itertools import islice

import torch
from torch import nn
from torch.utils.data import Dataset


class SpamDataset(Dataset):
    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        with open(csv_file, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        label_col, text_col = header.index("Label"), header.index("Text")
        encoded = [tokenizer.encode(row[text_col]) for row in body]
        self.max_length = max((len(e) for e in encoded), default=0) if max_length is None else max_length
        self.ids = torch.full((len(body), self.max_length), pad_token_id, dtype=torch.long)  # (N, max_length)
        for i, e in enumerate(encoded):
            kept = e[: self.max_length]
            self.ids[i, : len(kept)] = torch.tensor(kept, dtype=torch.long)
        self.labels = torch.tensor([int(row[label_col]) for row in body], dtype=torch.long)  # (N,)

    def __getitem__(self, index):
        return self.ids[index].clone(), self.labels[index].clone()

    def __len__(self):
        return self.labels.shape[0]


def prepare_classifier(model, num_classes=2):
    model.requires_grad_(False)
    model.out_head = nn.Linear(model.out_head.weight.shape[1], num_classes)
    model.trf_blocks[len(model.trf_blocks) - 1].requires_grad_(True)
    model.final_norm.requires_grad_(True)
    return model


def _last_logits(model, input_batch, device):
    return model(input_batch.to(device)).select(1, -1)  # (B, T, C) -> (B, C)


def calc_loss_batch(input_batch, target_batch, model, device):
    logp = torch.log_softmax(_last_logits(model, input_batch, device), dim=-1)  # (B, C)
    return -logp.gather(1, target_batch.to(device).view(-1, 1)).mean()


def calc_loss_loader(data_loader, model, device, num_batches=None):
    if len(data_loader) == 0:
        return float("nan")
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    return sum(calc_loss_batch(x, y, model, device).item() for x, y in islice(data_loader, n)) / n


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    model.eval()
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    hits = seen = 0
    with torch.no_grad():
        for x, y in islice(data_loader, n):
            hits += int((_last_logits(model, x, device).argmax(-1) == y.to(device)).sum())
            seen += len(y)
    return hits / seen


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    model.eval()
    with torch.no_grad():
        losses = tuple(calc_loss_loader(loader, model, device, num_batches=eval_iter) for loader in (train_loader, val_loader))
    model.train()
    return losses


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    examples, steps = 0, 0
    for _ in range(num_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            calc_loss_batch(x, y, model, device).backward()
            optimizer.step()
            examples += len(x)
            if steps % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                history["train_loss"].append(train_loss)
                history["val_loss"].append(val_loss)
            steps += 1
        history["train_acc"].append(calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter))
        history["val_acc"].append(calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter))
    return history["train_loss"], history["val_loss"], history["train_acc"], history["val_acc"], examples


def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    model.eval()
    ids = tokenizer.encode(text)
    context = model.pos_emb.weight.shape[0]
    length = min(len(ids), context) if max_length is None else max_length
    row = torch.full((1, length), pad_token_id, dtype=torch.long)  # (1, T)
    kept = ids[: min(length, context)]
    row[0, : len(kept)] = torch.tensor(kept, dtype=torch.long)
    with torch.no_grad():
        label = int(_last_logits(model, row, device).argmax(-1)[0])
    return "spam" if label == 1 else "not spam"
