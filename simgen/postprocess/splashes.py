"""Rain bursting on the ground: the crowns drops throw up where they hit up-facing surfaces.

How many: drops of the Marshall-Palmer sizes fall at their terminal velocities, so a horizontal
square metre takes F = integral of N(D) v(D) dD impacts a second (about 3,100 at 10 mm/h; the
water they carry is the rain rate, which tests check). How long and how big: a drop hitting a wet
surface throws a crown, a thin sheet of water about ``CROWN_WIDTH`` drop diameters wide and
``CROWN_HEIGHT`` high that rises and falls back in ``CROWN_S`` seconds. During an exposure T the
camera catches the splashes of a window T + CROWN_S, each for CROWN_S / (T + CROWN_S) of the time on
average, so a short exposure freezes a few crisp crowns and a long one shows many faint ones; the
time-averaged coverage, F x area x CROWN_S, does not depend on T. Like falling drops, a crown shows
the light around it (simgen.postprocess.rain.apply_rain).

Where: each pixel's surface patch comes from the depth map (the cross product of the per-pixel
steps of its 3D point is the area it covers, exact for a plane), facing up within ``UP_COS``. A
crown beyond a few metres is under a pixel, so most splashes add a faint sparkle of coverage to
their pixel; the nearer ones are drawn as small ellipses standing on the surface.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from simgen.postprocess.fog import camera_rays
from simgen.postprocess.rain import MAX_DROP_MM, MIN_DROP_MM, N0, sample_diameters, slope, terminal_velocity

CROWN_S = 0.015  # a crown's life on a wet surface (rise and collapse)
CROWN_WIDTH = 4.0  # crown diameter in drop diameters
CROWN_HEIGHT = 2.0  # crown height in drop diameters
SHEET_OPACITY = 0.6  # a crown is a thin, partly clear water sheet
UP_COS = 0.8  # surfaces within ~37 degrees of horizontal catch rain
MAX_SPLASHES = 200_000  # beyond this each drawn splash stands for several
EDGE_BEND = 0.03  # second difference of 1/z, as a share of 1/z, above which a pixel is on an edge
DRAWN_PX = 1.5  # crowns wider than this are drawn as ellipses, smaller ones add to their pixel


def _drop_flux(rate_mm_h: float, steps: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Diameters (mm) and the drops of each size that cross a horizontal square metre a second, per mm."""
    diameter = np.linspace(MIN_DROP_MM, MAX_DROP_MM, steps)
    return diameter, N0 * np.exp(-slope(rate_mm_h) * diameter) * terminal_velocity(diameter)


def impacts_per_m2_s(rate_mm_h: float) -> float:
    """Drops (MIN_DROP_MM..MAX_DROP_MM) hitting a horizontal square metre per second at this rain rate."""
    diameter, flux = _drop_flux(rate_mm_h)
    return float(np.trapz(flux, diameter))


def water_flux_mm_h(rate_mm_h: float) -> float:
    """The rain rate those impacts carry (mm/h): a check that the drop model is the rain asked for."""
    diameter, flux = _drop_flux(rate_mm_h)
    volume_m3 = math.pi / 6 * (diameter / 1000.0) ** 3
    return float(np.trapz(flux * volume_m3, diameter)) * 3.6e6


def surface_patches(depth: np.ndarray, K: np.ndarray, world_to_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the area (m^2) of surface it sees and whether that surface faces up (world +z).

    Pixels on the sky or at a depth edge get area 0. An edge is where inverse depth bends: on any
    plane 1/z is linear in the pixel coordinates, so its second difference is zero on a road seen at
    a grazing angle however fast z grows, and large where a car's outline meets the road behind it."""
    height, width = depth.shape
    z = np.where(np.isfinite(depth), depth, np.nan)
    points = camera_rays(K, height, width) * z[..., None]
    normal = np.cross(np.gradient(points, axis=1), np.gradient(points, axis=0))
    area = np.linalg.norm(normal, axis=2)
    inverse = 1.0 / z
    edge = np.zeros(depth.shape, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        bend_x = np.abs(inverse[:, 2:] - 2 * inverse[:, 1:-1] + inverse[:, :-2]) > EDGE_BEND * inverse[:, 1:-1]
        bend_y = np.abs(inverse[2:] - 2 * inverse[1:-1] + inverse[:-2]) > EDGE_BEND * inverse[1:-1]
        edge[:, 1:-1] |= bend_x
        edge[1:-1] |= bend_y
        unit = normal / area[..., None]
        unit *= -np.sign(np.sum(unit * points, axis=2, keepdims=True))  # towards the camera
        world_up = unit @ world_to_camera[:3, :3][:, 2]  # the normal's world z: n_world = R^T n_cam
    valid = np.isfinite(area) & ~edge
    return np.where(valid, area, 0.0), valid & (world_up > UP_COS)


def splash_layer(depth: np.ndarray, rate_mm_h: float, exposure_s: float, K: np.ndarray, world_to_camera: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Per-pixel share of the exposure that splash crowns cover (0..1), and how many splashes were drawn."""
    height, width = depth.shape
    area, up = surface_patches(depth, K, world_to_camera)
    expected = impacts_per_m2_s(rate_mm_h) * (exposure_s + CROWN_S) * np.where(up, area, 0.0)
    total = float(expected.sum())
    coverage = np.zeros((height, width), np.float32)
    if total <= 0:
        return coverage, 0
    count = int(rng.poisson(total))
    weight = max(1.0, count / MAX_SPLASHES)
    drawn = int(count / weight)
    if drawn == 0:
        return coverage, 0
    flat = rng.choice(expected.size, size=drawn, p=(expected / total).ravel())
    row, col = np.divmod(flat, width)
    distance = np.linalg.norm(camera_rays(K, height, width)[row, col], axis=1) * depth[row, col]
    diameter_m = sample_diameters(rate_mm_h, drawn, rng) / 1000.0
    wide_px = CROWN_WIDTH * diameter_m * K[0, 0] / distance
    tall_px = CROWN_HEIGHT * diameter_m * K[1, 1] / distance
    seen = CROWN_S / (exposure_s + CROWN_S) * SHEET_OPACITY  # the share of the exposure a crown is there
    small = wide_px < DRAWN_PX
    np.add.at(coverage, (row[small], col[small]), (math.pi / 4 * wide_px * tall_px)[small] * seen * weight)
    if not small.all():  # near crowns as ellipses standing on their pixel, all at the same opacity
        near = np.zeros((height, width), np.float32)
        for x, y, w, h in zip(col[~small].tolist(), row[~small].tolist(), wide_px[~small].tolist(),
                              tall_px[~small].tolist()):
            cv2.ellipse(near, ((x, y - h / 2), (w, h), 0.0), 1.0, -1, cv2.LINE_AA)
        coverage += near * min(seen * weight, 1.0)
    return np.clip(coverage, 0.0, 0.9), drawn
