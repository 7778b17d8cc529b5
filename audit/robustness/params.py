"""The parameters of the 15 CIFAR-10-C corruptions (make_cifar_c.py in hendrycks/robustness), as data:
importable without scipy, for option parsing and the policy."""

from __future__ import annotations

import numpy as np

#: Severities 1–5 of each corruption, as in make_cifar_c.py (units in each function's docstring).
PARAMS: dict[str, tuple] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "shot_noise": (500, 250, 100, 75, 50),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
    "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
    "glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
    "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),
    "zoom_blur": tuple(tuple(np.arange(1, end, 0.01)) for end in (1.06, 1.11, 1.16, 1.21, 1.26)),
    "snow": ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
             (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
             (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
    "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
    "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
    "elastic_transform": ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                          (0.1, 0.03, 0.03)),  # × image side (32 px: (0, 0, 2.56) ... (3.2, .96, .96))
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),
    "jpeg_compression": (80, 65, 58, 50, 40),
}
#: The 15 benchmark corruptions in the order of the CIFAR-10-C paper and files.
CORRUPTIONS: tuple[str, ...] = tuple(PARAMS)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
#: Families, for the report.
FAMILIES = {"noise": CORRUPTIONS[0:3], "blur": CORRUPTIONS[3:7], "weather": CORRUPTIONS[7:10],
            "digital": CORRUPTIONS[10:15]}
#: One sentence per corruption, for audit.json's conventions and the report.
DESCRIPTIONS = {
    "gaussian_noise": "x + N(0, σ²) on [0, 1], σ = .04 .06 .08 .09 .10",
    "shot_noise": "Poisson(x·c) / c on [0, 1], c = 500 250 100 75 50",
    "impulse_noise": "each channel value set to 0 or 255 (half each) with probability .01 .02 .03 .05 .07",
    "defocus_blur": "disk kernel radius (alias σ) .3 (.4) .4 (.5) .5 (.6) 1 (.2) 1.5 (.1) px",
    "glass_blur": "Gaussian σ, pixel shuffles of up to 1 px, iterations: (.05,1,1) (.25,1,1) (.4,1,1) "
                  "(.25,1,2) (.4,1,2)",
    "motion_blur": "ImageMagick motion blur radius, σ = (6,1) (6,1.5) (6,2) (8,2) (9,2.5), angle U(−45°, 45°)",
    "zoom_blur": "mean of the image and its centre zooms by 1.00…1.06, 1.11, 1.15, 1.20, 1.25 (steps .01)",
    "snow": "Gaussian snow layer zoomed, thresholded, motion-blurred at U(−135°, −45°), added twice "
            "(rotated 180°) to a brightened image",
    "frost": "image weight, frost weight (1,.2) (1,.3) (.9,.4) (.85,.4) (.75,.45) over a generated frost "
             "texture",
    "fog": "diamond-square plasma, strength (decay) .2 (3) .5 (3) .75 (2.5) 1 (2) 1.5 (1.75)",
    "brightness": "V of HSV + .05 .1 .15 .2 .3, clipped to 1",
    "contrast": "(x − channel mean)·c + mean, c = .75 .5 .4 .3 .15",
    "elastic_transform": "random affine (corner jitter 2.56 2.24 1.92 1.6 .96 px) then a Gaussian-smoothed "
                         "displacement field (α, σ) (0,0) (1.6,6.4) (2.56,1.92) (3.2,1.28) (3.2,.96) px",
    "pixelate": "Pillow BOX resize to .95 .9 .85 .75 .65 of the side and back",
    "jpeg_compression": "Pillow JPEG at quality 80 65 58 50 40 (4:2:0), decoded",
}

