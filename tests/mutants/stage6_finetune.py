"""Stage 6 mutants: mistakes learners make when they fine-tune (started: instruction tuning only;
the stage is "coming", so tests/test_mutants.py does not run these yet)."""

from mutants import Mutant

MUTANTS = [
    Mutant("pads_all_ignored", "instruct.py", "targets[indices[1:]] = ignore_index", "targets[indices] = ignore_index",
           ("collate_pads_shifts_and_ignores", "collate_truncates_to_allowed_max_length")),
    Mutant("targets_not_shifted", "instruct.py", "targets = torch.tensor(padded[1:])", "targets = torch.tensor(padded[:-1])",
           ("collate_pads_shifts_and_ignores", "collate_truncates_to_allowed_max_length")),
    Mutant("pads_as_targets", "instruct.py", "targets[indices[1:]] = ignore_index  #", "pass  #",
           ("collate_pads_shifts_and_ignores", "collate_truncates_to_allowed_max_length")),
    Mutant("empty_input_section_kept", "instruct.py", 'if entry["input"] else ""', 'if True else ""',
           ("format_input_matches_the_book", "instruction_dataset_encodes_prompt_and_response")),
    Mutant("whole_prompt_masked", "instruct.py", "max(int(prompt_length) - 1, 0)", "int(prompt_length)",
           ("prompt_mask_ignores_prompt_targets",)),
]
