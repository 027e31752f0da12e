#!/usr/bin/env python3
"""PyTorch side of `clipood bench clip`: one CLIP workload per process.

    python scripts/bench_torch.py --model b16 --workload image --batch 8 \
        [--runs 5] [--threads 2] [--format tsv|table] [--precision fp32|bf16]

Random-weight OpenAI CLIP of the real shapes (open_clip `ViT-B-32-quickgelu` /
`ViT-B-16-quickgelu`, pretrained=None: nothing is downloaded), fp32, 224 px,
model.eval() throughout, no torch.compile, default memory format. --precision bf16 runs the
same fp32 model under torch.autocast("cpu", dtype=torch.bfloat16) (the forward and the loss;
backward, AdamW and the BMA update outside it, as autocast is meant to be used).

Workloads (the Swift side runs the same ones: `clipood help bench clip`):
  image        model.encode_image(x) under inference_mode, x ~ N(0,1) (B,3,224,224).
               Unit images/s.
  text         B prompts "a photo of a {}." over CLASSES (B=100 by default), tokenised
               by open_clip's tokenizer (context 77; NOT timed), model.encode_text(ids)
               under inference_mode. Unit prompts/s.
  train        one CLIPood step of the whole image tower (MMS loss, AdamW lr 5e-6 wd 0.1,
               CosineAnnealingLR T_max 1000, zero_grad, fp32 BMA update). Unit s/step.
  train-last1  the same step training only the last residual block + ln_post + proj, the
               frozen prefix's output (the last block's input) computed once before timing.
               Unit s/step.

Timing: 1 warm-up call, then --runs timed calls (time.perf_counter); the median and the
minimum are reported. Output, --format tsv (one line, no header):
  model workload batch unit median min_time_s median_time_s gflops_median peak_rss_mib
median is the throughput at the median time (images/s, prompts/s), or for s/step the median
seconds; gflops_median = flops(model, workload, batch) / median_time_s / 1e9; peak_rss_mib is
ru_maxrss at the end of the process (KiB on Linux) / 1024.
Number formats: median %.3f, times %.6f, GFLOPS %.1f, MiB as an integer (rounded).

`--info` prints one line about this PyTorch build (for bench_compare's header) and exits.
"""

import argparse
import os
import resource
import statistics
import sys
import time

# Never reach the network for weights (pretrained=None already avoids it).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# 100 common nouns: the CIFAR-100 fine class names in their usual (alphabetical) order, with
# '_' written as a space. scripts/bench_classes.txt holds the same list, one per line, for the
# Swift side; main() refuses to run if the two disagree.
CLASSES = [
    "apple", "aquarium fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak tree", "orange", "orchid", "otter", "palm tree", "pear", "pickup truck", "pine tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow tree", "wolf", "woman", "worm",
]
PROMPT = "a photo of a {}."
CLASSES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_classes.txt")

# Architecture numbers of the two models (OpenAI CLIP ViT-B/32 and ViT-B/16). main() checks
# them against the open_clip model it builds.
ARCH = {
    "b32": dict(open_clip="ViT-B-32-quickgelu", image_size=224, patch=32, width=768, layers=12,
                heads=12, mlp_ratio=4, embed_dim=512,
                text_ctx=77, text_width=512, text_layers=12, text_heads=8, text_mlp_ratio=4),
    "b16": dict(open_clip="ViT-B-16-quickgelu", image_size=224, patch=16, width=768, layers=12,
                heads=12, mlp_ratio=4, embed_dim=512,
                text_ctx=77, text_width=512, text_layers=12, text_heads=8, text_mlp_ratio=4),
}
WORKLOADS = ("image", "text", "train", "train-last1")
DEFAULT_BATCH = {"image": 8, "text": 100, "train": 12, "train-last1": 12}

# CLIPood step constants for the benchmark.
N_TRAIN_CLASSES = 7     # rows of T, the normalised text features of the training classes
LAMBDA = 0.3            # margin weight λ
LOGIT_SCALE = 100.0     # CLIP's exp(logit_scale) at convergence
LR, WEIGHT_DECAY, T_MAX = 5e-6, 0.1, 1000
BMA_R = 0.01            # constant BMA ratio r: avg = avg/(1+r) + p·r/(1+r)


