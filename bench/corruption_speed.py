"""Generation speed of the 15 CIFAR-10-C corruptions: audit.robustness.corrupt (one call per batch)
against a straightforward per-image implementation with the reference's loop structure (make_cifar_c.py:
one Python call per image, scipy/Pillow per image, glass blur's pixel swaps as a Python double loop,
ImageMagick's motion blur as per-image shifts), on the same images, in the same process.

    .venv/bin/python bench/corruption_speed.py --data ../shared/datasets/cifar-10-binary.tar.gz --n 10000

Prints wall and CPU seconds of both per corruption and the ratios; the baseline uses the same parameters
and draws from the same kind of generators, so the work is the same, only the loop structure differs.
Each corruption's pair (batched, then per-image) starts after a load-average reading. ``--json PATH``
writes ``ratio`` (wall, all selected corruptions: sum of per-image seconds / sum of batched seconds),
``cpu_ratio`` and ``corruptions`` (one row per corruption: name, batched_s, per_image_s, ratio,
batched_cpu_s, per_image_cpu_s).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from audit.robustness import corrupt
from audit.robustness import ops
from audit.robustness.frost import frost_texture
from audit.robustness.params import CORRUPTIONS, PARAMS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options  # noqa: E402


# --- the per-image baseline (reference loop structure) ----------------------------------------------


def u8(x):
    return np.uint8(np.clip(x, 0, 255) + 1e-3)


def b_gaussian_noise(x, c, rng):
    x = x / 255.0
    return u8(np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255)


def b_shot_noise(x, c, rng):
    x = x / 255.0
    return u8(np.clip(rng.poisson(x * c) / c, 0, 1) * 255)


def b_impulse_noise(x, c, rng):
    out = x / 255.0
    flipped = rng.random(x.shape) <= c
    salted = rng.random(x.shape) <= 0.5
    out[flipped & salted] = 1
    out[flipped & ~salted] = 0
    return u8(out * 255)


def b_defocus_blur(x, c, rng):
    kernel = ops.disk_kernel(c[0], c[1])
    x = x / 255.0
    channels = [ndimage.correlate(x[:, :, d], kernel, mode="mirror") for d in range(3)]
    return u8(np.clip(np.stack(channels, -1), 0, 1) * 255)


def b_glass_blur(x, c, rng):
    x = u8(ndimage.gaussian_filter(x / 255.0, sigma=(c[0], c[0], 0), mode="nearest") * 255)
    for _ in range(c[2]):
        for h in range(32 - c[1], c[1], -1):
            for w in range(32 - c[1], c[1], -1):
                dx, dy = rng.integers(-c[1], c[1], size=(2,))
                hp, wp = h + dy, w + dx
                x[h, w], x[hp, wp] = x[hp, wp], x[h, w].copy()
    return u8(np.clip(ndimage.gaussian_filter(x / 255.0, sigma=(c[0], c[0], 0), mode="nearest"), 0, 1) * 255)


def _motion(x, radius, sigma, angle):
    out = ops.motion_blur(x[None].astype(np.float32), radius, sigma, np.array([angle]))[0]
    return np.clip(np.rint(out), 0, 255)


def b_motion_blur(x, c, rng):
    return u8(_motion(x, c[0], c[1], rng.uniform(-45, 45)))


def clipped_zoom(img, z):
    h = img.shape[0]
    ch = int(np.ceil(h / z))
    top = (h - ch) // 2
    img = ndimage.zoom(img[top:top + ch, top:top + ch], (z, z, 1), order=1)
    trim = (img.shape[0] - h) // 2
    return img[trim:trim + h, trim:trim + h]


def b_zoom_blur(x, c, rng):
    x = (x / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for z in c:
        out += clipped_zoom(x, z)
    return u8(np.clip((x + out) / (len(c) + 1), 0, 1) * 255)


def b_snow(x, c, rng):
    x = np.array(x, dtype=np.float32) / 255.0
    layer = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    layer = clipped_zoom(layer[..., None], c[2])
    layer[layer < c[3]] = 0
    layer = (np.clip(layer, 0, 1) * 255).astype(np.uint8)
    layer = _motion(layer, c[4], c[5], rng.uniform(-135, -45)) / 255.0
    grey = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey[..., None] * 1.5 + 0.5)
    return u8(np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255)


def b_frost(x, c, rng):
    tile = frost_texture(32)
    r, s = rng.integers(0, tile.shape[0] - 32), rng.integers(0, tile.shape[1] - 32)
    return u8(np.clip(c[0] * x + c[1] * tile[r:r + 32, s:s + 32], 0, 255))


def b_fog(x, c, rng):
    x = x / 255.0
    top = x.max()
    x = x + c[0] * ops.plasma_fractal(1, 32, c[1], rng)[0][..., None]
    return u8(np.clip(x * top / (top + c[0]), 0, 1) * 255)


def rgb2hsv(rgb):
    v = rgb.max(-1)
    delta = v - rgb.min(-1)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1), 0)
    d = np.where(delta > 0, delta, 1)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    h = np.where(r == v, (g - b) / d, np.where(g == v, 2 + (b - r) / d, 4 + (r - g) / d))
    h = np.where(delta > 0, (h / 6) % 1, 0)
    return np.stack([h, s, v], -1)


def hsv2rgb(hsv):
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(hsv.shape)
    for k, (a, b, cc) in enumerate(choices):
        m = i == k
        out[..., 0][m], out[..., 1][m], out[..., 2][m] = a[m], b[m], cc[m]
    return out


def b_brightness(x, c, rng):
    hsv = rgb2hsv(x / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return u8(np.clip(hsv2rgb(hsv), 0, 1) * 255)


def b_contrast(x, c, rng):
    x = x / 255.0
    m = x.mean(axis=(0, 1), keepdims=True)
    return u8(np.clip((x - m) * c + m, 0, 1) * 255)


def b_elastic_transform(x, c, rng):
    alpha, sigma, jitter = (v * 32 for v in c)
    x = x / 255.0
    centre = np.array([16.0, 16.0])
    src = np.array([centre + 10, [26, 6], centre - 10])
    dst = src + rng.uniform(-jitter, jitter, size=src.shape)
    m = np.eye(3)
    m[:2] = np.linalg.solve(np.c_[src, np.ones(3)], dst).T
    inv = np.linalg.inv(m)
    # scipy works in (row, col): swap the x/y roles of the (x, y) affine
    mat = np.array([[inv[1, 1], inv[1, 0]], [inv[0, 1], inv[0, 0]]])
    off = np.array([inv[1, 2], inv[0, 2]])
    warped = np.stack([ndimage.affine_transform(x[:, :, d], mat, off, order=1, mode="mirror") for d in range(3)], -1)
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, (32, 32)), sigma, mode="reflect", truncate=3) * alpha
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, (32, 32)), sigma, mode="reflect", truncate=3) * alpha
    yy, xx = np.mgrid[0:32, 0:32]
    out = np.stack([ndimage.map_coordinates(warped[:, :, d], [yy + dy, xx + dx], order=1, mode="reflect")
                    for d in range(3)], -1)
    return u8(np.clip(out, 0, 1) * 255)


def b_pixelate(x, c, rng):
    im = Image.fromarray(x)
    return np.asarray(im.resize((int(32 * c),) * 2, Image.BOX).resize((32, 32), Image.BOX))


def b_jpeg_compression(x, c, rng):
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, "JPEG", quality=c)
    return np.asarray(Image.open(buf))


BASELINE = {name: globals()[f"b_{name}"] for name in CORRUPTIONS}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AUDIT_DATA", str(REPO.parent / "shared/datasets/cifar-10-binary.tar.gz")))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--severity", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=list(CORRUPTIONS))
    add_options(ap)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    bench = Bench("corruption_speed", args, argv)
    from audit.model.data import load_cifar10

    x = load_cifar10(args.data).x_test[: args.n]
    frost_texture(32)
    print(f"{len(x)} CIFAR-10 test images, severity {args.severity}; cores: {len(os.sched_getaffinity(0))}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'corruption':18s} {'batched s':>10s} {'per-image s':>12s} {'ratio':>7s}   (CPU s: batched, per-image)")
    tot = np.zeros(4)
    rows = []
    for name in args.only:
        c = PARAMS[name][args.severity - 1]
        bench.load(name, echo=False)
        w, p = time.perf_counter(), time.process_time()
        corrupt(x, name, args.severity, seed=0)
        bw, bp = time.perf_counter() - w, time.process_time() - p
        rng = np.random.default_rng(0)
        w, p = time.perf_counter(), time.process_time()
        for img in x:
            BASELINE[name](img, c, rng)
        rw, rp = time.perf_counter() - w, time.process_time() - p
        tot += (bw, rw, bp, rp)
        rows.append({"name": name, "batched_s": bw, "per_image_s": rw, "ratio": rw / bw, "batched_cpu_s": bp,
                     "per_image_cpu_s": rp})
        print(f"{name:18s} {bw:10.2f} {rw:12.2f} {rw / bw:6.1f}x   ({bp:.2f}, {rp:.2f})", flush=True)
    print(f"{'all':18s} {tot[0]:10.2f} {tot[1]:12.2f} {tot[1] / tot[0]:6.1f}x   ({tot[2]:.2f}, {tot[3]:.2f}; "
          f"CPU ratio {tot[3] / tot[2]:.1f}x){bench.marked()}")
    loads = [r["load"] for r in bench["loads"]]
    print(f"load average before each corruption: {min(loads):.2f}–{max(loads):.2f}")
    bench.data.update(n_images=len(x), severity=args.severity, corruptions=rows, batched_s=float(tot[0]),
                      per_image_s=float(tot[1]), ratio=float(tot[1] / tot[0]), batched_cpu_s=float(tot[2]),
                      per_image_cpu_s=float(tot[3]), cpu_ratio=float(tot[3] / tot[2]))
    bench.table([{"corruption": r["name"], "batched s": round(r["batched_s"], 3),
                  "per-image s": round(r["per_image_s"], 3), "ratio (wall)": round(r["ratio"], 2),
                  "CPU s batched / per-image": f"{r['batched_cpu_s']:.2f} / {r['per_image_cpu_s']:.2f}"}
                 for r in rows]
                + [{"corruption": f"all {len(rows)}", "batched s": round(float(tot[0]), 3),
                    "per-image s": round(float(tot[1]), 3), "ratio (wall)": round(float(tot[1] / tot[0]), 2),
                    "CPU s batched / per-image": f"{tot[2]:.2f} / {tot[3]:.2f} ({tot[3] / tot[2]:.1f}x)"}])
    bench.headline(f"corruption generation, all {len(rows)}, per-image / batched wall", float(tot[1] / tot[0]))
    bench.finish()


if __name__ == "__main__":
    main()
