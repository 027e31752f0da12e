#!/usr/bin/env python3
"""Generate the PyTorch parity fixtures that clipood's Swift tests compare against.

No real CLIP weights can be downloaded, so parity is shown on small models with
random weights that have every feature of the real architectures: LayerNorms
with non-trivial weights and biases, attention biases, a class token, learned
positional embeddings, a causal text tower, QuickGELU or GELU, projections and a
logit scale. Every parameter is randomised, so every parameter influences the
outputs and receives a gradient -- except the attention key biases, whose gradient
is zero in exact arithmetic (softmax ignores a per-query constant), so their stored
gradients are rounding noise around 1e-17 and need an absolute tolerance.

What it writes (under --out, default Tests/Fixtures):

  models/hf_quickgelu/            transformers CLIPModel directory, F32, QuickGELU,
                                  text eos_token_id=2 (legacy: pool at argmax of ids)
  models/hf_gelu_f16/             transformers CLIPModel directory, F16, exact GELU,
                                  text eos_token_id=997 (pool at first eos)
  models/openclip_bf16.safetensors + .json
                                  open_clip CLIP state dict in BF16 (OpenAI names) and
                                  its open_clip model config
  models/openai_noconfig.safetensors
                                  OpenAI-named F32 state dict with no config: the
                                  architecture must be inferred from tensor shapes
  models/<name>.expected.safetensors
                                  inputs, embeddings, pooled features, block-0
                                  outputs, a scalar loss and the gradient of that loss
                                  for every parameter and for the input pixels
  tokenizer/cases.json            open_clip SimpleTokenizer ids for >200 strings
  preprocess/*.png|*.jpg, preprocess/expected.safetensors, preprocess/manifest.json
                                  CLIP eval preprocessing (Pillow decode, torchvision
                                  Resize + CenterCrop + ToTensor + Normalize)
  training/mms_parity.safetensors
                                  20 steps of CLIPood fine-tuning (MMS loss, AdamW, cosine
                                  lr, BMA with beta 0.5 and 0.1) of models/hf_quickgelu's
                                  vision side, replayed in float32 as the official loop
                                  runs it, plus a lambda = 0 (plain cross-entropy) run

References are computed by the libraries themselves (transformers' CLIPModel,
open_clip's CLIP) in float64 from the weights exactly as stored (F16/BF16 weights
are widened), then cast to float32. Each expected file's metadata also records how
far a float32 PyTorch run lands from the float64 reference, as a guide to test
tolerances. The training fixture is the exception: its reference is the float32
trajectory itself (what a float32 trainer must reproduce), and its metadata records
how far the same replay in float64 lands.

    python scripts/make_fixtures.py                 # regenerate Tests/Fixtures
    python scripts/make_fixtures.py --only training # just training/ (needs models/hf_quickgelu)
    python scripts/make_fixtures.py --full /tmp/b16 # full-size random ViT-B/16 (not committed)

Output is deterministic for fixed package versions (scripts/requirements-fixtures.txt).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import open_clip
import PIL
import safetensors
import torchvision
import transformers
from open_clip.model import CLIP as OpenClipCLIP
from open_clip.model import build_model_from_openai_state_dict
from PIL import Image, features
from safetensors.torch import load_file, save_file
from torchvision import transforms as T
from transformers import CLIPConfig, CLIPModel

CONTEXT_LENGTH = 77
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
LOSS_C = 0.5  # weight of logit_scale in the fixture loss
N_IMAGES = 2
N_TEXTS = 3
LOSS_FORMULA = (
    "sum(normalize(image_embeds) * G_img) + sum(normalize(text_embeds) * G_txt)"
    " + logit_scale * c, normalize = x / max(||x||_2, 1e-12) along the last axis,"
    " logit_scale = the raw parameter (log of the scale), c = 0.5"
)


# --------------------------------------------------------------------------------------
# Versions and file helpers
# --------------------------------------------------------------------------------------

def package_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "transformers": transformers.__version__,
        "open_clip_torch": open_clip.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "libjpeg": str(features.version("jpg")),
        "libjpeg_turbo": str(features.version("libjpeg_turbo")),
        "zlib": str(features.version("zlib")),
    }


def base_metadata(**extra: object) -> dict[str, str]:
    meta = {"generator": "scripts/make_fixtures.py"}
    meta.update({f"version.{k}": v for k, v in package_versions().items()})
    for key, value in extra.items():
        meta[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return meta


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path), metadata=metadata)
    canonicalize_header(path)


def canonicalize_header(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys so that reruns give identical bytes.

    save_file emits the header's JSON objects in hash-map order; the tensor data and
    offsets are untouched (offsets are relative to the end of the header).
    """
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])


