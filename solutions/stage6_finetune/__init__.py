"""Stage 6: fine-tuning, for classification and for instructions, LoRA, GPT-2's weights (lessons/stage6_finetune.md).

One module per part, so that the book's two `calc_loss_batch` functions never meet:
classify.calc_loss_batch (chapter 6: last token) and instruct.calc_loss_batch (chapter 7: every token).
"""

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
