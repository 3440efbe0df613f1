"""Stage 5: pretraining (lessons/stage5_pretrain.md)."""

from .checkpoint import epoch_batches, get_rng_state, load_checkpoint, save_checkpoint, set_rng_state
from .loss import (
    bits_per_byte,
    calc_loss_batch,
    calc_loss_loader,
    evaluate_model,
    perplexity,
    text_to_token_ids,
    token_ids_to_text,
)
from .step import autocast_context, train_step
from .train import generate_and_print_sample, train_model, train_model_simple, warmup_cosine_lr

__all__ = [
    "autocast_context",
    "bits_per_byte",
    "calc_loss_batch",
    "calc_loss_loader",
    "epoch_batches",
    "evaluate_model",
    "generate_and_print_sample",
    "get_rng_state",
    "load_checkpoint",
    "perplexity",
    "save_checkpoint",
    "set_rng_state",
    "text_to_token_ids",
    "token_ids_to_text",
    "train_model",
    "train_model_simple",
    "train_step",
    "warmup_cosine_lr",
]
