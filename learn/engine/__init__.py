"""The training engine: the probes behind `learn prepare`, `pretrain`, `generate`, `finetune`,
`classify` and `show`. They run in the worker, on the learner's code, and return plain data.

The CLI names them by string ("learn.engine.pretrain:probe_pretrain", learn/shared/protocol.py)
and the worker imports them: nothing outside the worker imports this package (and its torch).
Its modules import only each other, lower ones first, and learn/shared/:

    common, transfer              what every probe shares; files in and out
    calls                         every call into the learner's code, and its failure in one line
    budget, loading               the time budget and the LR; the learner's tokenizer and model
    distributed, corpus           where a run trains; token files
    pretrain, finetune, show      the probes
"""
