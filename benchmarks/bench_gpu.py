"""Is training on a GPU input-bound? Training throughput from four data sources, side by side.

    python benchmarks/bench_gpu.py [--data FILE] [--size 512] [--n-events 100]
        [--backbones mobilenetv2_100 convnextv2_atto] [--batches 16 64] [--steps 30] [--workers 4]

For each backbone and batch size it runs the training steps of the deep estimator itself
(:class:`QuakeRegressor`: its network, decibels, flips, AdamW, MSE on the magnitude, with its CUDA
defaults ``amp="auto"``, ``channels_last="auto"``), each step ``net.train_step(batch)`` on the
batches of the estimator's own training ``DataLoader`` (``net.get_iterator``: its dataset,
sampler and collate function; created once per row and iterated again each epoch), fed from

(a) the HDF5 path: ``lazy_xy(QuakeSet(...))``, read sample by sample in ``--workers`` worker
    processes (pinned memory on CUDA);
(b) the decoded cache: ``lazy_xy(CachedQuakeSet(...))``, each batch one indexed read of the
    memory map (float16 decibels) in ``--workers`` workers, moved to the device and decoded there
    by the estimator (``decode_batch``);
(c) device-resident data: ``CachedQuakeSet(..., in_memory="cuda")``, the training split as one
    float16 tensor on the GPU, each batch indexed and decoded there (no host copy; no workers);
(d) the ceiling: the same training step on one random batch already on the device.

and reports samples/s and the GPU busy fraction: the time between CUDA events recorded before the
forward pass and after the optimizer step, summed over the timed steps, over the wall time (the
rest is the GPU waiting for its input). Verdict per backbone and batch: "not input-bound" when
(c) reaches 0.9 x (d), else "input-bound".

It needs a CUDA GPU and refuses to run without one (exit 2); ``--allow-cpu`` runs it on a CPU to
check the script itself (the figures then mean nothing). Without ``--data`` it writes a synthetic
file of ``--size`` x ``--size`` images under ``--work`` (default ``benchmarks/_work/``, git-ignored).
The report goes to ``benchmarks/results/gpu.md`` (``--out``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _common import HERE, command_line, positive_int, write_report

TARGET = 0.9  # (c) must reach this fraction of (d) for "not input-bound"
SOURCES = ("hdf5", "cache", "device", "ceiling")
SOURCE_NAMES = {"hdf5": "(a) HDF5, estimator's DataLoader",
                "cache": "(b) cache, estimator's batched reads",
                "device": "(c) device-resident cache, estimator",
                "ceiling": "(d) random device tensors (ceiling)"}


def batch_size(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"a training batch needs at least 2 samples (BatchNorm), got {text!r}")
    return value


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="existing QuakeSet file (default: generate one of --size)")
    parser.add_argument("--size", type=positive_int, default=512, help="image size (must match --data)")
    parser.add_argument("--n-events", type=positive_int, default=100, help="events of the generated file")
    parser.add_argument("--backbones", nargs="+", default=["mobilenetv2_100", "convnextv2_atto"])
    parser.add_argument("--batches", nargs="+", type=batch_size, default=[16, 64])
    parser.add_argument("--steps", type=positive_int, default=30, help="timed training steps per row")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (cuDNN autotuning)")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the HDF5 path")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run on a CPU when there is no GPU (checks the script; no meaningful figures)")
    parser.add_argument("--work", default=str(HERE / "_work"), help="folder of the generated file and cache")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu.md"))
    args = parser.parse_args(argv)
    if args.warmup < 0 or args.workers < 0:
        parser.error(f"--warmup and --workers must be >= 0, got {args.warmup} and {args.workers}")
    return args


class StepTimer:
    """Busy time of the training steps: CUDA events on a GPU, the CPU clock on a CPU."""

    def __init__(self, device):
        import torch  # torch: the script's import stays light until it runs

        self.torch, self.cuda = torch, device.type == "cuda"
        self.pairs, self.cpu_busy = [], 0.0

    def start(self):
        if self.cuda:
            event = self.torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def stop(self, begun):
        if self.cuda:
            end = self.torch.cuda.Event(enable_timing=True)
            end.record()
            self.pairs.append((begun, end))
        else:
            self.cpu_busy += time.perf_counter() - begun

    def busy_seconds(self):
        """Call after synchronising: the events have all completed then."""
        if self.cuda:
            return sum(a.elapsed_time(b) for a, b in self.pairs) / 1000.0
        return self.cpu_busy


def train_rate(net, batches, steps, warmup, device):
    """(samples/s, busy fraction) of ``steps`` of ``net.train_step`` on the batches ``batches`` yields."""
    import torch  # torch

    def step(batch, timer=None):
        begun = timer.start() if timer else None
        net.train_step(batch)
        if timer:
            timer.stop(begun)

    for _ in range(warmup):
        step(next(batches))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    timer, n = StepTimer(device), 0
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        step(batch, timer)
        n += len(batch[1])
    sync()
    wall = time.perf_counter() - start
    return n / wall, min(1.0, timer.busy_seconds() / wall)


def estimator(backbone, shape, batch, device, workers, resident):
    """The deep estimator, initialised for ``shape``; its training loader reads with ``workers``."""
    from skquake.models.deep import QuakeRegressor

    loader = {} if resident else {
        "iterator_train__num_workers": workers, "iterator_train__persistent_workers": workers > 0,
        "iterator_train__pin_memory": device.type == "cuda"}
    net = QuakeRegressor(backbone, input_shape=shape, batch_size=batch, device=str(device), **loader)
    return net.initialize()


def feed(net, source, batch, device, seed=0):
    """An endless iterator of ``net``'s training batches from ``source`` (a dataset, or None: the ceiling)."""
    import torch  # torch

    from skquake.datasets import lazy_xy

    if source is None:
        generator = torch.Generator(device=device).manual_seed(seed)
        x = torch.rand((batch,) + tuple(net.input_shape), device=device, generator=generator) + 1e-3
        y = 4.0 + torch.rand((batch, 1), device=device, generator=generator)
        while True:
            yield x, y
    X, y, _ = lazy_xy(source)
    loader = net.get_iterator(net.get_dataset(X, y.reshape(-1, 1)), training=True)
    while True:
        yield from loader


