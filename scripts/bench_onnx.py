#!/usr/bin/env python3
"""ONNX Runtime side of `clipood bench clip`: one CLIP inference workload per process.

    python scripts/bench_onnx.py --model b16 --workload image --batch 8 \
        [--runs 5] [--threads 2] [--format tsv|table]

The same random-weight open_clip model as scripts/bench_torch.py builds (fp32, 224 px), its
encode_image / encode_text exported with torch.onnx.export (TorchScript exporter, opset 17,
fixed batch) to a temporary file, then run by onnxruntime's CPUExecutionProvider with all graph
optimisations, intra_op_num_threads = --threads and inter_op_num_threads = 1. Export and
session creation are not timed. Only the inference workloads (image, text) exist here.

Output: the tsv line of bench_torch.py (same fields, same FLOP formula), or a readable line.
`--info` prints one line about the onnxruntime build and exits.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch  # noqa: E402  (same models, classes, FLOP formula)


def info():
    import onnxruntime as ort
    return (f"onnxruntime {ort.__version__}, providers {','.join(ort.get_available_providers())}, "
            f"device {ort.get_device()}")


def export(model, workload, example, path):
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.encode_image(x) if workload == "image" else self.m.encode_text(x)

    # nn.MultiheadAttention's inference fast path (_native_multi_head_attention) has no ONNX
    # form; the exported graph uses the plain ops instead.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad():
        torch.onnx.export(Wrapper(model).eval(), (example,), path, opset_version=17,
                          input_names=["x"], output_names=["y"], dynamo=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(bench_torch.ARCH))
    ap.add_argument("--workload", choices=("image", "text"))
    ap.add_argument("--batch", type=int, help="default: image 8, text 100")
    ap.add_argument("--runs", type=int, default=5, help="timed calls after 1 warm-up (>= 1)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--format", choices=("table", "tsv"), default="table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--info", action="store_true", help="print the onnxruntime build and exit")
    args = ap.parse_args()
    if args.info:
        print(info())
        return
    batch = bench_torch.checked_batch(ap, args)
    bench_torch.check_classes_file()

    import numpy as np
    import onnxruntime as ort
    import torch
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    model = bench_torch.build_model(args.model)
    if args.workload == "image":
        example = torch.randn(batch, 3, 224, 224, generator=g)
    else:
        import open_clip
        tok = open_clip.get_tokenizer(bench_torch.ARCH[args.model]["open_clip"])
        prompts = [bench_torch.PROMPT.format(bench_torch.CLASSES[i % len(bench_torch.CLASSES)])
                   for i in range(batch)]
        example = tok(prompts)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        export(model, args.workload, example, path)
        del model
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = {"x": example.numpy() if args.workload == "image" else example.numpy().astype(np.int64)}

    def step():
        sess.run(None, x)

    bench_torch.time_and_report("onnxruntime", args, batch, step)


if __name__ == "__main__":
    main()
