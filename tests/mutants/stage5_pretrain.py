"""Stage 5 mutants: mistakes learners make when they write the loss, the training loops, one good
training step and checkpoints."""

from mutants import Mutant

_CLIP_AFTER_BACKWARD = """            loss.backward()
            if global_step >= warmup_steps:  # after warm-up: the gradients exist only now
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
"""
# Clipping first clips the gradients zero_grad left (None: nothing), then backward makes new ones.
_CLIP_BEFORE_BACKWARD = """            if global_step >= warmup_steps:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            loss.backward()
"""

MUTANTS = [
    # loss.py
    # The list of ids as a tensor of shape (T,): no batch dimension for the model.
    Mutant("token_ids_without_batch_dimension", "loss.py", "    return torch.tensor(encoded).unsqueeze(0)  # (T,) -> (1, T)\n",
           "    return torch.tensor(encoded)\n", ("text_token_ids_round_trip",)),
    # tiktoken refuses a text that holds <|endoftext|> unless it is allowed.
    Mutant("encode_without_allowed_special", "loss.py", '    encoded = tokenizer.encode(text, allowed_special={"<|endoftext|>"})\n',
           "    encoded = tokenizer.encode(text)\n", ("text_token_ids_round_trip",)),
    # decode gets [[ids]], a list holding one list.
    Mutant("token_ids_not_squeezed", "loss.py", "    flat = token_ids.squeeze(0)  # (1, T) -> (T,)\n", "    flat = token_ids\n",
           ("text_token_ids_round_trip",)),
    # The loss of the last position only, as a classifier would (the other T - 1 targets ignored).
    Mutant("loss_of_last_position_only", "loss.py",
           "        logits.flatten(0, 1),  # (B, T, V) -> (B * T, V): one row of scores per position\n"
           "        target_batch.flatten(),  # (B, T) -> (B * T,): the right token for each row\n",
           "        logits[:, -1, :],\n        target_batch[:, -1],\n",
           ("loss_matches_cross_entropy", "loader_loss_mean_cap_and_empty")),
    # Batches left on the CPU: right on a CPU, and the first GPU step of learn pretrain raises.
    Mutant("loss_batches_not_moved", "loss.py",
           "    input_batch, target_batch = input_batch.to(device), target_batch.to(device)\n", "",
           ("loss_matches_cross_entropy",)),
    # .numpy() works on CPU tensors only: learn pretrain decodes generate's ids on the GPU
    Mutant("token_ids_to_text_via_numpy", "loss.py", "    return tokenizer.decode(flat.tolist())\n",
           "    return tokenizer.decode(flat.numpy())\n", ("text_token_ids_round_trip",)),
    # the same for the loss: learn pretrain evaluates on the GPU
    Mutant("loader_loss_via_numpy", "loss.py",
           "        total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()\n",
           "        total_loss += float(calc_loss_batch(input_batch, target_batch, model, device).detach().numpy())\n",
           ("evaluate_restores_train_mode",)),
    Mutant("loader_divides_by_all_batches", "loss.py", "    return total_loss / num_batches\n",
           "    return total_loss / len(data_loader)\n", ("loader_loss_mean_cap_and_empty",)),
    Mutant("num_batches_not_capped", "loss.py", "        num_batches = min(num_batches, len(data_loader))\n",
           "        pass\n", ("loader_loss_mean_cap_and_empty",)),
    Mutant("empty_loader_divides_by_zero", "loss.py", '    if len(data_loader) == 0:\n        return float("nan")\n', "",
           ("loader_loss_mean_cap_and_empty",)),
    Mutant("eval_mode_never_left", "loss.py", "    model.train()\n    return train_loss, val_loss\n",
           "    return train_loss, val_loss\n", ("evaluate_restores_train_mode",)),
    # Perplexity as 2 to the loss: the loss is in nats, not bits.
    Mutant("perplexity_as_exp2", "loss.py", "    return math.exp(loss)\n", "    return 2**loss\n", ("perplexity_and_bits_per_byte",)),
    Mutant("bits_per_byte_in_nats", "loss.py", "    return loss * num_tokens / num_bytes / math.log(2)\n",
           "    return loss * num_tokens / num_bytes\n", ("perplexity_and_bits_per_byte",)),
    Mutant("bits_per_byte_tokens_and_bytes_swapped", "loss.py", "    return loss * num_tokens / num_bytes / math.log(2)\n",
           "    return loss * num_bytes / num_tokens / math.log(2)\n", ("perplexity_and_bits_per_byte",)),
    # train.py
    Mutant("tokens_seen_counts_batches", "train.py",
           "            tokens_seen += input_batch.numel()\n            global_step += 1\n",
           "            tokens_seen += 1\n            global_step += 1\n", ("simple_loop_cadence_and_tokens_seen",)),
    # Evaluating after steps 1, 1 + eval_freq, ...: the step counter starts at 0, not -1.
    Mutant("step_counter_from_zero", "train.py",
           "            tokens_seen += input_batch.numel()\n            global_step += 1\n\n            if global_step % eval_freq == 0:",
           "            global_step += 1\n            tokens_seen += input_batch.numel()\n\n            if (global_step + 1) % eval_freq == 0:",
           ("simple_loop_cadence_and_tokens_seen",)),
    # Counting warm-up steps from 1: step 0 already one increment above initial_lr.
    Mutant("warmup_off_by_one", "train.py", "        return initial_lr + step * lr_increment\n",
           "        return initial_lr + (step + 1) * lr_increment\n", ("lr_schedule_matches_formula",)),
    Mutant("cosine_to_zero", "train.py",
           "    return min_lr + (peak_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))\n",
           "    return peak_lr * 0.5 * (1 + math.cos(math.pi * progress))\n", ("lr_schedule_matches_formula",)),
    Mutant("lr_schedule_one_step_ahead", "train.py", "lr = warmup_cosine_lr(global_step, peak_lr", "lr = warmup_cosine_lr(global_step + 1, peak_lr",
           ("lr_schedule_matches_formula",)),
    # The book's loop sets every param group; the first one only leaves the others at the peak rate.
    Mutant("lr_set_in_first_param_group_only", "train.py",
           '            for param_group in optimizer.param_groups:\n                param_group["lr"] = lr\n',
           '            optimizer.param_groups[0]["lr"] = lr\n', ("lr_schedule_matches_formula", "clipping_after_warmup_recomputed")),
    Mutant("clipping_before_backward", "train.py", _CLIP_AFTER_BACKWARD, _CLIP_BEFORE_BACKWARD,
           ("clipping_after_warmup_recomputed",)),
    # The printed book's `>`: the step at the peak rate goes unclipped.
    Mutant("clipping_one_step_late", "train.py", "if global_step >= warmup_steps:", "if global_step > warmup_steps:",
           ("clipping_after_warmup_recomputed",)),
    # step.py
    Mutant("accumulation_without_dividing", "step.py",
           "            loss = calc_loss_batch(input_batch, target_batch, model, device) / k\n",
           "            loss = calc_loss_batch(input_batch, target_batch, model, device)\n",
           ("accumulation_matches_big_batch",)),
    Mutant("autocast_never_entered", "step.py",
           "        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)\n",
           "        return contextlib.nullcontext()\n", ("autocast_bf16_keeps_fp32_weights",)),
    # torch.autocast("cpu") on a GPU casts nothing there: the run trains in float32, slower, with more memory
    Mutant("autocast_context_cpu_only", "step.py",
           "        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)\n",
           '        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)\n',
           ("autocast_bf16_keeps_fp32_weights",)),
    # train_step's own loss, batches left on the CPU: right on a CPU, and learn pretrain's first GPU step raises
    Mutant("train_step_batches_not_moved", "step.py",
           "            loss = calc_loss_batch(input_batch, target_batch, model, device) / k\n",
           "            logits = model(input_batch)  # (B, T, V)\n"
           "            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten()) / k\n",
           ("accumulation_matches_big_batch", "autocast_bf16_keeps_fp32_weights")),
    Mutant("no_optimizer_step", "step.py", "    optimizer.step()\n    return total\n", "    return total\n",
           ("tiny_model_overfits", "accumulation_matches_big_batch")),
    # checkpoint.py
    Mutant("rng_state_not_restored", "checkpoint.py", '    set_rng_state(checkpoint["rng"])\n', "",
           ("resume_is_bit_exact",)),
    # The weights come back, the optimizer's momentum does not: the first steps after resuming differ.
    Mutant("optimizer_state_not_loaded", "checkpoint.py", '    optimizer.load_state_dict(checkpoint["optimizer"])\n', "",
           ("resume_is_bit_exact",)),
    # DataLoader(shuffle=True)'s way: the order depends on everything random drawn before.
    Mutant("epoch_order_from_global_generator", "checkpoint.py",
           "    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)\n"
           "    order = torch.randperm(len(dataset), generator=generator).tolist()\n",
           "    order = torch.randperm(len(dataset)).tolist()\n", ("epoch_batches_seeded_and_resumable",)),
    # The same order every time, but the global generator reseeded: the dropout masks change.
    Mutant("epoch_order_reseeds_global_generator", "checkpoint.py",
           "    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)\n"
           "    order = torch.randperm(len(dataset), generator=generator).tolist()\n",
           "    torch.manual_seed(seed * 1_000_003 + epoch)\n    order = torch.randperm(len(dataset)).tolist()\n",
           ("epoch_batches_seeded_and_resumable",)),
    # One order for every epoch.
    Mutant("epoch_order_ignores_epoch", "checkpoint.py", "manual_seed(seed * 1_000_003 + epoch)", "manual_seed(seed)",
           ("epoch_batches_seeded_and_resumable",)),
    # start counted in windows, not in batches.
    Mutant("start_skips_windows", "checkpoint.py", "    for b in range(start, len(dataset) // batch_size):\n",
           "    order = order[start:]\n    for b in range(len(order) // batch_size):\n", ("epoch_batches_seeded_and_resumable",)),
    # A short last batch of the windows left over.
    Mutant("short_last_batch_kept", "checkpoint.py", "    for b in range(start, len(dataset) // batch_size):\n",
           "    for b in range(start, -(-len(dataset) // batch_size)):\n", ("epoch_batches_seeded_and_resumable",)),
    # learn pretrain --resume reads the run's state back from load_checkpoint: its config, schedule, losses
    Mutant("checkpoint_drops_extras", "checkpoint.py", '        "rng": get_rng_state(),\n        **extra,\n',
           '        "rng": get_rng_state(),\n', ("resume_is_bit_exact",)),
    Mutant("load_returns_only_step", "checkpoint.py", "    set_rng_state(checkpoint[\"rng\"])\n    return checkpoint\n",
           "    set_rng_state(checkpoint[\"rng\"])\n    return {\"step\": checkpoint[\"step\"]}\n", ("resume_is_bit_exact",)),
    # The device read from the model's weights by name: learn pretrain hands train_step a DistributedDataParallel
    # (--nproc), whose module is model.module ("'DistributedDataParallel' object has no attribute 'pos_emb'")
    Mutant("train_step_reads_model_attributes", "step.py",
           "            loss = calc_loss_batch(input_batch, target_batch, model, device) / k\n",
           "            loss = calc_loss_batch(input_batch, target_batch, model, model.pos_emb.weight.device) / k\n",
           ("accumulation_matches_big_batch", "clipping_after_warmup_recomputed", "autocast_bf16_keeps_fp32_weights")),
    # learn pretrain clips through train_step(..., max_norm=1.0) after warm-up
    Mutant("train_step_ignores_max_norm", "step.py",
           "    if max_norm is not None:\n        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)\n", "",
           ("clipping_after_warmup_recomputed",)),
    Mutant("train_step_clips_each_micro_batch", "step.py",
           "        total += loss.item()\n    if max_norm is not None:\n        torch",
           "        total += loss.item()\n        if max_norm is not None:\n            torch", ("clipping_after_warmup_recomputed",)),
]
