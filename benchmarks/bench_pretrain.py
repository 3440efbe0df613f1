"""Training speed (tokens/s) of `learn pretrain`'s step next to the book's train_model_simple step.

    python benchmarks/bench_pretrain.py              # 4 layers, 4 heads, 256 dims, context 128, vocab 4096, batch 16
    python benchmarks/bench_pretrain.py --steps 20 --threads 2

Both run the reference solution (solutions/) on random tokens. The book's step is the body of
train_model_simple: zero_grad, calc_loss_batch, backward, AdamW (for-each) step, in float32.
learn/worker/pretrain.py's step adds bf16 autocast (CPU matmuls in bfloat16) and fused AdamW (one
kernel for every parameter), plus gradient clipping, which costs a little. The goal: 2x the book.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions"))

import torch  # noqa: E402

from stage4_model import GPTModel  # noqa: E402
from stage5_pretrain import calc_loss_batch  # noqa: E402

CONFIG = {"vocab_size": 4096, "context_length": 128, "emb_dim": 256, "n_heads": 4, "n_layers": 4, "drop_rate": 0.0, "qkv_bias": False}
BATCH = 16


def tokens_per_second(fast: bool, steps: int) -> float:
    torch.manual_seed(0)
    model = GPTModel(CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, fused=fast)
    data = torch.randint(0, CONFIG["vocab_size"], (BATCH, CONFIG["context_length"] + 1))
    x, y = data[:, :-1], data[:, 1:]  # (B, T) inputs and their next tokens
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if fast else nullcontext
    start = 0.0
    for i in range(steps + 3):  # 3 warm-up steps, not timed
        if i == 3:
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = calc_loss_batch(x, y, model, "cpu")
        loss.backward()
        if fast:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return steps * x.numel() / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    book = tokens_per_second(False, args.steps)
    ours = tokens_per_second(True, args.steps)
    print(f"threads {torch.get_num_threads()}, batch {BATCH} x {CONFIG['context_length']}, {args.steps} steps")
    print(f"book train_model_simple step (fp32, AdamW for-each): {book:10,.0f} tokens/s")
    print(f"learn pretrain step (bf16 autocast, fused AdamW):    {ours:10,.0f} tokens/s   {ours / book:.2f}x")


if __name__ == "__main__":
    main()
