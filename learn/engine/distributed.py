"""Where `learn pretrain` trains: the device, and data parallelism over several processes.

It runs in the worker, next to learn/engine/pretrain.py's loop; the learner's code is still all
that trains. What this adds is PyTorch's own machinery around it:

Devices. --device auto picks CUDA, then Apple's MPS, then the CPU. --precision auto (the learner's
autocast_context) is bf16 where the device has bf16 arithmetic and fp32 elsewhere; TF32
matrix multiplications are allowed on CUDA (Ampere and newer use them for what stays fp32);
--compile runs the model through torch.compile.

Data parallelism. `torchrun --nproc-per-node N -m learn pretrain ...` (or `learn pretrain
--nproc N`, learn/cli/launch.py) starts N copies of the command; each starts its own worker, which
inherits torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT and so is one rank.
Every rank builds the same model from the same seed and walks the same global batches (the
learner's epoch_batches, a function of (seed, epoch)); each keeps its own rows of every batch
(rows rank, rank + N, ...: `shard`), computes the loss of those, and DistributedDataParallel
averages the gradients of all ranks during backward, so every rank takes the same optimizer step:
the step that one process would take on the whole batch. The global batch (--batch-size) is what
the optimizer sees; N only divides the work. Losses and evaluations are averaged over the ranks
(`mean`), so the log reads as one process's. The ranks agree, every step, on whether to stop
(`any`): Ctrl-C, a deadline or --stop-at reached on one rank stops them all after the same step.

Checkpoints hold the learner's GPTModel itself (never the DDP wrapper, whose keys differ), so a
run saved by N processes resumes with M: the data order depends on (seed, epoch) and the step,
never on N.

Failure. The process group has a timeout (TIMEOUT, or $LEARN_DIST_TIMEOUT seconds): a rank that
never arrives, a port already in use or a rank that died becomes one sentence (BadInput), never
a hang.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from learn.engine.common import BadInput

TIMEOUT = float(os.environ.get("LEARN_DIST_TIMEOUT", 300))  # seconds a rank waits for the others

#: Dense bf16 tensor-core FLOP/s of one GPU, by a part of torch.cuda.get_device_name(): the
#: denominator of MFU. The first match counts, so the more specific names come first.
PEAK_FLOPS = (
    ("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12),
    ("B200", 2250e12), ("A100", 312e12), ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12),
    ("RTX 4090", 165e12), ("RTX 3090", 71e12), ("V100", 125e12), ("T4", 65e12),
)  # fmt: skip


def pick_device(wanted: str) -> str:
    """"cuda", "mps" or "cpu" for --device (auto: the best present), or BadInput."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"--device cuda: PyTorch sees no CUDA GPU here (torch {torch.__version__}): use --device cpu")
    if wanted == "mps" and not mps:
        raise BadInput("--device mps: PyTorch sees no Apple GPU (MPS) here: use --device cpu")
    if wanted not in ("cuda", "mps", "cpu"):
        raise BadInput(f"--device {wanted}: choose auto, cpu, cuda or mps")
    return wanted


def pick_precision(wanted: str, device: str) -> tuple[str, str | None]:
    """(the precision a run computes in, a sentence for the log where it is not what was asked).

    "auto" is bf16 autocast where the device has bf16 arithmetic (CUDA from Ampere on; a CPU with
    AVX-512 or AMX, as oneDNN counts them) and fp32 elsewhere: on a CPU without them autocast
    emulates bf16 and is slower than fp32 (ten times on an AVX2 laptop), and MPS gains little.
    "bf16" is kept wherever autocast computes at all; "fp32" is fp32.
    """
    if wanted == "fp32":
        return "fp32", None
    if wanted == "auto":
        if device == "cuda":
            fast = torch.cuda.is_bf16_supported()
        elif device == "cpu":
            try:
                fast = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
            except (AttributeError, RuntimeError):  # a build without oneDNN
                fast = False
        else:
            fast = False
        return ("bf16" if fast else "fp32"), None
    try:
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            x = torch.ones(2, 2, device=device)
            (x @ x).sum().item()
    except Exception:  # noqa: BLE001 (any refusal means: not here)
        return "fp32", f"bf16 does not compute on {device}: training in fp32"
    return "bf16", None


