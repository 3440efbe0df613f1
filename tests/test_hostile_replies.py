"""Forged probe replies: a learner's package that rewrites what the checks' probes send back.

The worker imports the check modules before the learner's package, so the package can reach them
and swap a probe's code for its own (in place: the probe running now is forged too). Each forgery
below is a reply that once compared nothing and passed, or crashed the judge; graded, it must fail
its checks with a sentence, earn nothing there, and leave every other check to pass as the
solution does (grade() raises on an internal error).
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import copy_solutions
from learn import manifest
from learn.judge.grader import grade

FORGE = '''\
import sys as _sys, types as _types

def _forge(fakes):
    """Each "module:probe" of `fakes` runs the fake's code; the real one stays as honest_<probe>."""
    for key, fake in fakes.items():
        stem, name = key.split(":")
        module = _sys.modules.get("learn_probes_" + stem)
        real = getattr(module, name, None)
        if real is not None and not hasattr(module, "honest_" + name):
            setattr(module, "honest_" + name, _types.FunctionType(real.__code__, real.__globals__, name))
            real.__code__ = fake.__code__
'''

# stage -> (forged probes, as code defining them and a `fakes` dict; the checks they must fail)
FORGERIES = {
    "stage2": ('''
        def init(learner, **kw):  # a parameter of 10**8000 elements: its count has no repr
            out = honest_probe_init_and_shapes(learner, **kw)
            for res in out:
                res["params"].append(["extra", [10**4000, 10**4000]])
            return out
        fakes = {"test_embedding:probe_init_and_shapes": init}
    ''', {"embedding_shape_is_batch_by_tokens_by_dim"}),
    "stage4": ('''
        def modules(learner, specs):  # "did not load" for modules that had no weights to load: no outputs
            return [{"params": {}, "init": None, "loaded": False, "outputs": []} for _ in specs]
        def generate(learner, calls):  # no rows at all
            import torch
            return [{"out": torch.zeros(0, 3, dtype=torch.long), "seen": []} for _ in calls]
        def greedy(learner, cases):  # a 1-D tensor: compared with a list, it answers with a tensor
            import torch
            return [{"params": {}, "out": torch.zeros(3, dtype=torch.long)} for _ in cases]
        fakes = {"test_model:probe_modules": modules, "test_generation:probe_generate": generate,
                 "test_model:probe_greedy": greedy}
    ''', {"gelu_matches_tanh_approximation", "logits_shape", "model_is_causal", "loss_at_init_near_ln_vocab",
          "layer_norm_matches_torch", "feed_forward_expands_4x", "transformer_block_pre_norm_residual",
          "stored_weights_give_reference_logits", "same_seed_same_sample", "top_k_keeps_k_most_likely",
          "temperature_zero_is_greedy", "temperature_scales_logits", "eos_stops_generation", "crops_to_context_size",
          "greedy_matches_reference"}),
    "stage5": ('''
        def resume(learner, split, **kw):  # nothing to compare, and the step it was asked for
            return [[], [], [], [], split]
        def token_ids(learner, **kw):  # the encodings, and no decodings
            return [honest_probe_token_ids(learner, **kw)[0], [], []]
        def measures(learner, losses, sizes):  # ints too large for a float
            return [[10**400] * len(losses), [10**400] * len(sizes)]
        def evaluate(learner, **kw):  # on each device, two answers where three are read
            return [result[:2] for result in honest_probe_evaluate(learner, **kw)]
        fakes = {"test_training:probe_resume": resume, "test_loss:probe_token_ids": token_ids,
                 "test_loss:probe_measures": measures, "test_loss:probe_evaluate": evaluate}
    ''', {"resume_is_bit_exact", "text_token_ids_round_trip", "perplexity_and_bits_per_byte", "evaluate_restores_train_mode"}),
    "stage6": ('''
        def dataset(learner, data):  # the right length, no items
            return {"len": len(data), "items": []}
        def lora(learner, cases):  # the layers' parameters, no outputs
            out = honest_probe_lora(learner, cases)
            for res in out:
                res["outputs"] = res["bare_outputs"] = []
            return out
        def replace(learner, **kw):  # a parameter that is no [shape, requires_grad]
            out = honest_probe_replace(learner, **kw)
            out["params"]["extra"] = 5
            return out
        def loop(learner, **kw):  # no losses nor accuracies
            out = honest_probe_loop(learner, **kw)
            return [[], *out[1:]]
        fakes = {"test_instruct:probe_dataset": dataset, "test_model:probe_lora": lora,
                 "test_model:probe_replace": replace, "test_classify:probe_loop": loop}
    ''', {"instruction_dataset_encodes_prompt_and_response", "lora_fresh_layer_changes_nothing",
          "lora_adds_scaled_low_rank_update", "replace_linear_with_lora_reaches_every_linear",
          "classifier_loop_counts_examples"}),
}


@pytest.mark.parametrize("stage_id", list(FORGERIES))
def test_forged_replies_fail_their_checks(tmp_path, stage_id):
    stage = manifest.find(stage_id)
    fakes, forged = FORGERIES[stage_id]
    tree = copy_solutions(tmp_path / "mallory")
    init = tree / stage.package / "__init__.py"
    init.write_text(FORGE + textwrap.dedent(fakes) + "_forge(fakes)\n" + init.read_text())
    result = grade(stage, tree)  # raises GraderError on an internal error
    assert forged <= {c.name for c in stage.checks}
    passed = {c.name for c in result.checks if c.passed}
    assert not passed & forged, {c.name: c.message for c in result.checks if c.name in passed & forged}
    assert passed == {c.name for c in stage.checks} - forged, {c.name: c.message for c in result.checks if not c.passed}
    for c in result.checks:
        if c.name in forged:
            assert "expected" in c.message and len(c.message) < 5000, (c.name, c.message)
