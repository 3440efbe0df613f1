"""Stage 6 mutants: mistakes learners make when they fine-tune a GPT for classification, for
instructions, with LoRA, and when they load GPT-2's weights."""

from mutants import Mutant

MUTANTS = [
    # Classification (chapter 6)
    Mutant("loss_on_first_token", "classify.py", "logits = model(input_batch)[:, -1, :]  # (B, C): the last token's logits",
           "logits = model(input_batch)[:, 0, :]  # (B, C)", ("classifier_loss_uses_last_token", "classifier_loop_counts_examples")),
    # Batches left on the CPU: right on a CPU, and the first step on a GPU raises.
    Mutant("classifier_loss_batches_not_moved", "classify.py",
           "    input_batch, target_batch = input_batch.to(device), target_batch.to(device)\n"
           "    logits = model(input_batch)[:, -1, :]  # (B, C): the last token's logits\n",
           "    logits = model(input_batch)[:, -1, :]  # (B, C): the last token's logits\n",
           ("classifier_loss_uses_last_token",)),
    Mutant("accuracy_on_mean_logits", "classify.py", "logits = model(input_batch)[:, -1, :]  # (B, C)\n",
           "logits = model(input_batch).mean(dim=1)  # (B, C)\n", ("accuracy_on_last_token_over_num_batches",)),
    Mutant("accuracy_ignores_num_batches", "classify.py",
           "    model.eval()\n    correct_predictions, num_examples = 0, 0\n    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))",
           "    model.eval()\n    correct_predictions, num_examples = 0, 0\n    num_batches = len(data_loader)",
           ("accuracy_on_last_token_over_num_batches",)),
    Mutant("truncated_from_the_wrong_end", "classify.py", "[ids[: self.max_length] for ids in self.encoded_texts]",
           "[ids[-self.max_length :] for ids in self.encoded_texts]", ("spam_dataset_truncates_and_pads",)),
    Mutant("padded_on_the_left", "classify.py", "[ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]",
           "[[pad_token_id] * (self.max_length - len(ids)) + ids for ids in self.encoded_texts]", ("spam_dataset_truncates_and_pads",)),
    Mutant("head_frozen_after_replacing_it", "classify.py",
           "    for param in model.parameters():\n        param.requires_grad = False\n    emb_dim = model.out_head.in_features\n"
           "    model.out_head = nn.Linear(in_features=emb_dim, out_features=num_classes)\n",
           "    emb_dim = model.out_head.in_features\n    model.out_head = nn.Linear(in_features=emb_dim, out_features=num_classes)\n"
           "    for param in model.parameters():\n        param.requires_grad = False\n",
           ("prepare_classifier_trains_last_block_norm_and_head",)),
    Mutant("first_block_unfrozen", "classify.py", "model.trf_blocks[-1].parameters()", "model.trf_blocks[0].parameters()",
           ("prepare_classifier_trains_last_block_norm_and_head",)),
    Mutant("final_norm_left_frozen", "classify.py",
           "    for param in model.final_norm.parameters():\n        param.requires_grad = True\n", "",
           ("prepare_classifier_trains_last_block_norm_and_head",)),
    Mutant("examples_seen_counts_tokens", "classify.py", "examples_seen += input_batch.shape[0]", "examples_seen += input_batch.numel()",
           ("classifier_loop_counts_examples",)),
    # learn classify's model on a GPU meets ids made on the CPU: its embedding raises
    Mutant("classify_review_ids_not_moved", "classify.py",
           "    input_tensor = torch.tensor(input_ids, device=device).unsqueeze(0)  # (1, T)\n",
           "    input_tensor = torch.tensor(input_ids).unsqueeze(0)  # (1, T)\n",
           ("classify_review_pads_like_the_dataset",)),
    # the labels left on the CPU: comparing them with predictions on a GPU raises
    Mutant("accuracy_labels_not_moved", "classify.py",
           "        input_batch, target_batch = input_batch.to(device), target_batch.to(device)\n"
           "        with torch.no_grad():",
           "        input_batch = input_batch.to(device)\n        with torch.no_grad():",
           ("accuracy_on_last_token_over_num_batches",)),
    Mutant("review_not_padded", "classify.py", "    input_ids += [pad_token_id] * (max_length - len(input_ids))\n", "",
           ("classify_review_pads_like_the_dataset",)),
    # learn finetune calls evaluate_model itself; the book's loop sets train mode each epoch, which hides these
    Mutant("evaluate_leaves_eval_mode", "classify.py", "num_batches=eval_iter)\n    model.train()\n", "num_batches=eval_iter)\n",
           ("classifier_loop_counts_examples",)),
    Mutant("evaluate_in_train_mode", "classify.py", "    model.eval()\n    with torch.no_grad():\n        train_loss",
           "    with torch.no_grad():\n        train_loss", ("classifier_loop_counts_examples",)),
    # Instruction fine-tuning (chapter 7)
    Mutant("pads_all_ignored", "instruct.py", "targets[indices[1:]] = ignore_index", "targets[indices] = ignore_index",
           ("collate_pads_shifts_and_ignores", "collate_truncates_to_allowed_max_length")),
    Mutant("targets_not_shifted", "instruct.py", "targets = torch.tensor(padded[1:])", "targets = torch.tensor(padded[:-1])",
           ("collate_pads_shifts_and_ignores", "collate_truncates_to_allowed_max_length")),
    Mutant("pads_as_targets", "instruct.py", "targets[indices[1:]] = ignore_index  #", "pass  #",
           ("collate_pads_shifts_and_ignores", "collate_truncates_to_allowed_max_length")),
    Mutant("empty_input_section_kept", "instruct.py", 'if entry["input"] else ""', 'if True else ""',
           ("format_input_matches_the_book", "instruction_dataset_encodes_prompt_and_response")),
    # the print book's context length, pos_emb's width: a long text overruns the model
    Mutant("review_context_from_the_width", "classify.py", "model.pos_emb.weight.shape[0]", "model.pos_emb.weight.shape[1]",
           ("classify_review_pads_like_the_dataset",)),
    # the book's: min(None, context) raises TypeError
    Mutant("review_max_length_none_unhandled", "classify.py",
           "        max_length = min(len(input_ids), supported_context_length)\n", "        pass\n",
           ("classify_review_pads_like_the_dataset",)),
    # a new model returned, the one given left as it was: learn finetune would train the old head
    Mutant("prepare_returns_a_copy", "classify.py", "        param.requires_grad = True\n    return model\n",
           "        param.requires_grad = True\n    return __import__('copy').deepcopy(model)\n",
           ("prepare_classifier_trains_last_block_norm_and_head",)),
    # the mean of each batch's accuracy: a shorter last batch weighs its texts more
    Mutant("accuracy_averaged_over_batches", "classify.py",
           "        num_examples += predicted_labels.shape[0]\n        correct_predictions += (predicted_labels == target_batch).sum().item()\n",
           "        num_examples += 1\n        correct_predictions += (predicted_labels == target_batch).float().mean().item()\n",
           ("accuracy_on_last_token_over_num_batches",)),
    Mutant("no_prompt_lengths_kept", "instruct.py",
           "            self.prompt_lengths.append(len(tokenizer.encode(instruction_plus_input)))\n", "",
           ("prompt_mask_ignores_prompt_targets",)),
    Mutant("prompt_length_counts_the_response", "instruct.py", "len(tokenizer.encode(instruction_plus_input))",
           "len(tokenizer.encode(full_text))", ("prompt_mask_ignores_prompt_targets",)),
    Mutant("whole_prompt_masked", "instruct.py", "max(int(prompt_length) - 1, 0)", "int(prompt_length)",
           ("prompt_mask_ignores_prompt_targets",)),
    # LoRA (appendix E)
    Mutant("lora_B_random", "lora.py", "self.B = nn.Parameter(torch.zeros(rank, out_dim))", "self.B = nn.Parameter(torch.randn(rank, out_dim))",
           ("lora_fresh_layer_changes_nothing",)),
    Mutant("lora_A_zero", "lora.py", "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.zeros_(self.A)",
           ("lora_fresh_layer_changes_nothing",)),
    Mutant("lora_scale_forgotten", "lora.py", "return (self.alpha / self.rank) * (x @ self.A @ self.B)", "return x @ self.A @ self.B",
           ("lora_adds_scaled_low_rank_update", "replace_linear_with_lora_reaches_every_linear")),
    Mutant("lora_without_the_linear_layer", "lora.py", "return self.linear(x) + self.lora(x)", "return self.lora(x)",
           ("lora_fresh_layer_changes_nothing", "lora_adds_scaled_low_rank_update", "replace_linear_with_lora_reaches_every_linear")),
    # right values, no gradient: learn finetune --lora would train nothing, or miss the path through the update
    Mutant("lora_update_detached", "lora.py", "return (self.alpha / self.rank) * (x @ self.A @ self.B)",
           "return (self.alpha / self.rank) * (x @ self.A @ self.B).detach()", ("lora_adds_scaled_low_rank_update",)),
    Mutant("lora_input_detached", "lora.py", "return self.linear(x) + self.lora(x)", "return self.linear(x) + self.lora(x.detach())",
           ("lora_adds_scaled_low_rank_update",)),
    Mutant("lora_not_recursive", "lora.py", "            replace_linear_with_lora(module, rank, alpha)\n", "            pass\n",
           ("replace_linear_with_lora_reaches_every_linear", "lora_trainable_parameter_counts")),
    Mutant("lora_frozen_like_the_model", "lora.py", "self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)",
           "self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha).requires_grad_(False)",
           ("replace_linear_with_lora_reaches_every_linear", "lora_trainable_parameter_counts")),
    # GPT-2's weights (chapter 5)
    Mutant("conv1d_not_transposed", "weights.py", 'params[f"h.{b}.attn.c_proj.weight"].T', 'params[f"h.{b}.attn.c_proj.weight"]',
           ("gpt2_weights_give_reference_logits",)),
    Mutant("qkv_split_in_the_wrong_order", "weights.py", "q_w, k_w, v_w = torch.chunk(", "k_w, q_w, v_w = torch.chunk(",
           ("gpt2_weights_give_reference_logits",)),
    Mutant("query_not_transposed", "weights.py", "assign(block.att.W_query.weight, q_w.T)", "assign(block.att.W_query.weight, q_w)",
           ("gpt2_weights_give_reference_logits",)),
    Mutant("head_not_tied", "weights.py", '    gpt.out_head.weight = assign(gpt.out_head.weight, params["wte.weight"])  # tied to the embedding\n', "",
           ("gpt2_weights_give_reference_logits",)),
    Mutant("norms_swapped", "weights.py", 'assign(block.norm1.scale, params[f"h.{b}.ln_1.weight"])', 'assign(block.norm1.scale, params[f"h.{b}.ln_2.weight"])',
           ("gpt2_weights_give_reference_logits",)),
    Mutant("assign_without_shape_check", "weights.py", "if left.shape != right.shape:", "if False:",
           ("assign_refuses_a_shape_mismatch",)),
]