def write_json(path: Path, obj: object, compact_lists: str | None = None) -> None:
    """Pretty JSON; with compact_lists=KEY the items of that top-level list take one line each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compact_lists is None:
        text = json.dumps(obj, indent=1, ensure_ascii=False)
    else:
        head = {k: v for k, v in obj.items() if k != compact_lists}
        rows = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in obj[compact_lists])
        text = json.dumps(head, indent=1, ensure_ascii=False)[:-2] + f',\n "{compact_lists}": [\n{rows}\n ]\n}}'
    path.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Random initialisation: every parameter gets a non-trivial value
# --------------------------------------------------------------------------------------

LOGIT_SCALE_INIT = math.log(1 / 0.07)


def randomize_(model: nn.Module, seed: int) -> None:
    """Overwrite every parameter of `model` with seeded random values.

    Weight matrices get std fan_in**-0.5 (activations stay O(1) through the towers),
    biases 0.05, LayerNorm weights 1 + 0.1*N and biases 0.1*N, embeddings 0.2-0.5,
    logit_scale log(1/0.07) + 0.1*N. Raises on any parameter it does not recognise.
    """
    gen = torch.Generator().manual_seed(seed)

    def normal(shape: torch.Size, std: float, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=gen, dtype=torch.float64) * std + mean

    seen = set()
    with torch.no_grad():
        for mod_name, mod in model.named_modules():
            for pname, p in mod.named_parameters(recurse=False):
                full = f"{mod_name}.{pname}" if mod_name else pname
                value = _init_value(mod, pname, p, normal, full)
                p.copy_(value.to(p.dtype))
                seen.add(full)
    missing = {n for n, _ in model.named_parameters()} - seen
    if missing:
        raise RuntimeError(f"parameters not randomised: {sorted(missing)}")


def _init_value(mod, pname, p, normal, full):
    shape = p.shape
    if isinstance(mod, nn.LayerNorm):
        return normal(shape, 0.1, 1.0) if pname == "weight" else normal(shape, 0.1)
    if isinstance(mod, nn.Embedding):
        token = "token" in full
        return normal(shape, 0.5 if token else 0.2)
    if isinstance(mod, nn.Conv2d):
        return normal(shape, (shape[1] * shape[2] * shape[3]) ** -0.5)
    if isinstance(mod, (nn.Linear, nn.MultiheadAttention)):
        if pname.endswith("bias"):
            return normal(shape, 0.05)
        return normal(shape, shape[1] ** -0.5)
    if pname == "logit_scale":
        return normal(shape, 0.1, LOGIT_SCALE_INIT)
    if pname == "class_embedding":
        return normal(shape, 0.5)
    if pname == "positional_embedding":
        return normal(shape, 0.2)
    if pname in ("proj", "text_projection"):  # OpenAI layout: [width, embed_dim]
        return normal(shape, shape[0] ** -0.5)
    raise RuntimeError(f"no initialiser for parameter {full} of {type(mod).__name__}")


# --------------------------------------------------------------------------------------
# Model specifications
# --------------------------------------------------------------------------------------

@dataclass
class Tower:
    width: int
    layers: int
    heads: int


@dataclass
class Spec:
    name: str
    fmt: str                 # "hf", "openclip" or "openai"
    storage: torch.dtype     # dtype of the stored weights
    act: str                 # "quick_gelu" or "gelu"
    seed: int
    vision: Tower
    patch: int
    image_size: int
    text: Tower
    vocab: int
    embed_dim: int
    sot: int
    eot: int
    pad: int
    pooling: str             # "argmax" or "first_eos"
    hf_tokens: dict = field(default_factory=dict)   # bos/eos/pad ids for HF text configs
    notes: str = ""


TINY_SPECS = [
    Spec(
        name="hf_quickgelu", fmt="hf", storage=torch.float32, act="quick_gelu", seed=101,
        vision=Tower(64, 2, 4), patch=8, image_size=48,
        text=Tower(48, 2, 4), vocab=1000, embed_dim=32,
        sot=998, eot=999, pad=0, pooling="argmax",
        hf_tokens={"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1},
        notes="legacy HF text config (eos_token_id=2): transformers pools at argmax(input_ids)",
    ),
    Spec(
        name="hf_gelu_f16", fmt="hf", storage=torch.float16, act="gelu", seed=202,
        vision=Tower(32, 2, 2), patch=7, image_size=28,
        text=Tower(32, 2, 2), vocab=1000, embed_dim=24,
        sot=996, eot=997, pad=997, pooling="first_eos",
        hf_tokens={"bos_token_id": 996, "eos_token_id": 997, "pad_token_id": 997},
        notes=("eos_token_id=997 is not the largest id (998 and 999 play 'added tokens'), so"
               " transformers pools at the FIRST position where input_ids == 997; rows 1 and 2"
               " of input_ids are chosen so that argmax pooling would pick another position"),
    ),
    Spec(
        name="openclip_bf16", fmt="openclip", storage=torch.bfloat16, act="quick_gelu", seed=303,
        vision=Tower(48, 2, 3), patch=8, image_size=40,
        text=Tower(32, 2, 2), vocab=1000, embed_dim=24,
        sot=998, eot=999, pad=0, pooling="argmax",
        notes="open_clip CLIP, text pool_type argmax; vision heads = width / head_width",
    ),
    Spec(
        name="openai_noconfig", fmt="openai", storage=torch.float32, act="quick_gelu", seed=404,
        vision=Tower(64, 2, 1), patch=4, image_size=16,
        text=Tower(64, 1, 1), vocab=256, embed_dim=32,
        sot=254, eot=255, pad=0, pooling="argmax",
        notes=("no config: infer as OpenAI clip/model.py build_model does (vision width ="
               " conv1.weight.shape[0], patch = conv1 kernel, grid = sqrt(len(visual.positional_embedding)-1),"
               " image = patch*grid, layers = count of resblocks per tower, text width ="
               " ln_final.weight.shape[0], heads = width // 64 for both towers, vocab ="
               " token_embedding rows, context = positional_embedding rows, embed_dim ="
               " text_projection.shape[1]); QuickGELU"),
    ),
]


def open_clip_cfg(spec: Spec) -> dict:
    """The open_clip model config (same layout as open_clip/model_configs/*.json)."""
    return {
        "embed_dim": spec.embed_dim,
        "quick_gelu": spec.act == "quick_gelu",
        "vision_cfg": {
            "image_size": spec.image_size,
            "layers": spec.vision.layers,
            "width": spec.vision.width,
            "head_width": spec.vision.width // spec.vision.heads,
            "mlp_ratio": 4.0,
            "patch_size": spec.patch,
        },
        "text_cfg": {
            "context_length": CONTEXT_LENGTH,
            "vocab_size": spec.vocab,
            "width": spec.text.width,
            "heads": spec.text.heads,
            "layers": spec.text.layers,
            "mlp_ratio": 4.0,
        },
    }


def build_open_clip(cfg: dict) -> OpenClipCLIP:
    cfg = copy.deepcopy(cfg)
    return OpenClipCLIP(cfg.pop("embed_dim"), cfg.pop("vision_cfg"), cfg.pop("text_cfg"),
                        quick_gelu=cfg.pop("quick_gelu", False)).eval()


def hf_config(spec: Spec, vocab: int | None = None) -> CLIPConfig:
    text = dict(
        vocab_size=vocab or spec.vocab, hidden_size=spec.text.width,
        intermediate_size=4 * spec.text.width, num_hidden_layers=spec.text.layers,
        num_attention_heads=spec.text.heads, max_position_embeddings=CONTEXT_LENGTH,
        hidden_act=spec.act, layer_norm_eps=1e-5, projection_dim=spec.embed_dim, **spec.hf_tokens,
    )
    vision = dict(
        hidden_size=spec.vision.width, intermediate_size=4 * spec.vision.width,
        num_hidden_layers=spec.vision.layers, num_attention_heads=spec.vision.heads,
        image_size=spec.image_size, patch_size=spec.patch, hidden_act=spec.act,
        layer_norm_eps=1e-5, projection_dim=spec.embed_dim,
    )
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=spec.embed_dim,
                      logit_scale_init_value=LOGIT_SCALE_INIT)


# --------------------------------------------------------------------------------------
# Fixed inputs
# --------------------------------------------------------------------------------------

def make_input_ids(spec: Spec, gen: torch.Generator) -> torch.Tensor:
    """Three rows like open_clip.tokenize output: short, medium, full-length (truncated)."""
    words_hi = min(spec.sot, spec.eot)  # ordinary word ids stay below both special ids
    ids = torch.full((N_TEXTS, CONTEXT_LENGTH), spec.pad, dtype=torch.int64)

    def words(n: int) -> list[int]:
        return torch.randint(1, words_hi, (n,), generator=gen).tolist()

    if spec.pooling == "first_eos":
        # HF-tokenizer style padding with the eos id, plus ids above eos ("added tokens").
        added_a, added_b = spec.eot + 1, spec.eot + 2
        rows = [
            [spec.sot] + words(5) + [spec.eot],                                 # both rules agree
            [spec.sot] + words(3) + [added_a] + words(4) + [spec.eot],          # argmax -> added token
            [spec.sot] + words(6) + [spec.eot, added_b, added_a] + words(2),    # added ids after eos, then padding 0
        ]
        ids[2].fill_(0)
    else:
        rows = [
            [spec.sot] + words(5) + [spec.eot],
            [spec.sot] + words(20) + [spec.eot],
            [spec.sot] + words(CONTEXT_LENGTH - 2) + [spec.eot],                # eot at the last slot
        ]
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    assert int(ids.max()) < spec.vocab
    return ids


def pool_index(spec: Spec, ids: torch.Tensor) -> torch.Tensor:
    if spec.pooling == "argmax":
        return ids.argmax(dim=-1)
    return (ids == spec.eot).int().argmax(dim=-1)


# --------------------------------------------------------------------------------------
# Forward passes through the libraries, with debugging taps
# --------------------------------------------------------------------------------------

def _tap(module: nn.Module, store: dict, key: str):
    return module.register_forward_hook(lambda _m, _i, out: store.__setitem__(key, out))


def forward_hf(model: CLIPModel, spec: Spec, pixel_values, input_ids) -> dict:
    taps: dict = {}
    hooks = [_tap(model.vision_model.encoder.layers[0], taps, "vision_block0_out"),
             _tap(model.text_model.encoder.layers[0], taps, "text_block0_out")]
    try:
        vout = model.vision_model(pixel_values=pixel_values)
        tout = model.text_model(input_ids=input_ids)
    finally:
        for h in hooks:
            h.remove()
    vision_pooled = vout.pooler_output
    text_pooled = tout.pooler_output
    # Which position did transformers pool? Check it against the documented rule.
    idx = pool_index(spec, input_ids)
    rows = torch.arange(input_ids.shape[0])
    if not torch.equal(tout.last_hidden_state[rows, idx], text_pooled):
        raise RuntimeError(f"{spec.name}: transformers pooled a different text position than {spec.pooling}")
    return {
        "image_embeds": model.visual_projection(vision_pooled),
        "text_embeds": model.text_projection(text_pooled),
        "vision_pooled": vision_pooled,
        "text_pooled": text_pooled,
        "vision_block0_out": _first(taps["vision_block0_out"]),
        "text_block0_out": _first(taps["text_block0_out"]),
        "text_pool_index": idx,
        "logit_scale": model.logit_scale,
    }


def forward_open_clip(model: OpenClipCLIP, spec: Spec, pixel_values, input_ids) -> dict:
    taps: dict = {}
    hooks = [_tap(model.visual.transformer.resblocks[0], taps, "vision_block0_out"),
             _tap(model.transformer.resblocks[0], taps, "text_block0_out"),
             _tap(model.visual.ln_post, taps, "ln_post"),
             _tap(model.ln_final, taps, "ln_final")]
    try:
        image_embeds = model.encode_image(pixel_values)
        text_embeds = model.encode_text(input_ids)
    finally:
        for h in hooks:
            h.remove()
    idx = pool_index(spec, input_ids)
    rows = torch.arange(input_ids.shape[0])
    vision_pooled = taps["ln_post"][:, 0]
    text_pooled = taps["ln_final"][rows, idx]
    if not torch.allclose(text_pooled @ model.text_projection, text_embeds, rtol=1e-6, atol=1e-6):
        raise RuntimeError(f"{spec.name}: open_clip pooled a different text position than {spec.pooling}")
    return {
        "image_embeds": image_embeds,
        "text_embeds": text_embeds,
        "vision_pooled": vision_pooled,
        "text_pooled": text_pooled,
        "vision_block0_out": _first(taps["vision_block0_out"]),
        "text_block0_out": _first(taps["text_block0_out"]),
        "text_pool_index": idx,
        "logit_scale": model.logit_scale,
    }


def _first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


def fixture_loss(out: dict, g_img: torch.Tensor, g_txt: torch.Tensor) -> torch.Tensor:
    img = F.normalize(out["image_embeds"], dim=-1)
    txt = F.normalize(out["text_embeds"], dim=-1)
    return (img * g_img).sum() + (txt * g_txt).sum() + out["logit_scale"] * LOSS_C


def run_reference(model: nn.Module, forward, spec: Spec, pixel_values, input_ids, g_img, g_txt) -> dict:
    """Forward + backward in the model's dtype; returns outputs, loss and gradients (float64 CPU)."""
    dtype = next(model.parameters()).dtype
    model.zero_grad(set_to_none=True)
    for p in model.parameters():
        p.requires_grad_(True)
    px = pixel_values.to(dtype).clone().requires_grad_(True)
    out = forward(model, spec, px, input_ids)
    loss = fixture_loss(out, g_img.to(dtype), g_txt.to(dtype))
    loss.backward()
    result = {k: v.detach().double() if v.is_floating_point() else v.detach()
              for k, v in out.items() if k != "logit_scale"}
    result["loss"] = loss.detach().double().reshape(1)
    result["grads"] = {n: p.grad.detach().double() for n, p in model.named_parameters()}
    result["grad.pixel_values"] = px.grad.detach().double()
    return result


def max_abs_diff(a: dict, b: dict) -> dict[str, float]:
    keys = ["image_embeds", "text_embeds", "vision_block0_out", "text_block0_out", "loss", "grad.pixel_values"]
    diffs = {k: float((a[k] - b[k]).abs().max()) for k in keys}
    diffs["grads(max over params)"] = max(float((a["grads"][n] - b["grads"][n]).abs().max()) for n in a["grads"])
    return {k: float(f"{v:.3g}") for k, v in diffs.items()}


# --------------------------------------------------------------------------------------
# Writing the weight files in each format and loading them back as references
# --------------------------------------------------------------------------------------

def rewrite_with_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Re-save a safetensors file with our metadata (tensors unchanged, 'format' kept)."""
    save_tensors(path, load_file(str(path)), {"format": "pt", **metadata})


def write_hf_model(spec: Spec, model_dir: Path) -> None:
    model = CLIPModel(hf_config(spec)).eval()
    randomize_(model, spec.seed)
    model = model.to(spec.storage)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model.save_pretrained(str(model_dir), safe_serialization=True)
    write_preprocessor_config(model_dir, spec.image_size)
    rewrite_with_metadata(model_dir / "model.safetensors", base_metadata(
        fixture=spec.name, description="random-initialised tiny transformers CLIPModel",
        weights_dtype=str(spec.storage), seed=str(spec.seed)))


def write_preprocessor_config(model_dir: Path, size: int) -> None:
    """A preprocessor_config.json as transformers' CLIPImageProcessor writes it."""
    write_json(model_dir / "preprocessor_config.json", {
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": list(CLIP_MEAN),
        "image_processor_type": "CLIPImageProcessor",
        "image_std": list(CLIP_STD),
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": size},
    })


def load_hf_reference(model_dir: Path, dtype: torch.dtype) -> CLIPModel:
    # sdpa keeps float64 end to end (the eager path does its softmax in float32).
    return CLIPModel.from_pretrained(str(model_dir), dtype=dtype, attn_implementation="sdpa").eval()


def write_openclip_model(spec: Spec, models_dir: Path) -> tuple[Path, dict]:
    cfg = open_clip_cfg(spec)
    model = build_open_clip(cfg)
    randomize_(model, spec.seed)
    state = {k: v.to(spec.storage) for k, v in model.state_dict().items()}
    path = models_dir / f"{spec.name}.safetensors"
    meta = dict(fixture=spec.name, weights_dtype=str(spec.storage), seed=str(spec.seed))
    if spec.fmt == "openclip":
        write_json(models_dir / f"{spec.name}.json", cfg)
        meta["description"] = f"open_clip CLIP state dict (OpenAI names); config in {spec.name}.json"
    else:
        meta["description"] = "OpenAI-style CLIP state dict, no config: infer the architecture from shapes"
    save_tensors(path, state, base_metadata(**meta))
    return path, cfg


def load_openclip_reference(spec: Spec, path: Path, cfg: dict, dtype: torch.dtype) -> OpenClipCLIP:
    state = {k: v.to(dtype) for k, v in load_file(str(path)).items()}
    if spec.fmt == "openai":
        # Let open_clip infer the architecture from shapes (as OpenAI's build_model does),
        # then reload at full precision: that helper casts weights to float16 internally.
        model = build_model_from_openai_state_dict(dict(state), quick_gelu=True, cast_dtype=None)
        inferred = {n: tuple(p.shape) for n, p in model.named_parameters()}
        built = {n: tuple(p.shape) for n, p in build_open_clip(cfg).named_parameters()}
        if inferred != built:
            raise RuntimeError(f"{spec.name}: shape inference disagrees with the generating config")
    else:
        model = build_open_clip(cfg)
    model = model.to(dtype)
    model.load_state_dict(state, strict=True)
    return model.eval()


# --------------------------------------------------------------------------------------
# Model fixtures
# --------------------------------------------------------------------------------------

def make_model_fixture(spec: Spec, models_dir: Path) -> None:
    print(f"[model] {spec.name}", flush=True)
    gen = torch.Generator().manual_seed(spec.seed + 1)
    pixel_values = torch.randn(N_IMAGES, 3, spec.image_size, spec.image_size, generator=gen)
    input_ids = make_input_ids(spec, gen)
    g_img = torch.randn(N_IMAGES, spec.embed_dim, generator=gen)
    g_txt = torch.randn(N_TEXTS, spec.embed_dim, generator=gen)

    if spec.fmt == "hf":
        weight_path = models_dir / spec.name / "model.safetensors"
        write_hf_model(spec, models_dir / spec.name)
        ref64 = load_hf_reference(models_dir / spec.name, torch.float64)
        ref32 = load_hf_reference(models_dir / spec.name, torch.float32)
        forward = forward_hf
    else:
        weight_path, cfg = write_openclip_model(spec, models_dir)
        ref64 = load_openclip_reference(spec, weight_path, cfg, torch.float64)
        ref32 = load_openclip_reference(spec, weight_path, cfg, torch.float32)
        forward = forward_open_clip

    r64 = run_reference(ref64, forward, spec, pixel_values, input_ids, g_img, g_txt)
    r32 = run_reference(ref32, forward, spec, pixel_values, input_ids, g_img, g_txt)

    stored = set(load_file(str(weight_path)).keys())
    grads = r64["grads"]
    if set(grads) != stored:
        raise RuntimeError(f"{spec.name}: parameter names {sorted(set(grads) ^ stored)} differ from the file")
    dead = [n for n, g in grads.items() if float(g.abs().max()) < 1e-8 and not n.endswith("k_proj.bias")]
    if dead:
        raise RuntimeError(f"{spec.name}: parameters with (near) zero gradient: {dead}")

    tensors = {
        "pixel_values": pixel_values,
        "input_ids": input_ids.to(torch.int32),
        "G_img": g_img,
        "G_txt": g_txt,
        "text_pool_index": r64["text_pool_index"].to(torch.int32),
    }
    for key in ["image_embeds", "text_embeds", "vision_pooled", "text_pooled",
                "vision_block0_out", "text_block0_out", "loss", "grad.pixel_values"]:
        tensors[key] = r64[key].float()
    for name in sorted(grads):
        tensors[f"grad.{name}"] = grads[name].float()

    meta = base_metadata(
        fixture=spec.name,
        weights=str(weight_path.relative_to(models_dir)),
        format={"hf": "transformers CLIPModel directory", "openclip": "open_clip state dict + json config",
                "openai": "OpenAI state dict, no config"}[spec.fmt],
        weights_dtype=str(spec.storage),
        activation=spec.act,
        reference=("computed in float64 by " + ("transformers CLIPModel (attn_implementation=sdpa)"
                   if spec.fmt == "hf" else "open_clip CLIP") + " from the stored weights widened"
                   " exactly to float64, then cast to float32"),
        float32_vs_float64_max_abs_diff=max_abs_diff(r32, r64),
        loss=LOSS_FORMULA,
        loss_c=str(LOSS_C),
        tokens={"sot": spec.sot, "eot": spec.eot, "pad": spec.pad, "pooling": spec.pooling,
                "vocab_size": spec.vocab, "context_length": CONTEXT_LENGTH},
        architecture={"vision": {"width": spec.vision.width, "layers": spec.vision.layers,
                                 "heads": spec.vision.heads, "patch": spec.patch,
                                 "image_size": spec.image_size},
                      "text": {"width": spec.text.width, "layers": spec.text.layers,
                               "heads": spec.text.heads, "vocab_size": spec.vocab},
                      "embed_dim": spec.embed_dim, "mlp_ratio": 4, "layer_norm_eps": 1e-5},
        notes=spec.notes,
        zero_gradients=("attention key biases (k_proj.bias; rows W..2W of in_proj_bias) have zero"
                        " gradient in exact arithmetic: stored values are float64 rounding noise"),
        keys=("pixel_values (N,3,S,S); input_ids (M,77) int32; G_img (N,D); G_txt (M,D); "
              "text_pool_index (M,) int32 position pooled by the library; image_embeds/text_embeds"
              " projected, not normalised; vision_pooled = ln_post(CLS) before projection;"
              " text_pooled = ln_final at the pooled position before projection;"
              " vision_block0_out/text_block0_out = residual stream after block 0;"
              " loss (1,); grad.<param> in the weight file's names; grad.pixel_values"),
    )
    save_tensors(models_dir / f"{spec.name}.expected.safetensors", tensors, meta)


# --------------------------------------------------------------------------------------
# Name maps (used by the self-check and --full)
# --------------------------------------------------------------------------------------

_HF_TO_OPENAI_BLOCK = {
    "layer_norm1": "ln_1", "layer_norm2": "ln_2", "self_attn.out_proj": "attn.out_proj",
    "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
}


def hf_to_openai(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a transformers CLIPModel state dict to OpenAI/open_clip names and layouts."""
    out: dict[str, torch.Tensor] = {}
    fixed = {
        "vision_model.embeddings.class_embedding": "visual.class_embedding",
        "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
        "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
        "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",
        "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
        "vision_model.post_layernorm.weight": "visual.ln_post.weight",
        "vision_model.post_layernorm.bias": "visual.ln_post.bias",
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
        "logit_scale": "logit_scale",
    }
    for key, value in state.items():
        if key.endswith("position_ids"):
            continue
        if key in fixed:
            out[fixed[key]] = value
        elif key == "visual_projection.weight":
            out["visual.proj"] = value.t().contiguous()
        elif key == "text_projection.weight":
            out["text_projection"] = value.t().contiguous()
        elif ".encoder.layers." in key:
            tower, rest = key.split(".encoder.layers.")
            layer, sub = rest.split(".", 1)
            prefix = ("visual.transformer" if tower == "vision_model" else "transformer") + f".resblocks.{layer}."
            if sub.startswith("self_attn.q_proj."):
                kind = sub.rsplit(".", 1)[1]
                stem = key.replace("q_proj", "{}")
                out[prefix + f"attn.in_proj_{kind}"] = torch.cat([state[stem.format(p)] for p in ("q_proj", "k_proj", "v_proj")])
            elif sub.startswith(("self_attn.k_proj.", "self_attn.v_proj.")):
                continue
            else:
                module, kind = sub.rsplit(".", 1)
                out[prefix + f"{_HF_TO_OPENAI_BLOCK[module]}.{kind}"] = value
        else:
            raise KeyError(f"unmapped transformers key {key}")
    return out


# --------------------------------------------------------------------------------------
# Tokenizer cases
# --------------------------------------------------------------------------------------

CLASS_NAMES = [
    "dog", "cat", "airplane", "alarm_clock", "back_pack", "bike", "bike_helmet", "bookcase", "bottle",
    "calculator", "desk_chair", "desk_lamp", "desktop_computer", "file_cabinet", "headphones", "keyboard",
    "laptop_computer", "letter_tray", "mobile_phone", "monitor", "mouse", "mug", "paper_notebook", "pen",
    "phone", "printer", "projector", "punchers", "ring_binder", "ruler", "scissors", "speaker", "stapler",
    "tape_dispenser", "trash_can", "t-shirt", "giraffe", "guitar", "horse", "house", "person", "elephant",
    "sea turtle", "hot air balloon", "the Eiffel Tower", "teddy-bear", "flip flops", "fire hydrant",
    "traffic light", "washing machine", "ice cream", "palm tree", "aircraft carrier", "animal migration",
    "baseball bat", "bird's nest", "Great White Shark", "St. Bernard", "yellow lady's slipper", "jack-o'-lantern",
    "potter's wheel", "Granny Smith", "4x4 truck", "3D printer", "crème brûlée", "jalapeño", "piñata",
    "café au lait", "Bouvier des Flandres", "Curly-coated Retriever", "mixing bowl", "soup_bowl",
]

TEMPLATES = ["a photo of a {}.", "a sketch of a {}.", "a painting of the {}.", "itap of a {}.",
             "a bad photo of the {}.", "a clipart of a {}.", "art of the {}."]

MISC_CASES = [
    ("empty", ""), ("empty", " "), ("empty", "\n\t  "),
    ("case", "A PHOTO OF A DOG."), ("case", "CamelCaseWords and MiXeD cAsE"), ("case", "ÉCOLE ÉTÉ ÇA"),
    ("punctuation", "hello, world!"), ("punctuation", "wait... what?!"), ("punctuation", "(parentheses) [brackets] {braces}"),
    ("punctuation", "semi;colon:colon--dash — em dash – en dash"), ("punctuation", "quote \"double\" and 'single'"),
    ("punctuation", "a/b\\c|d"), ("punctuation", "e-mail: someone@example.com"), ("punctuation", "http://example.com/path?q=1&r=2"),
    ("punctuation", "#hashtag @mention $100 50% ^caret* ~tilde`"), ("punctuation", "!!!???..."), ("punctuation", "..."),
    ("punctuation", "a_b_c__d"), ("punctuation", "___"), ("punctuation", "'"), ("punctuation", "''quoted''"),
    ("numbers", "1 2 3 4 5"), ("numbers", "12345"), ("numbers", "3.14159"), ("numbers", "1,000,000 dollars"),
    ("numbers", "the year 2023"), ("numbers", "route 66"), ("numbers", "a 1920x1080 image"), ("numbers", "v2.0-beta3"),
    ("numbers", "½ ¼ ² ³ ①"), ("numbers", "٣ ٤ ٥ arabic-indic digits"), ("numbers", "０１２ fullwidth digits"),
    ("contractions", "it's"), ("contractions", "don't"), ("contractions", "we're here"), ("contractions", "I've been"),
    ("contractions", "I'm"), ("contractions", "you'll"), ("contractions", "he'd"), ("contractions", "IT'S DON'T WE'RE"),
    ("contractions", "the dog's bone"), ("contractions", "rock'n'roll"), ("contractions", "'s 't 're 've 'm 'll 'd"),
    ("contractions", "it’s a dog’s life"), ("contractions", "y'all'd've"),
    ("accents", "café"), ("accents", "naïve résumé"), ("accents", "São Paulo"), ("accents", "Zürich Müller straße"),
    ("accents", "Ångström"), ("accents", "Dvořák Łódź"), ("accents", "façade coöperate"), ("accents", "e\u0301cole combining"),
    ("accents", "ΑΒΓ αβγ ελληνικά"), ("accents", "Привет, мир"),
    ("html", "fish &amp; chips"), ("html", "&lt;b&gt;bold&lt;/b&gt;"), ("html", "&amp;amp; double escaped"),
    ("html", "&quot;quoted&quot; &#39;apostrophe&#39;"), ("html", "caf&eacute; &copy; 2020"), ("html", "&#x1F600; numeric"),
    ("html", "&nbsp;non-breaking&nbsp;space"), ("html", "&amp;lt;triple&amp;gt;"), ("html", "AT&T and R&D"),
    ("ftfy", "cafÃ© mojibake"), ("ftfy", "ﬁne ﬂower ligatures"), ("ftfy", "ＡＢＣ fullwidth"), ("ftfy", "“curly” ‘quotes’"),
    ("ftfy", "soft\u00adhyphen"), ("ftfy", "zero\u200bwidth"), ("ftfy", "line\u2028separator"),
    ("emoji", "I love 🍕"), ("emoji", "😀😃😄"), ("emoji", "👍🏽 thumbs"), ("emoji", "👨‍👩‍👧 family"),
    ("emoji", "🇫🇷 flag"), ("emoji", "❤️ heart"), ("emoji", "a photo of a 🐶."),
    ("cjk", "猫"), ("cjk", "一只猫的照片"), ("cjk", "日本語のテキスト"), ("cjk", "한국어 문장"), ("cjk", "中文 and English 混合"),
    ("arabic", "صورة قطة"), ("arabic", "مرحبا بالعالم"), ("hebrew", "שלום עולם"), ("indic", "नमस्ते दुनिया"), ("thai", "สวัสดีชาวโลก"),
    ("whitespace", "  leading and trailing  "), ("whitespace", "multiple    spaces"), ("whitespace", "tabs\tand\ttabs"),
    ("whitespace", "new\nline"), ("whitespace", "windows\r\nline"), ("whitespace", "\u00a0nbsp\u00a0inside"),
    ("whitespace", "ideographic\u3000space"), ("whitespace", "a\n\n\nb"), ("whitespace", "\ttab first"),
    ("repeat", "a" * 50), ("repeat", "ha" * 40), ("repeat", "!" * 30), ("repeat", "x " * 100),
    ("repeat", "looooooooooooooooong"), ("repeat", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
    ("repeat", "🍕" * 20), ("repeat", "猫" * 40),
    ("words", "supercalifragilisticexpialidocious"), ("words", "antidisestablishmentarianism"),
    ("words", "pneumonoultramicroscopicsilicovolcanoconiosis"), ("words", "photosynthesis"),
    ("words", "unbelievably understated"), ("words", "the quick brown fox jumps over the lazy dog"),
    ("words", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
    ("special", "<start_of_text>"), ("special", "<end_of_text>"), ("special", "<|endoftext|>"),
    ("special", "a <start_of_text> b <end_of_text> c"), ("special", "</w>"),
    ("special", "[CLS] [SEP] <pad>"),
    ("code", "def f(x): return x**2"), ("code", "if (a && b) { c++; }"), ("code", "snake_case_variable = 42"),
    ("mixed", "Photo #3: a red-eyed tree frog (Agalychnis callidryas), 2019 — ©NatGeo"),
    ("mixed", "The café's crème brûlée costs €4.50!"), ("mixed", "ＮＥＷ！ｓｐｅｃｉａｌ ｏｆｆｅｒ"),
]


def long_cases() -> list[tuple[str, str]]:
    base = ("a very detailed photograph of a small brown dog running through a green field of tall grass "
            "on a sunny afternoon while children play in the background near an old red barn ")
    return [
        ("long", base * 3),                                   # > 77 tokens: truncated, eot kept at slot 76
        ("long", " ".join(f"word{i}" for i in range(120))),
        ("long", "a " * 75),                                  # exactly 75 tokens + sot + eot = 77
        ("long", "a " * 76),                                  # one too many: truncated
        ("long", "🍕 " * 60),
    ]


def tokenizer_strings() -> list[tuple[str, str]]:
    cases = []
    for i, name in enumerate(CLASS_NAMES):
        # CLIPood replaces '_' by ' ' in class names; keep a few raw to test '_' handling.
        shown = name if i % 9 == 3 else name.replace("_", " ")
        cases.append(("prompt", TEMPLATES[0].format(shown)))
        cases.append(("prompt", TEMPLATES[1 + i % (len(TEMPLATES) - 1)].format(shown)))
    cases += MISC_CASES + long_cases()
    return cases


def make_tokenizer_fixture(out_dir: Path) -> None:
    print("[tokenizer] cases.json", flush=True)
    tok = open_clip.tokenizer.SimpleTokenizer()
    strings = tokenizer_strings()
    ids = open_clip.tokenize([s for _, s in strings], context_length=CONTEXT_LENGTH)
    cases = []
    for i, ((category, text), row) in enumerate(zip(strings, ids.tolist())):
        case = {"category": category, "text": text, "ids": row}
        if i % 20 == 0 or category in ("ftfy", "html"):
            n = row.index(tok.eot_token_id) + 1
            case["tokens"] = [tok.decoder[t] for t in row[:n]]
        cases.append(case)
    write_json(out_dir / "tokenizer" / "cases.json", {
        "tokenizer": f"open_clip {open_clip.__version__} SimpleTokenizer (default: clean='lower', truncate)",
        "generator": "scripts/make_fixtures.py",
        "versions": {k: package_versions()[k] for k in ("open_clip_torch", "python")} | {
            "ftfy": __import__("ftfy").__version__, "regex": __import__("regex").__version__},
        "context_length": CONTEXT_LENGTH,
        "vocab_size": tok.vocab_size,
        "sot": tok.sot_token_id,
        "eot": tok.eot_token_id,
        "pad": 0,
        "notes": ("ids = [sot] + bpe(clean(text)) + [eot], zero padded; when longer than 77 the row is cut"
                  " to 77 and its last id set to eot. clean = ftfy.fix_text, html.unescape twice, strip,"
                  " collapse whitespace, lower-case. 'tokens' (some cases) are BPE strings up to eot."),
        "cases": cases,
    }, compact_lists="cases")


# --------------------------------------------------------------------------------------
# Preprocessing fixtures
# --------------------------------------------------------------------------------------

@dataclass
class ImageCase:
    file: str
    width: int
    height: int
    mode: str
    size: int                 # S
    bilinear: bool = False
    save: dict = field(default_factory=dict)


IMAGE_CASES = [
    ImageCase("grad_rgb.png", 37, 53, "RGB", 48, bilinear=True),
    ImageCase("stripes_l.png", 40, 300, "L", 48),
    ImageCase("shapes_rgba.png", 97, 97, "RGBA", 224),
    ImageCase("palette_p.png", 150, 110, "P", 48, bilinear=True),
    ImageCase("photo_rgb.jpg", 200, 114, "RGB", 48, save={"quality": 90}),
    ImageCase("photo_progressive.jpg", 129, 128, "RGB", 224, save={"quality": 85, "progressive": True}),
    ImageCase("gray.jpg", 120, 77, "L", 48, save={"quality": 92}),
    ImageCase("cmyk.jpg", 90, 140, "CMYK", 48, save={"quality": 95}),
]


def synthetic_rgb(width: int, height: int, seed: int) -> np.ndarray:
    """Gradients, fine stripes, a checkerboard, discs and noise: resampling errors show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    r = 255 * u
    g = 255 * v
    b = 127.5 + 127.5 * np.sin(2 * np.pi * (x / 3.0 + y / 7.0))           # near-Nyquist stripes
    checker = ((x // 5 + y // 5) % 2) * 60.0
    img = np.stack([r, g, b], axis=-1) + checker[..., None]
    for k in range(4):                                                      # hard-edged discs
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rad = rng.uniform(0.1, 0.3) * min(width, height)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < rad ** 2
        img[mask] = rng.uniform(0, 255, size=3)
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthetic_image(case: ImageCase, seed: int) -> Image.Image:
    rgb = synthetic_rgb(case.width, case.height, seed)
    if case.mode == "RGB":
        return Image.fromarray(rgb, "RGB")
    if case.mode == "L":
        y, x = np.mgrid[0:case.height, 0:case.width].astype(np.float64)
        chirp = 127.5 + 120 * np.sin(2 * np.pi * x * (0.05 + 0.4 * y / case.height))
        bars = ((y // 4) % 2) * 40 - 20
        return Image.fromarray(np.clip(np.rint(chirp + bars), 0, 255).astype(np.uint8), "L")
    if case.mode == "RGBA":
        y, x = np.mgrid[0:case.height, 0:case.width]
        alpha = ((x + y) * 255 // (case.width + case.height - 2)).astype(np.uint8)
        return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    if case.mode == "P":
        rng = np.random.default_rng(seed + 7)
        palette = rng.integers(0, 256, size=(64, 3), dtype=np.uint8)
        indices = (rgb.astype(np.int32).sum(axis=-1) * 64 // 766).astype(np.uint8)
        img = Image.fromarray(indices, "P")
        img.putpalette(palette.flatten().tolist())
        return img
    if case.mode == "CMYK":
        return Image.fromarray(rgb, "RGB").convert("CMYK")
    raise ValueError(case.mode)


PREPROCESS_NOTES = [
    "Resize acts on the PIL image, so it is Pillow's Image.resize (separable, antialiased: the filter"
    " support widens by the downscale factor; bicubic a = -0.5), with 8-bit results after each pass.",
    "Resized size: shorter side = S, longer side = int(S * long / short), truncated.",
    "CenterCrop offsets use Python round(), which rounds half to even: palette_p.png (65 wide, S=48)"
    " crops from x = 8 (not 9) and photo_progressive.jpg (225 wide, S=224) from x = 0 (not 1).",
    "convert('RGB') drops alpha without compositing (RGBA), maps palette indices through the"
    " palette (P), replicates grey (L) and turns CMYK into R = round((255-C)*(255-K)/255) etc.",
    "Pillow writes CMYK JPEGs with an Adobe marker (transform 0) and inverted samples; on reading"
    " it inverts them back before that conversion.",
    "JPEGs: libjpeg-turbo default decoding (ISLOW IDCT, fancy upsampling); the RGB ones are 4:2:0.",
    "transformers' CLIPImageProcessor differs from this pipeline: it composites alpha onto white,"
    " and its default torchvision backend resizes tensors (up to 1 level of 255 off); its 'pil'"
    " backend matches these pixels exactly for opaque images.",
]


def clip_eval_transform(size: int, interpolation: T.InterpolationMode):
    resize = T.Resize(size, interpolation=interpolation)  # PIL input: Pillow's resize (antialiased)
    tail = T.Compose([T.CenterCrop(size), T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])
    return resize, tail


def make_preprocess_fixture(out_dir: Path) -> None:
    print("[preprocess] images", flush=True)
    pdir = out_dir / "preprocess"
    if pdir.exists():
        shutil.rmtree(pdir)
    pdir.mkdir(parents=True)
    tensors: dict[str, torch.Tensor] = {}
    manifest = []
    for i, case in enumerate(IMAGE_CASES):
        path = pdir / case.file
        synthetic_image(case, seed=1000 + i).save(path, **case.save)
        with Image.open(path) as opened:
            file_mode, file_format = opened.mode, opened.format
            rgb = opened.convert("RGB")
        tensors[f"decoded.{case.file}"] = torch.from_numpy(np.asarray(rgb).copy())
        entry = {"file": case.file, "format": file_format, "mode": file_mode,
                 "width": case.width, "height": case.height, "size": case.size,
                 "progressive": bool(case.save.get("progressive", False)), "outputs": []}
        modes = [("bicubic", T.InterpolationMode.BICUBIC, "")]
        if case.bilinear:
            modes.append(("bilinear", T.InterpolationMode.BILINEAR, "_bilinear"))
        for label, interp, suffix in modes:
            resize, tail = clip_eval_transform(case.size, interp)
            resized = resize(rgb)
            tensors[f"resized{suffix}.{case.file}"] = torch.from_numpy(np.asarray(resized).copy())
            tensors[f"pixels{suffix}.{case.file}"] = tail(resized).float()
            entry["outputs"].append({"interpolation": label, "resized": f"resized{suffix}.{case.file}",
                                     "resized_width": resized.width, "resized_height": resized.height,
                                     "crop_top": int(round((resized.height - case.size) / 2.0)),
                                     "crop_left": int(round((resized.width - case.size) / 2.0)),
                                     "pixels": f"pixels{suffix}.{case.file}"})
        manifest.append(entry)
    meta = base_metadata(
        description=("CLIP eval preprocessing: Image.open(f).convert('RGB') -> torchvision Resize(S, "
                     "interpolation) on the PIL image (= Pillow Image.resize, antialiased, uint8 result) -> "
                     "CenterCrop(S) (offsets int(round((dim - S) / 2)), Python round-half-even) -> "
                     "ToTensor (/255) -> Normalize(mean, std)"),
        mean=list(CLIP_MEAN), std=list(CLIP_STD),
        keys="decoded.<file> (H,W,3) uint8; resized[_bilinear].<file> (h,w,3) uint8; pixels[_bilinear].<file> (3,S,S) f32",
        resize_size_rule="shorter side -> S, longer side -> int(S * long / short) (floor)",
    )
    save_tensors(pdir / "expected.safetensors", tensors, meta)
    write_json(pdir / "manifest.json", {
        "generator": "scripts/make_fixtures.py",
        "pipeline": meta["description"],
        "mean": list(CLIP_MEAN), "std": list(CLIP_STD),
        "notes": PREPROCESS_NOTES,
        "versions": {k: v for k, v in package_versions().items()
                     if k in ("pillow", "libjpeg", "libjpeg_turbo", "zlib", "torchvision")},
        "images": manifest,
    })


# --------------------------------------------------------------------------------------
# Training parity: the official CLIPood update (thuml/CLIPood engine.py) replayed in fp32
# --------------------------------------------------------------------------------------

TRAIN_MODEL = "hf_quickgelu"    # the committed tiny transformers CLIP (models/hf_quickgelu/)
TRAIN_SEED = 606
TRAIN_CLASSES = 5
TRAIN_IMAGES = 6
TRAIN_STEPS = 20
TRAIN_LR = 1e-3                  # large for CLIP, so that a tiny model moves visibly in 20 steps
TRAIN_WEIGHT_DECAY = 0.1
TRAIN_BETAS = (0.9, 0.999)
TRAIN_EPS = 1e-8
TRAIN_LAMBDA = 0.3
BMA_BETAS = (0.5, 0.1)
BMA_CHECK_TOL = 1e-6

TRAINING_DESCRIPTION = (
    "CLIPood fine-tuning (thuml/CLIPood engine.py) replayed in float32 on the tiny transformers CLIP"
    " models/hf_quickgelu. Frozen text side: T = normalize(text_projection(text_model(class_input_ids)"
    ".pooler_output)) (C,D), x / ||x||, computed once. Trainable: every vision_model.* parameter and"
    " visual_projection.weight; text tower and logit_scale frozen; model.eval() (no dropout in CLIP)."
    " One batch = all N images every step, no augmentation. Step t = 1..S: f = visual_projection("
    "vision_model(pixel_values).pooler_output); f = f / ||f||; f = f - lambda * T[labels];"
    " logits = (s * f) @ T^T with s = exp(logit_scale) of the checkpoint (not trained, not clamped);"
    " loss = mean cross-entropy(logits, labels); loss.backward(); torch.optim.AdamW(one param group,"
    " weight decay on every trainable tensor, amsgrad off, foreach=False = the CPU default single-tensor"
    " loop).step(): p *= 1 - lr*wd; m = lerp(m, g, 1-b1); v = b2*v + (1-b2)*g*g; p -= (lr/(1-b1^t)) *"
    " m / (sqrt(v)/sqrt(1-b2^t) + eps); then CosineAnnealingLR(T_max=S, eta_min=0).step(), so step t"
    " uses lr_t = LR*(1+cos(pi*(t-1)/S))/2 (step 1 uses the full LR; the lr 0 reached after step S is"
    " never used); then the BMA update of GeneralMovingAverage: w_k = BetaPDF((k+0.5)/(S+1); beta, beta),"
    " k = 0..S, avg starts as theta_0 (zero-shot), after step t r = w_t / sum_{i<t} w_i and"
    " avg = (avg + theta_t * r) / (1 + r), i.e. BMA = sum_k w_k theta_k / sum_k w_k. Run once with"
    " lambda = 0.3 (MMS, two BMA averages, beta 0.5 and 0.1) and once with lambda = 0 (plain CE)."
)


def is_vision_trainable(name: str) -> bool:
    """transformers names of the analogue of clip_model.visual (what CLIPood trains)."""
    return name.startswith("vision_model.") or name == "visual_projection.weight"


def beta_pdf(x: float, a: float, b: float) -> float:
    """The Beta(a, b) density (as scipy.stats.beta.pdf, which the official code calls)."""
    log_norm = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm)


def bma_weights(steps: int, beta: float) -> list[float]:
    """w_k = BetaPDF((k + 0.5) / (steps + 1); beta, beta) for k = 0..steps (k = 0: zero-shot weights)."""
    return [beta_pdf((k + 0.5) / (steps + 1), beta, beta) for k in range(steps + 1)]


def make_class_input_ids(gen: torch.Generator, sot: int, eot: int) -> torch.Tensor:
    """One tokenised 'class name' per row: [sot, 2-5 word ids in 1..997, eot, 0...]."""
    ids = torch.zeros(TRAIN_CLASSES, CONTEXT_LENGTH, dtype=torch.int64)
    for c in range(TRAIN_CLASSES):
        n = int(torch.randint(2, 6, (1,), generator=gen))
        row = [sot] + torch.randint(1, min(sot, eot), (n,), generator=gen).tolist() + [eot]
        ids[c, : len(row)] = torch.tensor(row)
    return ids


def make_train_labels(gen: torch.Generator) -> torch.Tensor:
    """Every class at least once, the remaining images random, in a seeded order."""
    extra = torch.randint(0, TRAIN_CLASSES, (TRAIN_IMAGES - TRAIN_CLASSES,), generator=gen)
    labels = torch.cat([torch.arange(TRAIN_CLASSES), extra])
    return labels[torch.randperm(TRAIN_IMAGES, generator=gen)]


def replay_clipood(model: CLIPModel, class_ids: torch.Tensor, pixel_values: torch.Tensor,
                   labels: torch.Tensor, lam: float, bma_betas: tuple[float, ...]) -> dict:
    """Train `model` in place as CLIPood does, in the model's dtype; return the trajectory."""
    dtype = next(model.parameters()).dtype
    model.eval()  # the official loop calls model.eval() ("Freeze all Norm Layers"); CLIP has no dropout
    trainable = [(n, p) for n, p in model.named_parameters() if is_vision_trainable(n)]
    for n, p in model.named_parameters():
        p.requires_grad_(is_vision_trainable(n))
    with torch.no_grad():
        text = model.text_projection(model.text_model(input_ids=class_ids).pooler_output)
        text = text / text.norm(dim=-1, keepdim=True)
        scale = model.logit_scale.exp()
    px = pixel_values.to(dtype)

    optimizer = torch.optim.AdamW([p for _, p in trainable], lr=TRAIN_LR, betas=TRAIN_BETAS, eps=TRAIN_EPS,
                                  weight_decay=TRAIN_WEIGHT_DECAY, amsgrad=False, foreach=False)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=TRAIN_STEPS)
    weights = {b: bma_weights(TRAIN_STEPS, b) for b in bma_betas}
    weight_sum = {b: weights[b][0] for b in bma_betas}
    averages = {b: {n: p.detach().clone() for n, p in trainable} for b in bma_betas}
    thetas = [{n: p.detach().clone() for n, p in trainable}]

    losses, accs, lrs = [], [], []
    for t in range(1, TRAIN_STEPS + 1):
        lrs.append(scheduler.get_last_lr()[0])
        feats = model.visual_projection(model.vision_model(pixel_values=px).pooler_output)
        feats = feats / feats.norm(dim=-1, keepdim=True)
        feats = feats - lam * text[labels]
        logits = scale * feats @ text.t()
        loss = F.cross_entropy(logits, labels)
        losses.append(float(loss.detach()))
        accs.append(float((logits.detach().argmax(dim=-1) == labels).double().mean()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            for b in bma_betas:  # GeneralMovingAverage.update()
                r = weights[b][t] / weight_sum[b]
                for n, p in trainable:
                    averages[b][n] = (averages[b][n] + p * r) / (1 + r)
                weight_sum[b] += weights[b][t]
        thetas.append({n: p.detach().clone() for n, p in trainable})

    # The incremental average is the explicit w-weighted mean of theta_0..theta_S.
    for b in bma_betas:
        w = torch.tensor(weights[b], dtype=torch.float64)
        err = max(float(((sum(w[k] * thetas[k][n].double() for k in range(TRAIN_STEPS + 1)) / w.sum())
                          - averages[b][n].double()).abs().max()) for n, _ in trainable)
        if err >= BMA_CHECK_TOL:
            raise RuntimeError(f"BMA beta={b}: incremental average differs from the weighted mean by {err:.2e}")
    return {
        "text_features": text.detach(), "scale": float(scale), "loss": losses, "train_acc": accs, "lr": lrs,
        "theta0": thetas[0], "final": thetas[-1], "bma": averages, "bma_weights": weights,
    }


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], keep=lambda n: True) -> float:
    return max(float((a[n].double() - b[n].double()).abs().max()) for n in a if keep(n))


def make_training_fixture(out_dir: Path) -> None:
    print("[training] CLIPood replay", flush=True)
    model_dir = out_dir / "models" / TRAIN_MODEL
    if not (model_dir / "model.safetensors").exists():
        raise FileNotFoundError(f"{model_dir} is missing: generate the model fixtures first")
    spec = next(s for s in TINY_SPECS if s.name == TRAIN_MODEL)
    gen = torch.Generator().manual_seed(TRAIN_SEED)
    class_ids = make_class_input_ids(gen, spec.sot, spec.eot)
    pixel_values = torch.randn(TRAIN_IMAGES, 3, spec.image_size, spec.image_size, generator=gen)
    labels = make_train_labels(gen)

    mms = replay_clipood(load_hf_reference(model_dir, torch.float32), class_ids, pixel_values, labels,
                         TRAIN_LAMBDA, BMA_BETAS)
    ce = replay_clipood(load_hf_reference(model_dir, torch.float32), class_ids, pixel_values, labels,
                        0.0, ())
    mms64 = replay_clipood(load_hf_reference(model_dir, torch.float64), class_ids, pixel_values, labels,
                           TRAIN_LAMBDA, BMA_BETAS)

    # k_proj.bias has zero gradient in exact arithmetic (softmax ignores a per-query constant), so
    # there it only decays: theta_t = theta_0 * prod_{i<=t} (1 - lr_i * wd). In float32 its gradient
    # is rounding noise of ~1e-8, comparable to eps, which Adam turns into O(lr) steps.
    decay = [1.0]
    for lr in mms["lr"]:
        decay.append(decay[-1] * (1 - lr * TRAIN_WEIGHT_DECAY))
    kbias_factor = {"final": decay[-1]}
    for b in BMA_BETAS:
        w = mms["bma_weights"][b]
        kbias_factor[f"bma{b}"] = sum(wk * dk for wk, dk in zip(w, decay)) / sum(w)
    kbias_exact_err = 0.0
    for name in (n for n in mms64["final"] if n.endswith("k_proj.bias")):
        theta0 = mms64["theta0"][name]
        kbias_exact_err = max(kbias_exact_err, float((mms64["final"][name] - theta0 * kbias_factor["final"]).abs().max()),
                              *(float((mms64["bma"][b][name] - theta0 * kbias_factor[f"bma{b}"]).abs().max())
                                for b in BMA_BETAS))
    if kbias_exact_err >= 1e-9:
        raise RuntimeError(f"float64 k_proj.bias is not pure weight decay: {kbias_exact_err:.2e}")

    not_kbias = lambda n: not n.endswith("k_proj.bias")  # noqa: E731
    is_kbias = lambda n: n.endswith("k_proj.bias")  # noqa: E731
    fp64_diff = {
        "final": _max_diff(mms["final"], mms64["final"]),
        "final_except_k_proj_bias": _max_diff(mms["final"], mms64["final"], not_kbias),
        "final_k_proj_bias": _max_diff(mms["final"], mms64["final"], is_kbias),
        **{f"bma{b}_except_k_proj_bias": _max_diff(mms["bma"][b], mms64["bma"][b], not_kbias) for b in BMA_BETAS},
        **{f"bma{b}_k_proj_bias": _max_diff(mms["bma"][b], mms64["bma"][b], is_kbias) for b in BMA_BETAS},
        "loss": max(abs(x - y) for x, y in zip(mms["loss"], mms64["loss"])),
        "text_features": float((mms["text_features"].double() - mms64["text_features"]).abs().max()),
    }
    moved = {
        "final": _max_diff(mms["final"], mms["theta0"]),
        "final_except_k_proj_bias": _max_diff(mms["final"], mms["theta0"], not_kbias),
        "final_k_proj_bias": _max_diff(mms["final"], mms["theta0"], is_kbias),
        **{f"bma{b}": _max_diff(mms["bma"][b], mms["theta0"]) for b in BMA_BETAS},
        "ce_final": _max_diff(ce["final"], ce["theta0"]),
        "ce_final_vs_final": _max_diff(ce["final"], mms["final"]),
    }

    def vector(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64).float()

    tensors: dict[str, torch.Tensor] = {
        "pixel_values": pixel_values,
        "labels": labels.to(torch.int32),
        "class_input_ids": class_ids.to(torch.int32),
        "text_features": mms["text_features"],
        "loss": vector(mms["loss"]),
        "train_acc": vector(mms["train_acc"]),
        "lr": vector(mms["lr"]),
        "ce_loss": vector(ce["loss"]),
    }
    for b in BMA_BETAS:
        tensors[f"bma_weights.{b}"] = vector(mms["bma_weights"][b])
    for name in sorted(mms["final"]):
        tensors[f"final.{name}"] = mms["final"][name]
        for b in BMA_BETAS:
            tensors[f"bma{b}.{name}"] = mms["bma"][b][name]
        tensors[f"ce_final.{name}"] = ce["final"][name]

    r3 = lambda x: float(f"{x:.3g}")  # noqa: E731
    meta = base_metadata(
        fixture="training/mms_parity",
        model=f"models/{TRAIN_MODEL}",
        description=TRAINING_DESCRIPTION,
        lr=TRAIN_LR, weight_decay=TRAIN_WEIGHT_DECAY, betas=list(TRAIN_BETAS), eps=TRAIN_EPS,
        amsgrad=False, optimizer="torch.optim.AdamW(foreach=False), one param group",
        scheduler="torch.optim.lr_scheduler.CosineAnnealingLR(T_max=steps, eta_min=0), stepped after every optimizer.step()",
        attn_implementation="sdpa",
        ce_lambda=0.0,
        steps=TRAIN_STEPS, batch=TRAIN_IMAGES, classes=TRAIN_CLASSES, seed=TRAIN_SEED,
        scale=mms["scale"], scale_rule="exp(logit_scale) of the checkpoint, computed in float32",
        bma_betas=list(BMA_BETAS),
        bma_weights="Beta(beta, beta) density at (k + 0.5)/(steps + 1), k = 0..steps (not summing to 1)",
        bma_incremental_vs_weighted_mean_tol=BMA_CHECK_TOL,
        trainable=sorted(mms["final"]),
        trainable_count=sum(t.numel() for t in mms["final"].values()),
        float32_vs_float64_max_abs_diff={k: r3(v) for k, v in fp64_diff.items()},
        max_abs_weight_change_from_theta0={k: r3(v) for k, v in moved.items()},
        k_proj_bias=("the attention key biases have zero gradient in exact arithmetic and no effect on any"
                     " output; in float32 their gradient is rounding noise (~1e-8, comparable to eps) which"
                     " AdamW turns into noise-driven steps of up to ~lr, so final/bma/ce_final k_proj.bias"
                     " values are not reproducible across implementations. Exactly: k_proj.bias = theta_0 *"
                     " k_proj_bias_exact_factor[final|bma<beta>] (pure weight decay; the float64 replay"
                     " matches this to 1e-9); the float32 values stay within sum(lr) of it"),
        k_proj_bias_exact_factor=kbias_factor,
        sum_lr=sum(mms["lr"]),
        precision=("everything float32 (the official code trains fp16 weights); metadata float32_vs_float64"
                   " compares with the same replay in float64"),
        keys=("pixel_values (N,3,48,48); labels (N,) int32; class_input_ids (C,77) int32; text_features (C,D)"
              " normalised; loss, train_acc, lr, ce_loss (S,) per step, from the forward of step t before its"
              " update, lr = the lr used by step t; bma_weights.<beta> (S+1,); final.<param>, bma<beta>.<param>,"
              " ce_final.<param> for every trainable parameter in transformers names"),
    )
    meta["lambda"] = json.dumps(TRAIN_LAMBDA)
    save_tensors(out_dir / "training" / "mms_parity.safetensors", tensors, meta)
    print(f"  loss {mms['loss'][0]:.6f} -> {mms['loss'][-1]:.6f}, ce_loss {ce['loss'][0]:.6f} -> {ce['loss'][-1]:.6f}")
    print(f"  max |theta_S - theta_0|: {moved}")
    print(f"  float32 vs float64: {fp64_diff}")


# --------------------------------------------------------------------------------------
# Self-check: the saved weights reproduce the expected embeddings
# --------------------------------------------------------------------------------------

def self_check(out_dir: Path) -> None:
    print("[check] reloading weight files", flush=True)
    models_dir = out_dir / "models"
    for spec in TINY_SPECS:
        expected = load_file(str(models_dir / f"{spec.name}.expected.safetensors"))
        px = expected["pixel_values"]
        ids = expected["input_ids"].long()
        if spec.fmt == "hf":
            cfg = CLIPConfig.from_pretrained(str(models_dir / spec.name))
            model = CLIPModel(cfg).eval()
            state = {k: v.float() for k, v in load_file(str(models_dir / spec.name / "model.safetensors")).items()}
            model.load_state_dict(state, strict=False)
            with torch.no_grad():
                img = model.visual_projection(model.vision_model(pixel_values=px).pooler_output)
                txt = model.text_projection(model.text_model(input_ids=ids).pooler_output)
        else:
            state = {k: v.float() for k, v in load_file(str(models_dir / f"{spec.name}.safetensors")).items()}
            if spec.fmt == "openclip":
                model = build_open_clip(json.loads((models_dir / f"{spec.name}.json").read_text()))
            else:
                model = build_model_from_openai_state_dict(dict(state), quick_gelu=True, cast_dtype=None).float()
            model.load_state_dict(state, strict=True)
            with torch.no_grad():
                img, txt = model.encode_image(px), model.encode_text(ids)
        err = max(float((img - expected["image_embeds"]).abs().max()),
                  float((txt - expected["text_embeds"]).abs().max()))
        status = "ok" if err < 1e-4 else "MISMATCH"
        print(f"  {spec.name:16s} embeddings max |diff| = {err:.2e}  {status}")
        if err >= 1e-4:
            raise RuntimeError(f"self-check failed for {spec.name}")

    # The transformers and OpenAI/open_clip layouts describe the same network.
    spec = TINY_SPECS[0]
    expected = load_file(str(models_dir / f"{spec.name}.expected.safetensors"))
    hf_state = load_file(str(models_dir / spec.name / "model.safetensors"))
    oc = build_open_clip(open_clip_cfg(spec))  # widths are not multiples of 64: give the config
    oc.load_state_dict({k: v.float() for k, v in hf_to_openai(hf_state).items()}, strict=True)
    with torch.no_grad():
        img = oc.encode_image(expected["pixel_values"])
        txt = oc.encode_text(expected["input_ids"].long())
    err = max(float((img - expected["image_embeds"]).abs().max()), float((txt - expected["text_embeds"]).abs().max()))
    print(f"  {spec.name} renamed to OpenAI names through open_clip: max |diff| = {err:.2e}")
    if err >= 1e-4:
        raise RuntimeError("transformers -> OpenAI name map does not reproduce the embeddings")


def print_summary(out_dir: Path) -> None:
    print("\nfiles:")
    total = 0
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        size = path.stat().st_size
        total += size
        print(f"  {size:>10,d}  {path.relative_to(out_dir)}")
    print(f"  {total:>10,d}  total")


# --------------------------------------------------------------------------------------
# --full: a full-size random ViT-B/16 (not committed)
# --------------------------------------------------------------------------------------

def write_hf_tokenizer_files(model_dir: Path) -> None:
    """vocab.json / merges.txt in transformers' CLIPTokenizer layout, derived from open_clip's BPE file."""
    import gzip
    tok = open_clip.tokenizer.SimpleTokenizer()
    vocab = {("<|startoftext|>" if t == "<start_of_text>" else "<|endoftext|>" if t == "<end_of_text>" else t): i
             for t, i in tok.encoder.items()}
    (model_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges = gzip.open(open_clip.tokenizer.default_bpe()).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    (model_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def make_full(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    spec = Spec(name="vit_b16", fmt="hf", storage=torch.float32, act="quick_gelu", seed=505,
                vision=Tower(768, 12, 12), patch=16, image_size=224, text=Tower(512, 12, 8),
                vocab=49408, embed_dim=512, sot=49406, eot=49407, pad=0, pooling="first_eos",
                hf_tokens={"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1})
    print("[full] building random ViT-B/16", flush=True)
    model = CLIPModel(hf_config(spec)).eval()
    randomize_(model, spec.seed)
    n_params = sum(p.numel() for p in model.parameters())
    hf_dir = out / "hf_vit_b16"
    if hf_dir.exists():
        shutil.rmtree(hf_dir)
    model.save_pretrained(str(hf_dir), safe_serialization=True)
    write_preprocessor_config(hf_dir, 224)
    write_hf_tokenizer_files(hf_dir)
    openai_state = hf_to_openai(model.state_dict())
    save_tensors(out / "openai_vit_b16.safetensors", openai_state,
                 base_metadata(description="random ViT-B/16 CLIP, OpenAI names", seed=str(spec.seed)))

    gen = torch.Generator().manual_seed(spec.seed + 1)
    px = torch.randn(1, 3, 224, 224, generator=gen)
    texts = ["a photo of a dog.", "a sketch of an alarm clock."]
    ids = open_clip.tokenize(texts, context_length=CONTEXT_LENGTH)
    with torch.no_grad():
        img = model.visual_projection(model.vision_model(pixel_values=px).pooler_output)
        txt = model.text_projection(model.text_model(input_ids=ids).pooler_output)
        oc = build_model_from_openai_state_dict(dict(openai_state), quick_gelu=True, cast_dtype=None).float()
        oc.load_state_dict(openai_state, strict=True)
        err = max(float((oc.encode_image(px) - img).abs().max()), float((oc.encode_text(ids) - txt).abs().max()))
    save_tensors(out / "vit_b16.expected.safetensors",
                 {"pixel_values": px, "input_ids": ids.to(torch.int32), "image_embeds": img, "text_embeds": txt},
                 base_metadata(description="float32 transformers CLIPModel outputs for the random ViT-B/16",
                               texts=texts, parameters=str(n_params)))
    print(f"[full] parameters: {n_params:,d}")
    print(f"[full] transformers vs open_clip (OpenAI names, inferred architecture): max |diff| = {err:.2e}")
    print_summary(out)


# --------------------------------------------------------------------------------------

FIXTURE_GROUPS = ("models", "tokenizer", "preprocess", "training")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "Tests" / "Fixtures",
                        help="fixture directory (default: Tests/Fixtures of this repository)")
    parser.add_argument("--full", type=Path, metavar="DIR",
                        help="instead, write a full-size random ViT-B/16 (HF dir + OpenAI .safetensors) to DIR")
    parser.add_argument("--skip-check", action="store_true", help="skip the reload self-check")
    parser.add_argument("--only", action="append", choices=FIXTURE_GROUPS, metavar="GROUP",
                        help=f"regenerate only this group (repeatable; one of {', '.join(FIXTURE_GROUPS)});"
                             " 'training' needs the committed models/hf_quickgelu")
    args = parser.parse_args()
    groups = args.only or list(FIXTURE_GROUPS)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    if args.full:
        make_full(args.full)
        return

    out: Path = args.out
    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    if "models" in groups:
        for spec in TINY_SPECS:
            make_model_fixture(spec, models_dir)
    if "tokenizer" in groups:
        make_tokenizer_fixture(out)
    if "preprocess" in groups:
        make_preprocess_fixture(out)
    if "training" in groups:
        make_training_fixture(out)
    if "models" in groups and not args.skip_check:
        self_check(out)
    print_summary(out)


if __name__ == "__main__":
    sys.exit(main())
