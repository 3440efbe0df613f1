"""The course engine: the manifest, the grader, the skeleton generator and the `learn` CLI.

Nothing here imports torch at module level: `learn --help` and `learn status` must start fast.
"""

from pathlib import Path

#: The course's root folder: it holds curriculum.toml, stages/, checks/, fixtures/, lessons/.
ROOT = Path(__file__).resolve().parent.parent
