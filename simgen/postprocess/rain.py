"""Falling rain as a camera sees it: thin, faint streaks whose number, size and length follow the rain rate.

Drops: Marshall-Palmer sizes, N(D) = 8000 exp(-L D) per m^3 per mm with L = 4.1 R^-0.21 /mm at a
rain rate of R mm/h; terminal velocity v(D) = 9.65 - 10.3 exp(-0.6 D) m/s (Atlas et al.), D in mm.
Drops fill the view between ``NEAR_M`` and ``FAR_M`` (or the surface a pixel sees, if nearer:
drops behind a wall are not seen).

Streaks (after Garg and Nayar's study of rain appearance): during the exposure T a drop of
diameter D at depth z moves v T f / z pixels and is D f / z pixels wide, so at 640 px a 2 mm drop
2 m away is a 0.6 px line. A drop is transparent and refracts light from a wide cone around it, so
it shows about the average light around it (the blurred scene), and it sits on each pixel of its
streak only for the fraction D / (v T) of the exposure: streaks are faint and fade on bright
backgrounds, as in photographs, instead of opaque white sticks.

Pure numpy/OpenCV on the linear image; drawn from the frame's own generator, so deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from simgen.sampling.geometry import depth_holding, depths_in_frustum, truncated_exponential
from simgen.sampling.geometry import frustum_volume as view_volume

N0 = 8000.0  # per m^3 per mm
MIN_DROP_MM, MAX_DROP_MM = 0.5, 6.0  # smaller drops add no visible streak; larger ones break up
NEAR_M, FAR_M = 0.3, 12.0
MAX_DRAWN = 40_000  # drops drawn per frame; beyond that each drawn drop stands for several
DEPTH_BINS = 8
MARGIN = 1.2  # drops are placed in a view this much wider than the image: streaks also enter from outside
DROP_GLOW = 1.15  # a drop refracts light from a ~165 degree cone: a little brighter than its surroundings


def slope(rate_mm_h: float) -> float:
    """Marshall-Palmer's Lambda, per mm."""
    return 4.1 * rate_mm_h ** -0.21


def drops_per_m3(rate_mm_h: float) -> float:
    """Drops of MIN_DROP_MM to MAX_DROP_MM per cubic metre at this rain rate."""
    lam = slope(rate_mm_h)
    return N0 / lam * (math.exp(-lam * MIN_DROP_MM) - math.exp(-lam * MAX_DROP_MM))


def terminal_velocity(diameter_mm: np.ndarray | float) -> np.ndarray | float:
    return np.maximum(9.65 - 10.3 * np.exp(-0.6 * np.asarray(diameter_mm)), 0.1)


