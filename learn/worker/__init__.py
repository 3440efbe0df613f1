"""Code that runs in the *worker*: the process that runs the learner's code.

Nothing in a worker decides a grade. The judge (learn/judge/) sends it a probe and plain data;
the worker calls the learner's code and sends plain data back (learn/shared/wire.py). Whatever the
learner's code does here (patch torch, lie, crash, hang) can only spoil its own answers. The
probes it runs are the check modules' and the training engine's (learn/engine/), which it imports
by name; this package holds only the loop (main.py) and the walls (sandbox.py).
"""