# ---------------------------------------------------------------------------------------------
# Analytic FLOP count (the Swift side uses the same arithmetic).
#
# Only matrix products are counted, each as 2·M·N·K; layer norms, softmax, activations,
# residual adds, embeddings lookups, the loss and the optimiser are not counted.
#
# One transformer block on n tokens of width w with MLP hidden size h = mlp_ratio·w
# (the heads split w, so the head count drops out):
#   qkv projection        2·n·w·3w
#   attention scores QKᵀ  2·n·n·w      (all heads together; causal masking not exploited)
#   attention · V         2·n·n·w
#   output projection     2·n·w·w
#   MLP up / down         2·n·w·h + 2·n·h·w
#   block(n, w, h) = 8·n·w² + 4·n²·w + 4·n·w·h
#
# Image tower, per image: g = image_size/patch, n = g² + 1 (class token)
#   patch embedding       2·g²·(3·patch²)·w
#   layers × block(n, w, mlp_ratio·w)
#   final projection      2·w·embed_dim    (CLS row only)
# Text tower, per prompt: the full context n = 77 is counted (what a dense implementation
#   computes), text_layers × block(77, tw, text_mlp_ratio·tw) + 2·tw·embed_dim (EOT row only).
#
# image:        batch × image_forward
# text:         batch × text_forward
# train:        3 × batch × image_forward         (forward + backward ≈ 3× forward; the whole
#                                                  image tower is trained, nothing else runs)
# train-last1:  3 × batch × (block(n, w, h) + 2·w·embed_dim)
#                                                 (only the last block + head run in the timed
#                                                  step; the frozen prefix is precomputed)
# Exact shortcuts (the causal text cut-off, the CLS-only last block) do not change the count:
# GFLOPS are nominal FLOPs of the dense computation / time.
#
# ViT-B/32: image_forward = 8.8176 GFLOP, last block + head = 0.7163 GFLOP.
# ViT-B/16: image_forward = 35.1269 GFLOP, last block + head = 2.9087 GFLOP.
# Text (both): text_forward = 5.9595 GFLOP per prompt.
# ---------------------------------------------------------------------------------------------

def block_flops(n, w, h):
    return 8 * n * w * w + 4 * n * n * w + 4 * n * w * h


def image_forward_flops(a):
    g = a["image_size"] // a["patch"]
    n = g * g + 1
    w = a["width"]
    patch_embed = 2 * g * g * (3 * a["patch"] * a["patch"]) * w
    blocks = a["layers"] * block_flops(n, w, a["mlp_ratio"] * w)
    head = 2 * w * a["embed_dim"]
    return patch_embed + blocks + head


def text_forward_flops(a):
    n, w = a["text_ctx"], a["text_width"]
    return a["text_layers"] * block_flops(n, w, a["text_mlp_ratio"] * w) + 2 * w * a["embed_dim"]


def last_block_and_head_flops(a):
    g = a["image_size"] // a["patch"]
    n = g * g + 1
    w = a["width"]
    return block_flops(n, w, a["mlp_ratio"] * w) + 2 * w * a["embed_dim"]


def flops(model, workload, batch):
    """Nominal FLOPs of one timed call; model is 'b32'/'b16' (or an ARCH-like dict)."""
    a = ARCH[model] if isinstance(model, str) else model
    if workload == "image":
        return batch * image_forward_flops(a)
    if workload == "text":
        return batch * text_forward_flops(a)
    if workload == "train":
        return 3 * batch * image_forward_flops(a)
    if workload == "train-last1":
        return 3 * batch * last_block_and_head_flops(a)
    raise ValueError(f"unknown workload {workload!r}")


# ---------------------------------------------------------------------------------------------

def unit_of(workload):
    return {"image": "images/s", "text": "prompts/s"}.get(workload, "s/step")


def checked_batch(ap, args):
    """The batch to time, after the checks both benchmark scripts make of their arguments."""
    if args.model is None or args.workload is None:
        ap.error("--model and --workload are required")
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    batch = args.batch if args.batch is not None else DEFAULT_BATCH[args.workload]
    if batch < 1:
        ap.error("--batch must be >= 1")
    return batch


