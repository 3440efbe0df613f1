"""A second way to write stage 6: tensors built whole instead of lists padded item by item, the
loss by log-softmax and gather, LoRA scaled by alpha as the print book does (with a Gaussian A),
GPT-2's weights copied in place through a table of names. It must pass every check."""

from .classify import (
    SpamDataset,
    calc_accuracy_loader,
    classify_review,
    prepare_classifier,
    train_classifier_simple,
)
from .instruct import InstructionDataset, custom_collate_fn, format_input, mask_prompt_targets
from .lora import LinearWithLoRA, LoRALayer, replace_linear_with_lora
from .weights import assign, load_weights_into_gpt

__all__ = [
    "InstructionDataset",
    "LinearWithLoRA",
    "LoRALayer",
    "SpamDataset",
    "assign",
    "calc_accuracy_loader",
    "classify_review",
    "custom_collate_fn",
    "format_input",
    "load_weights_into_gpt",
    "mask_prompt_targets",
    "prepare_classifier",
    "replace_linear_with_lora",
    "train_classifier_simple",
]
