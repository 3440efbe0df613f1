"""What both sides of a grading use, the judge (learn/judge/) and the worker (learn/worker/,
learn/engine/): the protocol and its wire format, the worker's limits, what checks are written
with, and how an exception of the learner's reads (explain.py). It imports nothing of `learn`
but itself, so that neither side reaches around it into the other's code.
"""
