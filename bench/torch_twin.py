"""PyTorch twins of bench/models.ts (same shapes, same FLOP counting), timed like bench/bench.ts.

  /usr/bin/python3 bench/torch_twin.py --model convstack|unet --threads N [--batch B] [--steps K]

Prints one line: BENCH_RESULT {json}. Uses NCHW (PyTorch's native layout); the tfjs models are NHWC.
bench/bench.ts starts it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment (this workplace sets
them, and they slow PyTorch down); "kernels" in the result says which BLAS library and oneDNN ISA it actually ran.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvStack(nn.Module):
    def __init__(self):
        super().__init__()
        ch = [3, 64, 64, 64, 3]
        self.convs = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], 3, padding=1) for i in range(4))
        self.in_shape = (3, 32, 32)
        self.fwd_flops = 2 * sum(32 * 32 * 9 * ch[i] * ch[i + 1] for i in range(4))

    def forward(self, x):
        for i, c in enumerate(self.convs):
            x = c(x)
            if i < 3:
                x = F.silu(x)
        return x


class ResBlock(nn.Module):
    def __init__(self, ci, co):
        super().__init__()
        self.n1 = nn.GroupNorm(8, ci)
        self.c1 = nn.Conv2d(ci, co, 3, padding=1)
        self.n2 = nn.GroupNorm(8, co)
        self.c2 = nn.Conv2d(co, co, 3, padding=1)
        self.skip = nn.Conv2d(ci, co, 1) if ci != co else None

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        h = self.c2(F.silu(self.n2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class BenchUnet(nn.Module):
    def __init__(self):
        super().__init__()
        self.cin = nn.Conv2d(1, 32, 3, padding=1)
        self.e1, self.e2 = ResBlock(32, 32), ResBlock(32, 32)
        self.down = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.m1, self.m2 = ResBlock(64, 64), ResBlock(64, 64)
        self.up = nn.Conv2d(64, 32, 3, padding=1)
        self.d1 = ResBlock(64, 32)
        self.nout = nn.GroupNorm(8, 32)
        self.cout = nn.Conv2d(32, 1, 3, padding=1)
        self.in_shape = (1, 16, 16)
        m = 0
        m += 256 * 9 * 1 * 32                      # cin
        m += 2 * 2 * 256 * 9 * 32 * 32             # e1, e2
        m += 64 * 9 * 32 * 64                      # down
        m += 2 * 2 * 64 * 9 * 64 * 64              # m1, m2
        m += 256 * 9 * 64 * 32                     # up
        m += 256 * 9 * 64 * 32 + 256 * 9 * 32 * 32 + 256 * 64 * 32  # d1 (+1x1 skip)
        m += 256 * 9 * 32 * 1                      # cout
        self.fwd_flops = 2 * m

    def forward(self, x):
        s16 = self.e2(self.e1(self.cin(x)))
        h = self.m2(self.m1(self.down(s16)))
        h = self.up(F.interpolate(h, size=(16, 16), mode="nearest"))
        h = self.d1(torch.cat([h, s16], 1))
        return self.cout(F.silu(self.nout(h)))


def blas_library():
    """The BLAS shared library this process mapped, and OpenBLAS's kernel (core) name when it is OpenBLAS."""
    with open("/proc/self/maps") as f:
        libs = sorted({l.split()[-1] for l in f if "blas" in l.lower() and ".so" in l})
    out = []
    for lib in libs:
        name = os.path.basename(os.path.realpath(lib))
        try:
            core = ctypes.CDLL(lib).openblas_get_corename
            core.restype = ctypes.c_char_p
            name += " (OpenBLAS core " + core().decode() + ")"
        except (AttributeError, OSError):
            pass
        out.append(name)
    return ", ".join(out) or "none mapped"


def onednn_isa():
    """oneDNN (MKL-DNN, which runs PyTorch's CPU convolutions) prints its ISA when verbose: one tiny conv in a child."""
    code = "import torch; torch.nn.Conv2d(32, 32, 3, padding=1)(torch.randn(8, 32, 16, 16))"
    try:
        r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ONEDNN_VERBOSE": "1", "DNNL_VERBOSE": "1"},
                           capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unknown (" + str(e) + ")"
    for line in r.stdout.splitlines():
        if ",isa:" in line:
            return line.split(",isa:", 1)[1].strip()
    return "not used" if torch.backends.mkldnn.is_available() else "not built in"


def kernels():
    cap = next((l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l), "?")
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
           if k in os.environ}
    return {"blas": blas_library(), "onednn_isa": onednn_isa(), "aten_cpu_capability": cap,
            "mkldnn_enabled": bool(torch.backends.mkldnn.enabled), "env": env}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["convstack", "unet"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--sampling-reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = ConvStack() if a.model == "convstack" else BenchUnet()
    batch = a.batch or (32 if a.model == "convstack" else 128)
    x = torch.randn(batch, *model.in_shape)
    target = torch.randn(batch, *model.in_shape)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    c0 = time.process_time()
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - c0) * 1000 / a.steps
    samp = []
    with torch.no_grad():
        for i in range(a.sampling_reps + 1):
            t0 = time.perf_counter()
            model(x)
            if i > 0:
                samp.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print("BENCH_RESULT " + json.dumps({
        "system": "pytorch", "threads": torch.get_num_threads(), "model": a.model, "batch": batch,
        "ms_per_step": ms, "samples_per_s": batch * 1000 / ms,
        "gflops": 3 * model.fwd_flops * batch / (ms * 1e6),
        "sample_ms_per_image": statistics.median(samp) / batch,
        "best_ms_per_step": min(times), "cpu_ms_per_step": cpu_ms,
        "backend_note": "torch " + torch.__version__, "kernels": kernels(),
    }), flush=True)


if __name__ == "__main__":
    main()
