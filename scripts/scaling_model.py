#!/usr/bin/env python3
"""Predicted data-parallel scaling of a CLIPood training step (docs/scaling.md explains it).

    scripts/scaling_model.py [--step-b16 S] [--step-l14 S] [--batch 36] [--nodes 4,16,64]
                             [--links 10,100] [--latency-us 20]

Inputs are measured on one node: the step time of the paper's global batch (36 images: 12 per
training domain) for each tower. The model:

  volume V      = 4 bytes x trainable parameters (one fp32 gradient sum per step)
  ring allreduce = 2(N-1)/N x V / B  +  2(N-1) x latency         (B: link bandwidth in bytes/s)
  compute(N)    = step(1) / N          (each rank takes 1/N of the global batch)
  backward(N)   = 2/3 x compute(N)     (the backward pass is about twice the forward)
  step(N)       = compute(N) + max(0, allreduce - backward(N))   (train: per-block buckets summed during the backward)
  step(N)       = compute(N) + allreduce                        (--no-overlap: one sum after the backward, as pretrain does)
  efficiency    = step(1) / (N x step(N))

and the batch per rank below which communication can no longer hide behind the backward pass:
b* = allreduce / (2/3 x step(1) / batch). Perfect splitting of compute is optimistic at small
per-rank batches (GEMMs get thinner); the measured one-node figures say how much.
"""

import argparse

# Trainable parameters of the image towers (CLIP ViT-B/16, ViT-L/14 at 224 px), counted from
# the architecture: patch embedding, class token, positions, ln_pre, blocks, ln_post, proj.
PARAMS = {"ViT-B/16": 86_192_640, "ViT-L/14": 303_966_208}


def ring_allreduce_seconds(volume_bytes, nodes, gbit_per_s, latency_s):
    if nodes == 1:
        return 0.0
    bandwidth = gbit_per_s * 1e9 / 8
    return 2 * (nodes - 1) / nodes * volume_bytes / bandwidth + 2 * (nodes - 1) * latency_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step-b16", type=float, required=True, help="measured s/step of ViT-B/16 at --batch on one node")
    ap.add_argument("--step-l14", type=float, required=True, help="measured s/step of ViT-L/14 at --batch on one node")
    ap.add_argument("--batch", type=int, default=36, help="global images per step (default 36)")
    ap.add_argument("--nodes", default="4,16,64")
    ap.add_argument("--links", default="10,100", help="link speeds in Gb/s")
    ap.add_argument("--latency-us", type=float, default=20.0, help="per-message latency in microseconds")
    ap.add_argument("--no-overlap", dest="overlap", action="store_false",
                    help="one gradient sum after the backward pass (pretrain), not buckets overlapped with it (train)")
    a = ap.parse_args()
    steps = {"ViT-B/16": a.step_b16, "ViT-L/14": a.step_l14}
    nodes = [int(x) for x in a.nodes.split(",")]
    links = [float(x) for x in a.links.split(",")]
    lat = a.latency_us * 1e-6

    print("| tower | link | nodes | images/rank | compute s | allreduce s | step s | steps/s | efficiency |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for tower, step1 in steps.items():
        volume = 4 * PARAMS[tower]
        for gbit in links:
            for n in nodes:
                compute = step1 / n
                ar = ring_allreduce_seconds(volume, n, gbit, lat)
                step = compute + (max(0.0, ar - 2 / 3 * compute) if a.overlap else ar)
                print(f"| {tower} | {gbit:g} Gb/s | {n} | {a.batch / n:.2f} | {compute:.3f} | {ar:.3f} | {step:.3f} | "
                      f"{1 / step:.2f} | {step1 / (n * step) * 100:.0f} % |")
    print()
    print("| tower | gradient volume | link | allreduce (large N) | backward per image | hidden from images/rank |")
    print("|---|---:|---|---:|---:|---:|")
    for tower, step1 in steps.items():
        volume = 4 * PARAMS[tower]
        per_image_backward = 2 / 3 * step1 / a.batch
        for gbit in links:
            ar = 2 * volume / (gbit * 1e9 / 8)
            print(f"| {tower} | {volume / 1e6:.0f} MB | {gbit:g} Gb/s | {ar:.3f} s | {per_image_backward:.3f} s | "
                  f"{ar / per_image_backward:.1f} |")


if __name__ == "__main__":
    main()