def sources(path, cache_dir, device):
    """Source name -> a function giving the training split it reads (None for the ceiling)."""
    from skquake.datasets import CachedQuakeSet, QuakeSet

    return {"hdf5": lambda: QuakeSet(path, split="train"),
            "cache": lambda: CachedQuakeSet(cache_dir, split="train"),
            "device": lambda: CachedQuakeSet(cache_dir, split="train", in_memory=str(device)),
            "ceiling": lambda: None}


def verdict(rates) -> str:
    ratio = rates["device"] / rates["ceiling"]
    bound = "not input-bound" if ratio >= TARGET else "input-bound"
    return (f"{bound}: device-resident {rates['device']:.1f} vs ceiling {rates['ceiling']:.1f} samples/s "
            f"({ratio:.2f} x, target >= {TARGET})")


def prepare_data(args):
    """The QuakeSet file (given or generated), its cache, the image shape and the training split's size."""
    from skquake.datasets import QuakeSet, make_cache, make_quakeset

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.data:
        path = Path(args.data)
        if not path.is_file():
            raise SystemExit(f"bench_gpu.py: --data {path}: no such file")
    else:
        path = work / f"gpu_{args.size}.h5"
        make_quakeset(path, n_events=args.n_events, patch_size=args.size, random_state=0, overwrite=True)
    with QuakeSet(path, split="train") as ds:
        shape, n_train = tuple(ds.image_shape), len(ds)
    if shape[1:] != (args.size, args.size):
        raise SystemExit(f"bench_gpu.py: --size {args.size} but {path} holds {shape[1]} x {shape[2]} images")
    if max(args.batches) > n_train:
        raise SystemExit(f"bench_gpu.py: --batches {max(args.batches)} is larger than the {n_train} "
                         f"training samples of {path}")
    cache_dir = work / f"{path.stem}.cache"
    make_cache(path, cache_dir, dtype="float16-db", modes=("bitemporal",), overwrite=True)
    return path, cache_dir, shape, n_train


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    import torch  # torch: --help and argument errors do not wait for it

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("bench_gpu.py measures training on a CUDA GPU, and torch.cuda.is_available() is False "
              "here: run it on a machine with a GPU (pass --allow-cpu only to check the script on a "
              "CPU; its figures then mean nothing)", file=sys.stderr)
        return 2
    from skquake.models.deep._device import resolve_auto

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = resolve_auto("auto", device, bfloat16=True)
    channels_last = resolve_auto("auto", device)
    path, cache_dir, shape, n_train = prepare_data(args)
    machine = (f"GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda"
               else "CPU (--allow-cpu: a check of the script, not a measurement)")
    lines = [f"Command: `{command_line(__file__, argv)}`", "",
             (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine}; "
             f"{os.cpu_count()} CPU cores; torch {torch.__version__}; amp={amp}, channels_last={channels_last} "
             f"(the estimators' \"auto\" defaults for {device.type}). Data: {path.name}, {n_train} training "
             f"samples of {' x '.join(map(str, shape))}; (a) and (b) read in {args.workers} DataLoader "
             f"worker(s). Each step is QuakeRegressor.train_step on a batch of the estimator's own training "
             f"DataLoader. {args.steps} timed steps after {args.warmup} warm-up steps per row. Busy: the time "
             "of the training steps (CUDA events on a GPU, the CPU clock on a CPU) over the wall time; the "
             "rest is spent waiting for input."), "",
             "| backbone | batch | source | samples/s | busy | x ceiling |",
             "| --- | --- | --- | --- | --- | --- |"]
    verdicts = []
    for backbone in args.backbones:
        for batch in args.batches:
            rates, busy = {}, {}
            data = sources(path, cache_dir, device)
            for name in SOURCES:
                torch.manual_seed(0)
                resident = name in ("device", "ceiling")
                net = estimator(backbone, shape, batch, device, args.workers, resident)
                batches = feed(net, data[name](), batch, device)
                rates[name], busy[name] = train_rate(net, batches, args.steps, args.warmup, device)
                del batches  # ends the row's DataLoader workers
            for name in SOURCES:
                lines.append(f"| {backbone} | {batch} | {SOURCE_NAMES[name]} | {rates[name]:.1f} | "
                             f"{busy[name]:.0%} | {rates[name] / rates['ceiling']:.2f} |")
                print(lines[-1], flush=True)
            verdicts.append(f"- {backbone}, batch {batch}: {verdict(rates)}")
            print(verdicts[-1], flush=True)
    lines += ["", "Verdicts ((c) device-resident against (d) the ceiling):", "", *verdicts]
    write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
