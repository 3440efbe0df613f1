"""Stage 4 mutants: mistakes learners make when they build the GPT model and generate text."""

from mutants import Mutant

_PRE_NORM = '''        shortcut = x  # the shortcut around attention
        x = self.norm1(x)
        x = self.att(x)  # (B, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut  # add the block's input back

        shortcut = x  # the shortcut around the feed-forward
        x = self.norm2(x)
        x = self.ff(x)  # (B, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut
'''
# The original transformer's order: sublayer, add, then normalize (outside the shortcut).
_POST_NORM = '''        x = self.norm1(x + self.drop_shortcut(self.att(x)))
        x = self.norm2(x + self.drop_shortcut(self.ff(x)))
'''

_EOS = """\
        if eos_id is not None:
            ended |= idx_next == eos_id  # (B, 1)
            if bool(ended.all()):
                break  # every row has ended: eos_id is not appended
            idx_next = torch.where(ended, torch.full_like(idx_next, eos_id), idx_next)  # (B, 1): ended rows hold eos_id
"""

MUTANTS = [
    # learn pretrain moves the model to cuda or mps: positions made on the CPU break there (the check uses meta)
    Mutant("positions_on_the_cpu", "model.py", "torch.arange(seq_len, device=in_idx.device)", "torch.arange(seq_len)",
           ("logits_shape",)),
    # model.py: LayerNorm and GELU
    Mutant("unbiased_variance", "model.py", "unbiased=False", "unbiased=True",
           ("layer_norm_matches_torch", "stored_weights_give_reference_logits")),
    Mutant("eps_outside_sqrt", "model.py", "torch.sqrt(var + self.eps)", "(torch.sqrt(var) + self.eps)",
           ("layer_norm_matches_torch",)),
    Mutant("layer_norm_over_tokens", "model.py",
           "mean = x.mean(dim=-1, keepdim=True)", "mean = x.mean(dim=1, keepdim=True)",
           ("layer_norm_matches_torch", "model_is_causal")),
    Mutant("exact_erf_gelu", "model.py",
           "return 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))))",
           "return 0.5 * x * (1 + torch.erf(x / 2**0.5))",
           ("gelu_matches_tanh_approximation",)),
    # model.py: FeedForward and TransformerBlock
    Mutant("relu_instead_of_gelu", "model.py", "            GELU(),\n", "            nn.ReLU(),\n",
           ("feed_forward_expands_4x", "stored_weights_give_reference_logits")),
    Mutant("post_norm_block", "model.py", _PRE_NORM, _POST_NORM,
           ("transformer_block_pre_norm_residual", "stored_weights_give_reference_logits")),
    Mutant("missing_attention_shortcut", "model.py", "        x = x + shortcut  # add the block's input back\n", "",
           ("transformer_block_pre_norm_residual", "stored_weights_give_reference_logits")),
    Mutant("qkv_bias_ignored", "model.py", '            qkv_bias=cfg["qkv_bias"],\n', "",
           ("stored_weights_give_reference_logits", "transformer_block_pre_norm_residual", "parameter_count_124m")),
    # One LayerNorm object for both sublayers: the block then has no norm2 parameters of its own
    # (the old check, which recombined the learner's own submodules, could not see it).
    Mutant("one_layer_norm_shared", "model.py", '        self.norm2 = LayerNorm(cfg["emb_dim"])\n', "        self.norm2 = self.norm1\n",
           ("transformer_block_pre_norm_residual", "stored_weights_give_reference_logits", "parameter_count_124m")),
    # The second shortcut adds the block's input instead of the attention's output.
    Mutant("stale_shortcut", "model.py", "        shortcut = x  # the shortcut around the feed-forward\n", "",
           ("transformer_block_pre_norm_residual", "stored_weights_give_reference_logits")),
    # GPT-2 small's 3,072 copied from the book: right for emb_dim 768 only (the 124M count passes).
    Mutant("hidden_width_hard_coded", "model.py",
           '            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),\n            GELU(),\n            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),\n',
           '            nn.Linear(cfg["emb_dim"], 3072),\n            GELU(),\n            nn.Linear(3072, cfg["emb_dim"]),\n',
           ("parameter_count_124m", "feed_forward_expands_4x", "stored_weights_give_reference_logits")),
    # model.py: GPTModel
    Mutant("position_embedding_ignored", "model.py", "x = tok_embeds + pos_embeds  #", "x = tok_embeds  #",
           ("stored_weights_give_reference_logits", "greedy_matches_reference")),
    Mutant("positions_for_the_whole_context", "model.py",
           "torch.arange(seq_len, device=in_idx.device)", "torch.arange(self.pos_emb.num_embeddings, device=in_idx.device)",
           ("logits_shape", "stored_weights_give_reference_logits", "greedy_matches_reference")),
    Mutant("no_final_norm", "model.py", "        x = self.final_norm(x)\n", "",
           ("stored_weights_give_reference_logits", "greedy_matches_reference")),
    Mutant("softmax_inside_the_model", "model.py", "        return logits\n", "        return torch.softmax(logits, dim=-1)\n",
           ("stored_weights_give_reference_logits",)),
    Mutant("out_head_with_bias", "model.py",
           'nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)', 'nn.Linear(cfg["emb_dim"], cfg["vocab_size"])',
           ("parameter_count_124m", "stored_weights_give_reference_logits")),
    Mutant("one_block_repeated", "model.py",
           'nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])',
           'nn.Sequential(*[TransformerBlock(cfg)] * cfg["n_layers"])',
           ("parameter_count_124m", "stored_weights_give_reference_logits")),
    Mutant("dropout_not_disabled_in_eval", "model.py",
           "x = self.drop_emb(x)", "x = torch.nn.functional.dropout(x, p=self.drop_emb.p)",
           ("dropout_only_in_training",)),
    # The book's drop_rate 0.1 written in: a model configured with drop_rate 0.0 still drops in train mode.
    Mutant("drop_rate_hard_coded", "model.py", 'self.drop_emb = nn.Dropout(cfg["drop_rate"])', "self.drop_emb = nn.Dropout(0.1)",
           ("dropout_only_in_training",)),
    # generation.py: greedy decoding
    Mutant("logits_from_the_first_position", "generation.py",
           "logits = logits[:, -1, :]  # (B, vocab_size): only the last position", "logits = logits[:, 0, :]  # (B, vocab_size): only the last position",
           ("greedy_matches_reference",)),
    Mutant("no_crop_in_generate_text_simple", "generation.py",
           "idx_cond = idx[:, -context_size:]  # (B, min(T, context_size)): the model's window", "idx_cond = idx",
           ("greedy_matches_reference", "crops_to_context_size")),
    Mutant("crop_keeps_the_first_tokens", "generation.py",
           "idx_cond = idx[:, -context_size:]  # (B, min(T, context_size)): the model's window", "idx_cond = idx[:, :context_size]",
           ("greedy_matches_reference", "crops_to_context_size")),
    Mutant("no_crop_in_generate", "generation.py",
           "idx_cond = idx[:, -context_size:]  # (B, min(T, context_size)): crop to the context window", "idx_cond = idx",
           ("crops_to_context_size",)),
    # generation.py: top-k, temperature, eos
    Mutant("top_k_keeps_one_too_many", "generation.py", "torch.topk(logits, top_k)", "torch.topk(logits, top_k + 1)",
           ("top_k_keeps_k_most_likely",)),
    Mutant("top_k_drops_the_kth", "generation.py", "logits < min_val", "logits <= min_val",
           ("top_k_keeps_k_most_likely",)),
    # The book's top-k: top_logits[:, -1] is (B,), which broadcasts against (B, vocab) only for a batch of one
    Mutant("top_k_min_val_for_a_batch_of_one", "generation.py", "min_val = top_logits[:, -1:]", "min_val = top_logits[:, -1]",
           ("top_k_keeps_k_most_likely",)),
    # learn pretrain samples on cuda or mps: a (B, vocab) -inf tensor made on the CPU meets the logits there
    Mutant("top_k_fill_on_the_cpu", "generation.py", 'torch.full_like(logits, float("-inf"))',
           'torch.full(logits.shape, float("-inf"))', ("top_k_keeps_k_most_likely",)),
    Mutant("top_k_masks_with_zero", "generation.py", 'torch.full_like(logits, float("-inf"))', "torch.zeros_like(logits)",
           ("top_k_keeps_k_most_likely",)),
    Mutant("temperature_after_softmax", "generation.py",
           "            logits = logits / temperature\n            probs = torch.softmax(logits, dim=-1)",
           "            probs = torch.softmax(logits, dim=-1) / temperature",
           ("temperature_scales_logits",)),
    Mutant("temperature_multiplies", "generation.py", "logits = logits / temperature", "logits = logits * temperature",
           ("temperature_scales_logits",)),
    Mutant("sampling_takes_the_argmax", "generation.py",
           "idx_next = torch.multinomial(probs, num_samples=1)", "idx_next = torch.argmax(probs, dim=-1, keepdim=True)",
           ("same_seed_same_sample", "temperature_scales_logits", "top_k_keeps_k_most_likely")),
    Mutant("reseeds_every_step", "generation.py",
           "        if temperature > 0.0:\n", "        if temperature > 0.0:\n            torch.manual_seed(0)\n",
           ("same_seed_same_sample", "temperature_scales_logits")),
    Mutant("temperature_zero_samples", "generation.py", "if temperature > 0.0:", "if temperature >= 0.0:",
           ("temperature_zero_is_greedy",)),
    Mutant("out_head_tied_to_tok_emb", "model.py",
           '        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)\n',
           '        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)\n'
           "        self.out_head.weight = self.tok_emb.weight  # weight tying, as GPT-2 did\n",
           ("loss_at_init_near_ln_vocab", "parameter_count_124m")),
    Mutant("eos_ignored", "generation.py", _EOS, "", ("eos_stops_generation",)),
    # the book's batch-of-one stop: "Boolean value of Tensor with more than one value is ambiguous" on a batch
    Mutant("eos_for_a_batch_of_one", "generation.py", _EOS, "        if idx_next == eos_id:\n            break\n",
           ("eos_stops_generation",)),
    Mutant("eos_ends_every_row_at_once", "generation.py", "if bool(ended.all()):", "if bool(ended.any()):",
           ("eos_stops_generation",)),
    # the rows' flags made on the CPU: `ended |= idx_next == eos_id` mixes devices on a GPU
    Mutant("ended_flags_on_the_cpu", "generation.py", "dtype=torch.bool, device=idx.device)", "dtype=torch.bool)",
           ("eos_stops_generation",)),
    Mutant("ended_rows_go_on", "generation.py",
           "            idx_next = torch.where(ended, torch.full_like(idx_next, eos_id), idx_next)", "",
           ("eos_stops_generation",)),
]  # fmt: skip
