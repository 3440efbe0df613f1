"""Stage 3 mutants: mistakes learners make when they write causal and multi-head attention."""

from mutants import Mutant

A = "attention.py"
# Whole lines of solutions/stage3_attention/attention.py (each occurs once there).
CA_MASK = "        attn_scores.masked_fill_(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)\n"
CA_SOFTMAX = "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)  # (B, T, T), rows sum to 1\n"
CA_VALUES = "        values = self.W_value(x)  # (B, T, d_out)\n\n        attn_scores = queries @ keys.transpose(1, 2)"
MHA_MASK = "        attn_scores.masked_fill_(mask_bool, -torch.inf)\n"
MHA_SOFTMAX = "        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)  # (B, num_heads, T, T), scaled by sqrt(head_dim)\n"
MHA_DROPOUT = "        attn_weights = self.dropout(attn_weights)  # (B, num_heads, T, T), only in train() mode\n"
MHA_OUT_PROJ = "        context_vec = self.out_proj(context_vec)  # (B, T, d_out)\n"
MHA_BUFFER = (
    "        self.out_proj = nn.Linear(d_out, d_out)  # combines the heads' outputs\n"
    "        self.dropout = nn.Dropout(dropout)\n"
    '        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))\n'
)
MHA_QKV = (
    "        self.head_dim = d_out // num_heads  # each head's share of d_out\n"
    "        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
    "        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
    "        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
)
MHA_MERGE = (
    "        context_vec = (attn_weights @ values).transpose(1, 2)  # (B, num_heads, T, head_dim) -> (B, T, num_heads, head_dim)\n"
    "        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)  # (B, T, d_out): heads side by side\n"
)

