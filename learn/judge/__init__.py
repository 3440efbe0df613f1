"""Code that decides verdicts, and the code that runs it.

The *grader* (grader.py, in the CLI's process) starts a *judge*: a pytest process over
checks/<package>/ with the plugin in plugin.py. The judge never imports the learner's tree and
never has it on its import path: each check sends probes to a *worker* (workers.py starts it;
learn/worker/ runs in it), receives plain data (learn/shared/wire.py), computes every expected value
itself and compares (learn/shared/checking.py). The judge reports each check's verdict to the grader on a
channel the worker has no handle on.
"""