def sample_diameters(rate_mm_h: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """Drop diameters (mm) from the exponential size distribution, cut to the visible range."""
    return truncated_exponential(slope(rate_mm_h), MIN_DROP_MM, MAX_DROP_MM, count, rng)


@dataclass
class Streaks:
    start: np.ndarray  # (N, 2) pixel coordinates of each streak's top
    end: np.ndarray  # (N, 2)
    width_px: np.ndarray  # (N,)
    alpha: np.ndarray  # (N,) share of the exposure the drop covers each pixel of its streak
    depth: np.ndarray  # (N,) metres
    diameter_mm: np.ndarray  # (N,)
    split_m: float = FAR_M  # drops beyond this are too many and too faint to draw: a veil of this coverage
    veil: float = 0.0


def _drops(rate_mm_h: float, exposure_s: float, wind: tuple[float, float, float], K: np.ndarray,
           rotation: np.ndarray, size: tuple[int, int], near: float, far: float, count: int,
           rng: np.random.Generator) -> Streaks:
    width, height = size
    fx, fy, margin = K[0, 0], K[1, 1], MARGIN
    z = depths_in_frustum(near, far, count, rng)
    u = (rng.random(count) * margin - (margin - 1) / 2) * width
    v = (rng.random(count) * margin - (margin - 1) / 2) * height
    diameter = sample_diameters(rate_mm_h, count, rng)
    centre = np.stack([(u - K[0, 2]) / fx * z, (v - K[1, 2]) / fy * z, z], axis=1)  # camera coordinates
    velocity = np.asarray(wind, float)[None, :] + np.outer(terminal_velocity(diameter), [0.0, 0.0, -1.0])
    motion = (velocity @ rotation.T) * exposure_s  # metres moved during the exposure, camera axes

    def project(points: np.ndarray) -> np.ndarray:
        depth = np.maximum(points[:, 2], 1e-3)
        return np.stack([points[:, 0] / depth * fx + K[0, 2], points[:, 1] / depth * fy + K[1, 2]], axis=1)

    start, end = project(centre - motion / 2), project(centre + motion / 2)
    width_px = diameter / 1000.0 * fx / z
    length_px = np.linalg.norm(end - start, axis=1)
    # the drop's image (area pi w^2 / 4) spread over the pixels its streak is drawn on: (l + t) x t for a
    # line t = max(round(w), 1) pixels thick, so the drawn coverage adds up to the drops' own area
    thickness = np.maximum(np.round(width_px), 1.0)
    alpha = np.pi * width_px ** 2 / 4 / ((length_px + thickness) * thickness)
    return Streaks(start, end, width_px, alpha, z, diameter)


def frustum_volume(K: np.ndarray, size: tuple[int, int], near: float, far: float) -> float:
    return view_volume(K, size, near, far, MARGIN)  # streaks also enter the view from just outside it


def sample_streaks(rate_mm_h: float, exposure_s: float, wind: tuple[float, float, float], K: np.ndarray,
                   world_to_camera: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> Streaks:
    """The drops in the camera's view during one exposure: each near one as a streak, the far ones
    (past the depth where MAX_DRAWN drops have been drawn) as the even veil they add up to."""
    rotation = world_to_camera[:3, :3]
    density = drops_per_m3(rate_mm_h)
    expected = density * frustum_volume(K, size, NEAR_M, FAR_M)
    split = depth_holding(MAX_DRAWN, expected, NEAR_M, FAR_M)
    near = _drops(rate_mm_h, exposure_s, wind, K, rotation, size, NEAR_M, split,
                  int(rng.poisson(density * frustum_volume(K, size, NEAR_M, split))), rng)
    veil = 0.0
    if split < FAR_M:  # a sample of the far drops, their covered area spread over the picture
        probe = _drops(rate_mm_h, exposure_s, wind, K, rotation, size, split, FAR_M, 2000, rng)
        area = np.pi * probe.width_px ** 2 / 4  # each far drop's image
        far_count = density * frustum_volume(K, size, split, FAR_M)
        veil = float(area.mean() * far_count / (MARGIN ** 2 * size[0] * size[1]))
    near.split_m, near.veil = split, veil
    return near


def rain_layer(streaks: Streaks, size: tuple[int, int], surface_depth: np.ndarray) -> np.ndarray:
    """Per-pixel share of the exposure that drops cover (0..1), drops behind the surface left out."""
    width, height = size
    total = np.where(surface_depth > streaks.split_m, streaks.veil, 0.0).astype(np.float32)
    edges = np.geomspace(NEAR_M, streaks.split_m, DEPTH_BINS + 1)
    which = np.clip(np.searchsorted(edges, streaks.depth) - 1, 0, DEPTH_BINS - 1)
    thickness = np.maximum(np.round(streaks.width_px), 1).astype(int)
    # alphas rounded to 2 % steps (far below what 8 bits show), so each bin draws a few batches in C
    level = np.round(np.log(np.maximum(streaks.alpha, 1e-9)) / math.log(1.02)).astype(int)
    ends = np.round(np.stack([streaks.start, streaks.end], axis=1) * 16).astype(np.int32)  # 4 fractional bits
    for b in range(DEPTH_BINS):
        layer = np.zeros((height, width), np.float32)
        chosen = which == b
        for key in set(zip(level[chosen].tolist(), thickness[chosen].tolist())):
            group = chosen & (level == key[0]) & (thickness == key[1])
            cv2.polylines(layer, list(ends[group]), False, float(1.02 ** key[0]), key[1], cv2.LINE_8, shift=4)
        total += np.where(surface_depth > edges[b], layer, 0.0)  # nearer surfaces hide the drops behind them
    return np.clip(total, 0.0, 0.9)


def apply_rain(linear: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Each pixel moves towards the light a drop shows there. A drop refracts light from a cone of about
    165 degrees, mostly from above it: half its surroundings (blurred), half the upper half of the
    view (the sky's share), a little brightened. So streaks show against dark ground and trees under
    a bright sky, and vanish against the sky itself."""
    height, width = coverage.shape
    sky = linear[: max(height // 2, 1)].reshape(-1, linear.shape[2]).mean(axis=0)
    # the wide blur (a twelfth of the image) on an eighth-size copy: the same light, 30 times cheaper
    small = cv2.resize(linear, (max(width // 8, 1), max(height // 8, 1)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (0, 0), max(width, height) / 96)
    surroundings = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR).reshape(linear.shape)
    around = (0.5 * surroundings + 0.5 * sky) * DROP_GLOW
    return linear * (1 - coverage[..., None]) + around * coverage[..., None]


def add_rain(bgr: np.ndarray, surface_depth: np.ndarray, rate_mm_h: float, exposure_s: float,
             wind: tuple[float, float, float], K: np.ndarray, world_to_camera: np.ndarray,
             rng: np.random.Generator, splash_rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 8-bit image with the frame's rain in it, and the per-pixel drop coverage (for severity labels);
    with ``splash_rng``, also the splashes on up-facing surfaces (drawn from it, so the streaks stay the same)."""
    from simgen.postprocess.sensor import _to_linear, _to_srgb
    from simgen.postprocess.splashes import splash_layer

    height, width = surface_depth.shape
    streaks = sample_streaks(rate_mm_h, exposure_s, wind, K, world_to_camera, (width, height), rng)
    coverage = rain_layer(streaks, (width, height), surface_depth)
    if splash_rng is not None:
        crowns, _ = splash_layer(surface_depth, rate_mm_h, exposure_s, K, world_to_camera, splash_rng)
        coverage = np.minimum(coverage + crowns, 0.9)
    return _to_srgb(apply_rain(_to_linear(bgr), coverage)), coverage