class Place:
    """This process's place in the run: its rank among `world` processes, and its device.

    One process (no WORLD_SIZE in the environment, or 1) is rank 0 of 1, and then every method
    below is the identity: `mean(x)` is x, `shard(batch)` the whole batch, `wrap(model)` the model.
    """

    def __init__(self, device: str = "auto", compile_model: bool = False):
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.device = pick_device(device)
        self.compile = compile_model
        self.name = "cpu"
        if self.device == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise BadInput(f"rank {self.rank} wants GPU {self.local_rank}, and this machine has {torch.cuda.device_count()}: "
                               "start at most one process per GPU")  # fmt: skip
            torch.cuda.set_device(self.local_rank)  # "cuda" is this rank's GPU from now on
            torch.set_float32_matmul_precision("high")  # TF32 on Ampere and newer
            self.name = torch.cuda.get_device_name()
        elif self.device == "mps":
            self.name = "mps"
        self.peak = next((flops for part, flops in PEAK_FLOPS if part in self.name), None) if self.device == "cuda" else None
        self.group = None
        if self.world > 1:
            self._join()

    @property
    def main(self) -> bool:
        """Rank 0: the one that reports progress and returns the checkpoint."""
        return self.rank == 0

    def _join(self) -> None:
        """Join the others (torchrun's rendezvous, through its environment), or one sentence why not."""
        backend = "nccl" if self.device == "cuda" else "gloo"
        where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        try:
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT))
        except Exception as e:  # noqa: BLE001 (what init raises depends on the backend and the version)
            text = " ".join(str(e).split())
            if "EADDRINUSE" in text or "address already in use" in text:
                why = f"the port of {where} is in use (another run?): give torchrun another --master-port or --rdzv-endpoint"
            elif "Timed out" in text or "timed out" in text:
                why = f"waited {TIMEOUT:g} s at {where} and not all {self.world} processes came ({text[:120]})"
            else:
                why = f"{type(e).__name__}: {text[:200]}"
            raise BadInput(f"rank {self.rank} could not join the other processes of the run: {why}") from None
        self.group = dist.group.WORLD

    def _collective(self, op, tensor):
        """op(tensor) across the ranks; a dead or stuck rank becomes one sentence."""
        try:
            op(tensor)
        except Exception as e:  # noqa: BLE001
            raise BadInput(f"another process of this run stopped or does not answer, so rank {self.rank} stops too "
                           f"({type(e).__name__}: {' '.join(str(e).split())[:160]})") from None  # fmt: skip
        return tensor

    def _vector(self, values: list[float]) -> torch.Tensor:
        """A float64 tensor where the backend reduces: the GPU for nccl, the CPU for gloo."""
        return torch.tensor(values, dtype=torch.float64, device="cuda" if self.device == "cuda" else "cpu")

    def mean(self, value):
        """The mean over the ranks of a float, or of each float of a tuple. Equal shards make the
        mean of the ranks' mean losses the mean loss of the whole batch."""
        if self.world == 1:
            return value
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        total = self._collective(dist.all_reduce, self._vector([float(v) for v in values])).tolist()
        means = [t / self.world for t in total]
        return tuple(means) if isinstance(value, (tuple, list)) else means[0]

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any: a stop that one rank sees, all obey."""
        if self.world == 1:
            return bool(flag)
        return self._collective(dist.all_reduce, self._vector([1.0 if flag else 0.0])).item() > 0

    def same(self, value: int | None) -> int | None:
        """Rank 0's value of an int (or None) on every rank: what each rank must agree on, such as
        the schedule's length that rank 0 measured."""
        if self.world == 1:
            return value
        sent = self._vector([-1.0 if value is None else float(value)])
        got = int(self._collective(lambda t: dist.broadcast(t, src=0), sent).item())
        return None if got == -1 else got

    def same_bytes(self, data: bytes | None) -> bytes | None:
        """Rank 0's bytes (a trained tokenizer) on every rank."""
        if self.world == 1:
            return data
        box = [data]
        self._collective(lambda b: dist.broadcast_object_list(b, src=0), box)
        return box[0]

    def shard(self, batch):
        """This rank's rows of an (inputs, targets) batch: rows rank, rank + world, ...

        Example: world 2, a batch of 4 rows: rank 0 keeps rows 0 and 2, rank 1 rows 1 and 3,
        each (2, T); together they cover the batch once.
        """
        if self.world == 1:
            return batch
        inputs, targets = batch
        return inputs[self.rank :: self.world], targets[self.rank :: self.world]  # (B, T) -> (B / world, T)

    def wrap(self, model, accumulation: int):
        """The model that train_step runs: compiled with --compile, and in DistributedDataParallel
        with several ranks (over the learner's own GPTModel, whose state the checkpoint saves)."""
        trained = torch.compile(model) if self.compile else model
        if self.world == 1:
            return trained
        return _Synced(trained, accumulation, device_ids=[self.local_rank] if self.device == "cuda" else None,
                       broadcast_buffers=False)  # the causal mask is the only buffer, and it never changes  # fmt: skip

    def seed_step(self, seed: int, step: int) -> None:
        """With several ranks, each draws its dropout masks from a generator seeded by (seed, rank,
        step): different ranks get different masks, and a resumed run the same ones again."""
        if self.world > 1:
            torch.manual_seed(seed * 1_000_003 + self.rank * 65_537 + step)

    def flops_per_token(self, model, config: dict) -> float:
        """Training FLOPs per token: 6 N + 12 L T d (PaLM's appendix B, as nanoGPT estimates it).

        N counts the weights that multiply (the embeddings are lookups, not products), L the
        transformer blocks, T the context, d the embedding width; 6 = 2 for the forward
        multiply-add and 4 for the backward, 12 L T d the attention scores and their weighting.
        """
        embeddings = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
        n = sum(p.numel() for p in model.parameters() if id(p) not in embeddings)
        return 6.0 * n + 12.0 * config["n_layers"] * config["context_length"] * config["emb_dim"]

    def mfu(self, flops_per_token: float, tokens_per_second: float) -> float | None:
        """Model FLOPs utilisation: the FLOP/s the training reaches over the GPUs' bf16 peak (None off a known GPU)."""
        if self.peak is None:
            return None
        return flops_per_token * tokens_per_second / (self.peak * self.world)

    def facts(self) -> dict:
        """What a run's summary reports of where it trained (inside its "config")."""
        return {"device": self.device if self.device != "cuda" else f"cuda ({self.name})", "world_size": self.world,
                "compile": self.compile}  # fmt: skip

    def close(self) -> None:
        if self.group is not None:
            dist.destroy_process_group()
            self.group = None


class _Synced(DistributedDataParallel):
    """DDP that averages the gradients once per optimizer step, at the last of its k micro-batches.

    The learner's train_step calls the model k times before optimizer.step(); the gradients add up
    locally over the first k - 1 backward passes (DDP's require_backward_grad_sync off, as nanoGPT
    does) and the k-th backward averages their sums across the ranks: the same result as averaging
    after every micro-batch, with a k-th of the communication.
    """

    def __init__(self, module, accumulation: int, **kwargs):
        super().__init__(module, **kwargs)
        self.accumulation, self.calls = accumulation, 0

    def forward(self, *args, **kwargs):
        if self.training and torch.is_grad_enabled():
            self.calls = (self.calls + 1) % self.accumulation
            self.require_backward_grad_sync = self.calls == 0
        return super().forward(*args, **kwargs)
