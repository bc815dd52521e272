"""Forward+backward time and peak memory of our contrastive losses against lightly and PML.

Every contender gets the same two (N, D) float32 leaf tensors ``z_a``, ``z_b`` (requires_grad)
and runs ``loss = f(z_a, z_b); loss.backward()``; the time and the memory include the backward.

* NT-Xent (SimCLR, tau = 0.5): ``contrastlab.losses.nt_xent(z_a, z_b, 0.5)``;
  ``lightly.loss.NTXentLoss(temperature=0.5)(z_a, z_b)``; pytorch-metric-learning's
  ``NTXentLoss(temperature=0.5)`` on ``cat([z_a, z_b])`` with labels ``arange(N)`` twice.
* SupCon (Khosla et al., NeurIPS 2020, tau = 0.1, labels ``arange(N) % 10``):
  ``contrastlab.losses.supcon.supcon(stack([z_a, z_b], 1), labels, temperature=0.1)`` (skipped
  with a note while it cannot be imported); PML's ``SupConLoss(temperature=0.1)`` on
  ``cat([z_a, z_b])`` with the labels twice.

Time: all contenders at one N are interleaved (one call of each per round) so that background
load hits them alike; the table gives the median and the minimum over rounds, after two warm-up
calls each. Peers: the ``bench`` extra, installed beside a fixed torch with ``pip install
--no-deps lightly pytorch-metric-learning`` (``lightly.loss`` needs none of lightly's own deps).

Peak memory: the most bytes the call holds at once above what was live before it, i.e. inputs
excluded, while the autograd graph's saved tensors, the temporaries inside ops and the input
gradients are counted. On CUDA: ``torch.cuda.max_memory_allocated`` minus
``torch.cuda.memory_allocated`` before the call, after ``reset_peak_memory_stats``. On CPU there
are no allocator statistics, so one extra call runs under ``torch.profiler`` with
``profile_memory=True``: the CPU allocator then reports every allocation and free (size, time) to
the profiler; their running sum in time order is the live-bytes curve and its maximum the peak.
Unlike RSS this is deterministic, immune to glibc keeping freed pages and to what earlier calls
did, and it counts exactly torch's tensors (not buffers BLAS or oneDNN allocate themselves).

A contender that raises is shown as ``error: ...``, or ``OOM`` when the allocation failed; on CPU
the address space is capped (``--mem-limit-gb``, default 3/4 of the available RAM) so that an
oversized allocation fails cleanly instead of waking the kernel's OOM killer.
Run: ``python benchmarks/losses.py [--sizes 256 1024 4096] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z_a, z_b) -> scalar loss
Factory = Callable[[int, torch.device], Step]  # (N, device) -> step
NUM_CLASSES = 10


def ours_nt_xent(n: int, device: torch.device) -> Step:
    from contrastlab.losses import nt_xent

    return lambda z_a, z_b: nt_xent(z_a, z_b, 0.5)


def lightly_nt_xent(n: int, device: torch.device) -> Step:
    from lightly.loss import NTXentLoss

    return NTXentLoss(temperature=0.5)


def pml_nt_xent(n: int, device: torch.device) -> Step:
    from pytorch_metric_learning.losses import NTXentLoss

    loss, labels = NTXentLoss(temperature=0.5), torch.arange(n, device=device).repeat(2)
    return lambda z_a, z_b: loss(torch.cat([z_a, z_b]), labels)


def supcon_labels(n: int, device: torch.device) -> torch.Tensor:
    return torch.arange(n, device=device) % NUM_CLASSES


def ours_supcon(n: int, device: torch.device) -> Step:
    from contrastlab.losses.supcon import supcon

    labels = supcon_labels(n, device)
    return lambda z_a, z_b: supcon(torch.stack([z_a, z_b], dim=1), labels, temperature=0.1)


def pml_supcon(n: int, device: torch.device) -> Step:
    from pytorch_metric_learning.losses import SupConLoss

    loss, labels = SupConLoss(temperature=0.1), supcon_labels(n, device).repeat(2)
    return lambda z_a, z_b: loss(torch.cat([z_a, z_b]), labels)


# (loss, contender) -> factory; the first contender of each loss is ours, the reference.
CONTENDERS: dict[tuple[str, str], Factory] = {
    ("NT-Xent", "contrastlab"): ours_nt_xent,
    ("NT-Xent", "lightly"): lightly_nt_xent,
    ("NT-Xent", "pytorch-metric-learning"): pml_nt_xent,
    ("SupCon", "contrastlab"): ours_supcon,
    ("SupCon", "pytorch-metric-learning"): pml_supcon,
}


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    oom_words = ("can't allocate memory", "not enough memory", "out of memory")
    if isinstance(exc, MemoryError | torch.OutOfMemoryError) or any(
        word in text.lower() for word in oom_words
    ):
        return "OOM"
    return f"error: {type(exc).__name__}: {text[:70]}"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_step(step: Step, z_a: torch.Tensor, z_b: torch.Tensor) -> None:
    z_a.grad = z_b.grad = None
    loss = step(z_a, z_b)
    assert loss.ndim == 0, loss.shape
    loss.backward()


def timed(step: Step, z_a: torch.Tensor, z_b: torch.Tensor) -> float:
    sync(z_a.device)
    start = time.perf_counter()
    run_step(step, z_a, z_b)
    sync(z_a.device)
    return time.perf_counter() - start


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence the profiler's C++ log lines (kineto's profiler_start/stop) on file descriptor 2."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_bytes(step: Step, z_a: torch.Tensor, z_b: torch.Tensor) -> int:
    """Peak bytes held by one forward+backward above those live before it (see the docstring)."""
    z_a.grad = z_b.grad = None  # freed out here: the profiler never saw them allocated
    device = z_a.device
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run_step(step, z_a, z_b)
        sync(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run_step(step, z_a, z_b)
    events, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            events.append((node.start_time_ns, node.extra_fields.alloc_size))  # < 0: a free
    events.sort()
    return max(itertools.accumulate((size for _, size in events), initial=0))


def cap_address_space(gigabytes: float) -> None:
    """Let allocations beyond ``gigabytes`` more than now fail (MemoryError) instead of OOM-kill."""
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = vm_kb * 1024 + int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def default_mem_limit_gb() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return 0.0
    return 0.75 * kb / 2**20


def bench_size(
    n: int, args: argparse.Namespace, device: torch.device, names: list[tuple[str, str]]
) -> None:
    generator = torch.Generator().manual_seed(n)
    z_a, z_b = (
        torch.randn(n, args.dim, generator=generator).to(device).requires_grad_() for _ in "ab"
    )
    steps: dict[tuple[str, str], Step] = {}
    failed: dict[tuple[str, str], str] = {}
    peaks: dict[tuple[str, str], int | str] = {}
    for name in names:
        try:
            step = CONTENDERS[name](n, device)
            timed(step, z_a, z_b)  # warm-up
            timed(step, z_a, z_b)
            peaks[name] = peak_bytes(step, z_a, z_b)
            steps[name] = step
        except Exception as exc:
            failed[name] = describe(exc)
            z_a.grad = z_b.grad = None
    seconds: dict[tuple[str, str], list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in list(steps.items()):
            try:
                seconds[name].append(timed(step, z_a, z_b))
            except Exception as exc:  # e.g. OOM under load: report it, drop the contender
                failed[name] = describe(exc)
                del steps[name], seconds[name]

    print(f"\nN = {n}, D = {args.dim}")
    header = f"{'loss':<8} {'contender':<24} {'ms f+b':>9} {'min ms':>9} {'x ours':>7}"
    print(f"{header} {'peak MiB':>9} {'x ours':>7}")
    for name in names:
        loss, contender = name
        prefix = f"{loss:<8} {contender:<24}"
        if name in failed:
            print(f"{prefix} {failed[name]:>9}")
            continue
        ours = (loss, "contrastlab")
        median = statistics.median(seconds[name])
        time_ratio = f"{median / statistics.median(seconds[ours]):6.2f}x" if ours in seconds else ""
        peak = peaks[name]
        assert isinstance(peak, int)
        ours_peak = peaks.get(ours)
        peak_ratio = f"{peak / ours_peak:6.2f}x" if isinstance(ours_peak, int) and ours_peak else ""
        print(
            f"{prefix} {median * 1e3:9.2f} {min(seconds[name]) * 1e3:9.2f} {time_ratio:>7} "
            f"{peak / 2**20:9.1f} {peak_ratio:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096], help="N")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--skip-peers", action="store_true", help="time contrastlab only")
    parser.add_argument(
        "--mem-limit-gb",
        type=float,
        default=default_mem_limit_gb(),
        help="CPU: cap the address space this much above the start, so that an oversized "
        "allocation raises (reported as OOM) instead of OOM-killing; 0: no cap",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    names = [name for name in CONTENDERS if not args.skip_peers or name[1] == "contrastlab"]
    peers = {"lightly": "lightly.loss", "pytorch-metric-learning": "pytorch_metric_learning"}
    for contender, module in ({} if args.skip_peers else peers).items():
        try:
            __import__(module)
        except ImportError as exc:
            print(f"note: {contender} not installed ({exc}): the bench extra; skipped.")
            names = [name for name in names if name[1] != contender]
    try:
        import contrastlab.losses.supcon  # noqa: F401  (being written: may not exist yet)
    except Exception as exc:
        print(f"note: contrastlab SupCon not importable yet ({type(exc).__name__}: {exc}).")
        names = [name for name in names if name != ("SupCon", "contrastlab")]
    if device.type == "cpu" and args.mem_limit_gb > 0:
        cap_address_space(args.mem_limit_gb)

    print(
        f"forward+backward, float32 on {device}, {torch.get_num_threads()} threads, "
        f"median of {args.rounds} interleaved rounds; peak memory above the inputs"
        + (
            f" (CPU address space capped at +{args.mem_limit_gb:.1f} GiB)"
            if device.type == "cpu" and args.mem_limit_gb > 0
            else ""
        )
    )
    for n in args.sizes:
        bench_size(n, args, device, names)


if __name__ == "__main__":
    main()
