"""Chapter 5's losses as the book writes them: text_to_token_ids, calc_loss_batch, calc_loss_loader, evaluate_model."""

import math

import torch


def text_to_token_ids(text, tokenizer):
    """"Hi" with a bytes-only tokenizer -> tensor([[72, 105]])"""
    encoded = tokenizer.encode(text, allowed_special={"<|endoftext|>"})
    encoded_tensor = torch.tensor(encoded).unsqueeze(0)  # add batch dimension: (1, T)
    return encoded_tensor


def token_ids_to_text(token_ids, tokenizer):
    """tensor([[72, 105]]) -> "Hi" """
    flat = token_ids.squeeze(0)  # remove batch dimension: (T,)
    return tokenizer.decode(flat.tolist())


def calc_loss_batch(input_batch, target_batch, model, device):
    """Logits [[2., 0., 0.], [0., 0., 0.]], targets [[0, 2]] -> tensor(0.6691)"""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (B, T, V)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())  # (B * T, V), (B * T,)
    return loss


def calc_loss_loader(data_loader, model, device, num_batches=None):
    """The mean over the first num_batches batches: losses 2, 4, 9 -> 5.0; num_batches=2 -> 3.0"""
    total_loss = 0.0
    if len(data_loader) == 0:
        return float("nan")
    elif num_batches is None:
        num_batches = len(data_loader)
    else:
        # Reduce the number of batches to match the total number of batches in the data loader
        # if num_batches exceeds the number of batches in the data loader
        num_batches = min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            total_loss += loss.item()
        else:
            break
    return total_loss / num_batches


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    """(train loss, val loss) over eval_iter batches, in eval mode; the model goes back to train mode."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def perplexity(loss):
    """The book's torch.exp(loss), on a float: perplexity(2.0) -> 7.389"""
    return math.exp(loss)


def bits_per_byte(loss, num_tokens, num_bytes):
    """Nats per token to bits per byte: (3.0, 1000, 3000) -> 1.4427"""
    return loss * num_tokens / num_bytes / math.log(2)