MUTANTS = [
    Mutant("no_causal_mask", A, MHA_MASK, "",
           ("future_tokens_never_change_the_past", "weights_above_diagonal_are_zero", "multihead_matches_reference")),
    Mutant("causal_attention_without_mask", A, CA_MASK, "",
           ("future_tokens_never_change_the_past", "weights_above_diagonal_are_zero", "causal_attention_matches_reference")),
    Mutant("mask_on_the_wrong_side", A, MHA_BUFFER, MHA_BUFFER.replace("torch.triu(", "torch.tril(").replace("diagonal=1)", "diagonal=-1)"),
           ("future_tokens_never_change_the_past", "weights_above_diagonal_are_zero",
            "multihead_matches_reference", "state_dict_matches_the_book")),
    Mutant("mask_filled_with_zero", A, MHA_MASK, MHA_MASK.replace("-torch.inf", "0.0"),
           ("future_tokens_never_change_the_past", "weights_above_diagonal_are_zero",
            "attention_weights_match_reference", "multihead_matches_reference")),
    Mutant("mask_applied_after_softmax", A, CA_MASK + CA_SOFTMAX,
           CA_SOFTMAX + "        attn_weights = attn_weights.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], 0.0)\n",
           ("weights_above_diagonal_are_zero", "attention_weights_match_reference", "causal_attention_matches_reference")),
    Mutant("mask_not_cut_to_num_tokens", A,
           "mask_bool = self.mask.bool()[:num_tokens, :num_tokens]", "mask_bool = self.mask.bool()",
           ("multihead_output_shape", "multihead_matches_reference")),
    Mutant("mask_not_a_buffer", A, MHA_BUFFER, MHA_BUFFER.replace('self.register_buffer("mask", ', "self.mask = ("),
           ("state_dict_matches_the_book",)),
    Mutant("no_sqrt_scaling", A, MHA_SOFTMAX, MHA_SOFTMAX.replace(" / keys.shape[-1] ** 0.5", ""),
           ("attention_weights_match_reference", "multihead_matches_reference")),
    Mutant("scaled_by_head_dim_not_its_root", A, MHA_SOFTMAX, MHA_SOFTMAX.replace("keys.shape[-1] ** 0.5", "keys.shape[-1]"),
           ("attention_weights_match_reference", "multihead_matches_reference")),
    Mutant("scaled_by_d_out_not_head_dim", A, MHA_SOFTMAX, MHA_SOFTMAX.replace("keys.shape[-1] ** 0.5", "self.d_out ** 0.5"),
           ("attention_weights_match_reference", "multihead_matches_reference")),
    Mutant("softmax_over_queries", A, MHA_SOFTMAX, MHA_SOFTMAX.replace("dim=-1", "dim=-2"),
           ("weights_above_diagonal_are_zero", "attention_weights_match_reference", "multihead_matches_reference")),
    Mutant("heads_split_without_transpose", A,
           "queries = queries.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)",
           "queries = queries.view(b, self.num_heads, num_tokens, self.head_dim)",
           ("multihead_matches_reference",)),
    Mutant("heads_merged_without_transpose", A, MHA_MERGE, MHA_MERGE.replace("(attn_weights @ values).transpose(1, 2)", "attn_weights @ values"),
           ("multihead_matches_reference",)),
    Mutant("out_proj_never_applied", A, MHA_OUT_PROJ, "",
           ("multihead_matches_reference", "dropout_on_weights_in_train_only")),
    Mutant("no_divisibility_check", A,
           '        assert d_out % num_heads == 0, f"d_out must be divisible by num_heads (got d_out={d_out}, num_heads={num_heads})"\n',
           "",
           ("rejects_indivisible_heads",)),
    Mutant("dropout_also_in_eval", A, MHA_DROPOUT,
           "        attn_weights = torch.nn.functional.dropout(attn_weights, self.dropout.p, training=True)\n",
           ("dropout_on_weights_in_train_only",)),
    Mutant("dropout_on_the_output", A, MHA_DROPOUT + "\n" + MHA_MERGE + MHA_OUT_PROJ,
           "\n" + MHA_MERGE + MHA_OUT_PROJ.replace("self.out_proj(context_vec)", "self.dropout(self.out_proj(context_vec))"),
           ("dropout_on_weights_in_train_only",)),
    Mutant("dropout_on_the_scores", A, MHA_SOFTMAX + MHA_DROPOUT,
           "        attn_scores = self.dropout(attn_scores)\n" + MHA_SOFTMAX,
           ("dropout_on_weights_in_train_only",)),
    Mutant("returns_the_weights_not_the_context", A,
           "        context_vec = attn_weights @ values  # (B, T, T) @ (B, T, d_out) -> (B, T, d_out)\n        return context_vec",
           "        context_vec = attn_weights @ values  # (B, T, T) @ (B, T, d_out) -> (B, T, d_out)\n        return attn_weights",
           ("causal_attention_output_shape", "causal_attention_matches_reference")),
    Mutant("qkv_bias_ignored", A, MHA_QKV, MHA_QKV.replace("bias=qkv_bias", "bias=False"),
           ("qkv_bias_honoured", "state_dict_matches_the_book")),
    # Dropout on the values drops key j's value for every query at once; dropout on the merged
    # context vectors drops each (query, slot) on its own. Each entry of the one-hot layout is then
    # still 0 or 2 * weight, so only the layout's constant slot and the drop pattern tell them apart.
    Mutant("dropout_on_the_values", A, MHA_DROPOUT + "\n" + MHA_MERGE,
           "\n" + MHA_MERGE.replace("(attn_weights @ values)", "(attn_weights @ self.dropout(values))"),
           ("dropout_on_weights_in_train_only",)),
    Mutant("dropout_on_the_context", A, MHA_DROPOUT + "\n" + MHA_MERGE,
           "\n" + MHA_MERGE + "        context_vec = self.dropout(context_vec)\n",
           ("dropout_on_weights_in_train_only",)),
    # out_proj copies the qkv line's bias=qkv_bias: with qkv_bias=False it has no bias at all.
    Mutant("out_proj_bias_follows_qkv_bias", A,
           "        self.out_proj = nn.Linear(d_out, d_out)  # combines the heads' outputs\n",
           "        self.out_proj = nn.Linear(d_out, d_out, bias=qkv_bias)  # combines the heads' outputs\n",
           ("multihead_matches_reference", "state_dict_matches_the_book", "qkv_bias_honoured", "dropout_on_weights_in_train_only")),
    # float32's lowest as the mask's fill: it fits float32 scores but overflows bfloat16 ones, and learn pretrain runs
    # the model in bf16 autocast ("value cannot be converted to type c10::BFloat16 without overflow")
    Mutant("mask_filled_with_float32_min", A, MHA_MASK, MHA_MASK.replace("-torch.inf", "torch.finfo(torch.float32).min"),
           ("multihead_output_shape",)),
    # A copy-paste slip: the values come from W_key.
    Mutant("values_from_W_key", A, CA_VALUES, CA_VALUES.replace("self.W_value(x)", "self.W_key(x)"),
           ("causal_attention_matches_reference", "attention_weights_match_reference")),
]  # fmt: skip
