"""Plausible learner mistakes in stage 2 and the checks that must catch them."""

from mutants import Mutant

D, E = "dataset.py", "embedding.py"

MUTANTS = [
    Mutant(
        "targets_not_shifted", D,
        "target_chunk = token_ids[i + 1 : i + max_length + 1]",
        "target_chunk = token_ids[i : i + max_length]",
        caught_by=("targets_are_inputs_shifted_by_one", "loader_keeps_window_order_without_shuffle"),
    ),
    Mutant(
        "targets_are_inputs_plus_one", D,
        "self.target_ids.append(torch.tensor(target_chunk))",
        "self.target_ids.append(torch.tensor(input_chunk) + 1)",
        caught_by=("targets_are_inputs_shifted_by_one",),
    ),
    Mutant(
        "stride_ignored_step_one", D,
        "range(0, len(token_ids) - max_length, stride)",
        "range(0, len(token_ids) - max_length)",
        caught_by=("windows_follow_max_length_and_stride", "loader_keeps_window_order_without_shuffle"),
    ),
    Mutant(
        "stride_is_max_length", D,
        "range(0, len(token_ids) - max_length, stride)",
        "range(0, len(token_ids) - max_length, max_length)",
        caught_by=("windows_follow_max_length_and_stride", "loader_keeps_window_order_without_shuffle"),
    ),
    Mutant(
        "one_window_too_many", D,
        "range(0, len(token_ids) - max_length, stride)",
        "range(0, len(token_ids) - max_length + 1, stride)",
        caught_by=("windows_follow_max_length_and_stride", "targets_are_inputs_shifted_by_one"),
    ),
    Mutant(
        "one_window_too_few", D,
        "range(0, len(token_ids) - max_length, stride)",
        "range(0, len(token_ids) - max_length - 1, stride)",
        caught_by=("windows_follow_max_length_and_stride", "too_short_text_raises_value_error"),
    ),
    Mutant(
        "too_short_gives_empty_dataset", D,
        "        if len(token_ids) <= max_length:\n            raise ValueError(",
        "        if False:\n            raise ValueError(",
        caught_by=("too_short_text_raises_value_error",),
    ),
    Mutant(
        "float_token_ids", D,
        "self.input_ids.append(torch.tensor(input_chunk))",
        "self.input_ids.append(torch.tensor(input_chunk, dtype=torch.float32))",
        caught_by=("dataset_items_are_token_id_tensors", "loader_batches_have_shape_batch_by_max_length"),
    ),
    Mutant(
        "endoftext_not_allowed", D,
        'tokenizer.encode(txt, allowed_special={"<|endoftext|>"})',
        "tokenizer.encode(txt)",
        caught_by=("endoftext_stays_one_token",),
    ),
    Mutant(
        "getitem_returns_inputs_twice", D,
        "return self.input_ids[idx], self.target_ids[idx]",
        "return self.input_ids[idx], self.input_ids[idx]",
        caught_by=("targets_are_inputs_shifted_by_one", "dataset_items_are_token_id_tensors"),
    ),
    Mutant(
        "loader_stride_ignored", D,
        "dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)",
        "dataset = GPTDatasetV1(txt, tokenizer, max_length, max_length)",
        caught_by=("loader_keeps_window_order_without_shuffle",),
    ),
    Mutant(
        "batch_size_fixed", D,
        "batch_size=batch_size,",
        "batch_size=4,",
        caught_by=("loader_batches_have_shape_batch_by_max_length", "drop_last_drops_the_short_batch"),
    ),
    Mutant(
        "drop_last_forgotten", D,
        "        drop_last=drop_last,\n",
        "",
        caught_by=("loader_batches_have_shape_batch_by_max_length", "drop_last_drops_the_short_batch"),
    ),
    Mutant(
        "shuffle_ignored", D,
        "shuffle=shuffle,",
        "shuffle=False,",
        caught_by=("shuffle_permutes_the_same_windows",),
    ),
    Mutant(
        "shuffle_always", D,
        "shuffle=shuffle,",
        "shuffle=True,",
        caught_by=("loader_keeps_window_order_without_shuffle",),
    ),
    Mutant(
        "int32_target_ids", D,
        "self.target_ids.append(torch.tensor(target_chunk))",
        "self.target_ids.append(torch.tensor(target_chunk, dtype=torch.int32))",
        caught_by=("dataset_items_are_token_id_tensors", "loader_batches_have_shape_batch_by_max_length"),
    ),
    Mutant(
        "loader_swaps_max_length_and_stride", D,
        "dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)",
        "dataset = GPTDatasetV1(txt, tokenizer, stride, max_length)",
        caught_by=("loader_keeps_window_order_without_shuffle", "loader_batches_have_shape_batch_by_max_length"),
    ),
    Mutant(
        "shuffle_with_a_fixed_generator", D,
        "shuffle=shuffle,",
        "shuffle=shuffle,\n        generator=torch.Generator().manual_seed(123),",
        caught_by=("shuffle_permutes_the_same_windows",),
    ),
    Mutant(
        "position_embedding_ignored", E,
        "return tok_embeds + pos_embeds",
        "return tok_embeds",
        caught_by=("embedding_adds_token_and_position_vectors",),
    ),
    Mutant(
        "positions_start_at_one", E,
        "torch.arange(seq_len, device=in_idx.device)",
        "torch.arange(1, seq_len + 1, device=in_idx.device)",
        caught_by=("embedding_adds_token_and_position_vectors", "embedding_shape_is_batch_by_tokens_by_dim"),
    ),
    Mutant(
        "positions_are_token_ids", E,
        "self.pos_emb(torch.arange(seq_len, device=in_idx.device))",
        "self.pos_emb(in_idx % self.pos_emb.num_embeddings)",
        caught_by=("embedding_adds_token_and_position_vectors",),
    ),
    Mutant(
        "positions_span_whole_context", E,
        "seq_len = in_idx.shape[1]",
        "seq_len = self.pos_emb.num_embeddings",
        caught_by=("embedding_shape_is_batch_by_tokens_by_dim", "embedding_adds_token_and_position_vectors"),
    ),
    Mutant(
        "seq_len_from_batch_dim", E,
        "seq_len = in_idx.shape[1]",
        "seq_len = in_idx.shape[0]",
        caught_by=("embedding_shape_is_batch_by_tokens_by_dim", "embedding_adds_token_and_position_vectors"),
    ),
    Mutant(
        "pos_table_sized_by_vocab", E,
        "self.pos_emb = nn.Embedding(context_length, output_dim)",
        "self.pos_emb = nn.Embedding(vocab_size, output_dim)",
        caught_by=("embedding_shape_is_batch_by_tokens_by_dim", "embedding_adds_token_and_position_vectors"),
    ),
    Mutant(
        "token_vectors_scaled_by_sqrt_dim", E,
        "return tok_embeds + pos_embeds",
        "return tok_embeds * tok_embeds.shape[-1] ** 0.5 + pos_embeds",
        caught_by=("embedding_adds_token_and_position_vectors",),
    ),
    Mutant(
        "one_table_for_both", E,
        "self.pos_emb(torch.arange(seq_len, device=in_idx.device))",
        "self.tok_emb(torch.arange(seq_len, device=in_idx.device))",
        caught_by=("embedding_adds_token_and_position_vectors",),
    ),
]
