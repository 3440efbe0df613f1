"""The training objective and how to measure it (lessons/stage5_pretrain.md, §1-§3).

A GPT is trained to predict every next token. For one batch, the loss is the cross-entropy between
the model's logits (B, T, V) and the targets (B, T), averaged over all B * T positions. Perplexity
and bits per byte are the same number in units that can be compared across vocabularies.
"""

from __future__ import annotations

import math

import torch


def text_to_token_ids(text: str, tokenizer) -> torch.Tensor:
    """Encode text (with <|endoftext|> allowed) into a batch of one: shape (1, T).

    Example (stage 1's BPETokenizer with no merges, so every byte is its own id):
        text_to_token_ids("Hi", tokenizer) -> tensor([[ 72, 105]])
    """
    # TODO: encode with allowed_special={"<|endoftext|>"}, make a tensor, add the batch dimension
    raise NotImplementedError('encode with allowed_special={"<|endoftext|>"}, make a tensor, add the batch dimension')


def token_ids_to_text(token_ids: torch.Tensor, tokenizer) -> str:
    """Decode a batch of one, shape (1, T), back into text.

    Example (the same tokenizer): token_ids_to_text(tensor([[72, 105]]), tokenizer) -> "Hi"
    """
    # TODO: drop the batch dimension, then decode the list of ids
    raise NotImplementedError('drop the batch dimension, then decode the list of ids')


def calc_loss_batch(input_batch: torch.Tensor, target_batch: torch.Tensor, model, device) -> torch.Tensor:
    """The mean cross-entropy of the model's next-token logits over every position of the batch.

    input_batch and target_batch are int64 (B, T); both go to `device` first. Returns a scalar
    tensor that can be back-propagated.

    Example (V = 3; a model whose logits for one sequence of two tokens are
    [[2., 0., 0.], [0., 0., 0.]], targets [[0, 2]]):
        position 0: -log softmax([2, 0, 0])[0] = log(e^2 + 2) - 2 = 0.2395
        position 1: -log softmax([0, 0, 0])[2] = log(3)            = 1.0986
        calc_loss_batch(...) -> tensor(0.6691), the mean of the two
    """
    # TODO: move both batches to device, logits = model(inputs), cross_entropy over flattened (B*T, V) logits and (B*T,) targets
    raise NotImplementedError('move both batches to device, logits = model(inputs), cross_entropy over flattened (B*T, V) logits and (B*T,) targets')


def calc_loss_loader(data_loader, model, device, num_batches: int | None = None) -> float:
    """The mean of calc_loss_batch over the first num_batches batches (all of them if None).

    num_batches larger than the loader is cut to len(data_loader); an empty loader gives NaN
    (there is no loss to average), never a ZeroDivisionError.

    Example (a loader whose three batches have losses 2.0, 4.0 and 9.0):
        calc_loss_loader(loader, model, device)                -> 5.0
        calc_loss_loader(loader, model, device, num_batches=2) -> 3.0
        calc_loss_loader(empty_loader, model, device)          -> nan
    """
    # TODO: NaN if the loader is empty; cap num_batches at len(data_loader); average loss.item() over that many batches
    raise NotImplementedError('NaN if the loader is empty; cap num_batches at len(data_loader); average loss.item() over that many batches')


def evaluate_model(model, train_loader, val_loader, device, eval_iter: int) -> tuple[float, float]:
    """(train loss, val loss), each over the first eval_iter batches, in eval mode without gradients.

    The model comes back in train mode, ready for the next training step.

    Example: evaluate_model(model, train_loader, val_loader, "cpu", eval_iter=5) -> (3.52, 4.87);
    dropout was off while measuring (model.training was False), and afterwards model.training is True.
    """
    # TODO: model.eval(); under torch.no_grad() the two calc_loss_loader(..., num_batches=eval_iter); model.train()
    raise NotImplementedError('model.eval(); under torch.no_grad() the two calc_loss_loader(..., num_batches=eval_iter); model.train()')


def perplexity(loss: float) -> float:
    """exp(loss): the number of equally likely tokens the model is as unsure as.

    Example: perplexity(0.0) -> 1.0;  perplexity(2.0) -> 7.389;  perplexity(math.log(4096)) -> 4096.0 (up to rounding)
    """
    # TODO: e to the power of the loss (in nats)
    raise NotImplementedError('e to the power of the loss (in nats)')


def bits_per_byte(loss: float, num_tokens: int, num_bytes: int) -> float:
    """Convert a loss in nats per token into bits per byte of UTF-8 text.

    loss * num_tokens is the text's total loss in nats; divide by num_bytes for nats per byte, and
    by ln 2 for bits. Unlike the loss, it does not depend on the tokenizer.

    Example: a loss of 3.0 nats per token on a text of 3,000 bytes that is 1,000 tokens long:
        bits_per_byte(3.0, 1000, 3000) -> 3.0 * 1000 / 3000 / ln(2) = 1.4427
    """
    # TODO: loss (nats/token) * tokens per byte / ln 2
    raise NotImplementedError('loss (nats/token) * tokens per byte / ln 2')