def check_classes_file():
    try:
        with open(CLASSES_FILE, encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
    except OSError as e:
        sys.exit(f"bench_torch: cannot read {CLASSES_FILE}: {e}")
    if lines != CLASSES:
        sys.exit(f"bench_torch: {CLASSES_FILE} differs from CLASSES in {__file__}")


def check_arch(model, a):
    """The numbers flops() uses must be those of the model that is timed."""
    v = model.visual
    got = dict(
        image_size=v.image_size[0] if isinstance(v.image_size, tuple) else v.image_size,
        patch=v.conv1.kernel_size[0],
        width=v.conv1.out_channels,
        layers=len(v.transformer.resblocks),
        heads=v.transformer.resblocks[0].attn.num_heads,
        mlp_ratio=v.transformer.resblocks[0].mlp.c_fc.out_features // v.conv1.out_channels,
        embed_dim=v.proj.shape[1],
        text_ctx=model.context_length,
        text_width=model.transformer.width,
        text_layers=len(model.transformer.resblocks),
        text_heads=model.transformer.resblocks[0].attn.num_heads,
        text_mlp_ratio=(model.transformer.resblocks[0].mlp.c_fc.out_features
                        // model.transformer.width),
    )
    for k, val in got.items():
        if a[k] != val:
            sys.exit(f"bench_torch: ARCH[{k}]={a[k]} but the model has {val}")
    act = type(v.transformer.resblocks[0].mlp.gelu).__name__
    if act != "QuickGELU":
        sys.exit(f"bench_torch: expected QuickGELU in the image tower, got {act}")


def build_model(name):
    import open_clip
    import torch
    model = open_clip.create_model(ARCH[name]["open_clip"], pretrained=None, precision="fp32",
                                   device="cpu")
    model.eval()
    for p in model.parameters():
        if p.dtype != torch.float32:
            sys.exit("bench_torch: model is not fp32")
    check_arch(model, ARCH[name])
    return model


def autocast_ctx(on):
    """torch.autocast to bfloat16 on the CPU, or a context that does nothing."""
    import contextlib
    import torch
    return torch.autocast("cpu", dtype=torch.bfloat16) if on else contextlib.nullcontext()


def make_image_step(model, batch, g, autocast=False):
    import torch
    x = torch.randn(batch, 3, 224, 224, generator=g)
    for p in model.parameters():
        p.requires_grad_(False)

    def step():
        with torch.inference_mode(), autocast_ctx(autocast):
            model.encode_image(x)
    return step


def make_text_step(model, name, batch, autocast=False):
    import open_clip
    import torch
    tokenizer = open_clip.get_tokenizer(ARCH[name]["open_clip"])
    prompts = [PROMPT.format(CLASSES[i % len(CLASSES)]) for i in range(batch)]
    ids = tokenizer(prompts)                    # (batch, 77) int64, padded with 0 as CLIP does
    assert ids.shape == (batch, ARCH[name]["text_ctx"]), ids.shape
    for p in model.parameters():
        p.requires_grad_(False)

    def step():
        with torch.inference_mode(), autocast_ctx(autocast):
            model.encode_text(ids)
    return step


def make_train_step(model, batch, g, last1, autocast=False):
    """One CLIPood step (MMS loss, AdamW, cosine schedule, fp32 BMA) as in thuml/CLIPood."""
    import torch
    import torch.nn.functional as F
    v = model.visual
    embed = model.visual.proj.shape[1]

    for p in model.parameters():
        p.requires_grad_(False)
    if last1:
        trainable = (list(v.transformer.resblocks[-1].parameters())
                     + list(v.ln_post.parameters()) + [v.proj])
    else:
        trainable = list(v.parameters())
    for p in trainable:
        p.requires_grad_(True)

    x = torch.randn(batch, 3, 224, 224, generator=g)
    y = torch.randint(0, N_TRAIN_CLASSES, (batch,), generator=g)
    T = torch.randn(N_TRAIN_CLASSES, embed, generator=g)
    T = T / T.norm(dim=-1, keepdim=True)

    optimizer = torch.optim.AdamW(trainable, lr=LR, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T_MAX)
    avg = [p.detach().clone() for p in trainable]      # BMA weights, fp32

    if last1:
        # The frozen prefix, computed once: open_clip's VisionTransformer.forward is
        # _embeds (conv1, flatten, class token, positional embedding, patch dropout = identity
        # in eval, ln_pre) -> transformer -> _pool (ln_post, CLS) -> @ proj. Its Transformer
        # takes (N, L, D) when batch_first and (L, N, D) otherwise.
        blocks = v.transformer.resblocks
        batch_first = getattr(v.transformer, "batch_first", False)
        with torch.no_grad():
            h = v._embeds(x)
            if not batch_first:
                h = h.transpose(0, 1).contiguous()
            for r in blocks[:-1]:
                h = r(h)
            cache = h.contiguous()
        last = blocks[-1]

        def image_features():
            h = last(cache)
            if not batch_first:
                h = h.transpose(0, 1)
            pooled, _ = v._pool(h)
            return pooled @ v.proj
    else:
        def image_features():
            return model.encode_image(x)

    a, b = 1.0 / (1.0 + BMA_R), BMA_R / (1.0 + BMA_R)

    def step():
        with autocast_ctx(autocast):
            f = image_features()
            f = f.float()
            f = f / f.norm(dim=-1, keepdim=True)
            f = f - LAMBDA * T[y]
            logits = LOGIT_SCALE * f @ T.t()
            loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        with torch.no_grad():
            for m, p in zip(avg, trainable):
                m.mul_(a).add_(p, alpha=b)
    return step


def torch_info():
    import re
    import torch
    import open_clip
    cfg = torch.__config__.show()
    parts = [f"torch {torch.__version__}", f"open_clip {open_clip.__version__}"]
    m = re.search(r"BLAS_INFO=(\w+)", cfg)
    parts.append(f"BLAS {m.group(1) if m else 'unknown'}")
    m = re.search(r"Math Kernel Library Version ([0-9.]+)", cfg)
    if m:
        parts.append(f"MKL {m.group(1)}")
    m = re.search(r"MKL-DNN (v\S+)", cfg)
    if m:
        parts.append(f"oneDNN {m.group(1)}")
    parts.append(f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    parts.append(f"{torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} "
                 "inter-op threads")
    return ", ".join(parts)


def time_and_report(impl, args, batch, step):
    """One warm-up call of `step`, then `args.runs` timed calls; prints the line bench_compare
    reads (tsv) or a readable one. Shared with bench_onnx.py, so both report alike."""
    step()                                              # warm-up
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med_t, min_t = statistics.median(times), min(times)
    unit = unit_of(args.workload)
    median = med_t if unit == "s/step" else batch / med_t
    gflops = flops(args.model, args.workload, batch) / med_t / 1e9
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux
    if args.format == "tsv":
        print("\t".join([args.model, args.workload, str(batch), unit, f"{median:.3f}",
                         f"{min_t:.6f}", f"{med_t:.6f}", f"{gflops:.1f}",
                         str(int(round(rss_mib)))]))
    else:
        print(f"{impl} {args.model} {args.workload} batch={batch}: {median:.3f} {unit} "
              f"(median {med_t:.4f} s, min {min_t:.4f} s over {args.runs} runs, "
              f"{args.threads} threads), {gflops:.1f} GFLOPS, peak RSS {rss_mib:.0f} MiB")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(ARCH))
    ap.add_argument("--workload", choices=WORKLOADS)
    ap.add_argument("--batch", type=int, help="default: image 8, text 100, train* 12")
    ap.add_argument("--runs", type=int, default=5, help="timed calls after 1 warm-up (>= 1)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="torch.set_num_threads (default: usable cores)")
    ap.add_argument("--format", choices=("table", "tsv"), default="table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="bf16: torch.autocast(cpu, bfloat16) around the forward and the loss")
    ap.add_argument("--info", action="store_true",
                    help="print the torch build (version, BLAS, CPU capability) and exit")
    args = ap.parse_args()

    import torch
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)

    if args.info:
        print(torch_info())
        return
    batch = checked_batch(ap, args)
    check_classes_file()

    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    model = build_model(args.model)
    autocast = args.precision == "bf16"
    if args.workload == "image":
        step = make_image_step(model, batch, g, autocast)
    elif args.workload == "text":
        step = make_text_step(model, args.model, batch, autocast)
    else:
        step = make_train_step(model, batch, g, last1=(args.workload == "train-last1"),
                               autocast=autocast)

    time_and_report("torch", args, batch, step)


if __name__ == "__main__":
    main()
