"""Regenerate a stage's fixtures from the reference solution.

    python tools/make_fixtures.py stage1            # writes fixtures/stage1_tokenizer/
    python tools/make_fixtures.py stage1 --out DIR  # writes elsewhere (the project's tests compare)

The generator runs in a fresh process with solutions/ first on the import path, so the fixtures
come from the reference solution and nothing else.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learn import manifest  # noqa: E402


def make(stage: manifest.Stage, out: Path) -> None:
    script = stage.fixtures_dir / "generate.py"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "solutions"), str(ROOT)]), PYTHONHASHSEED="0")
    code = f"import runpy, pathlib; runpy.run_path({str(script)!r})['main'](pathlib.Path({str(out)!r}))"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stage = manifest.find(args.stage)
    out = args.out or stage.fixtures_dir
    out.mkdir(parents=True, exist_ok=True)
    make(stage, out)
    print(f"wrote {out}")
