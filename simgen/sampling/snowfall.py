"""How many snowflakes, of what size, a camera has in view at a snowfall rate.

Gunn and Marshall's snow size distribution, in melted-drop diameter D (mm) at a precipitation
rate of R mm/h water equivalent: N(D) = 3800 R^-0.87 exp(-2.55 R^-0.48 D) per m^3 per mm. A flake
of aggregate snow (about 0.1 g/cm^3) is about 2.2 times its melted drop across. Flakes are opaque
objects in the scene (they hide what is behind them, and the labels know it), so only the nearest
``MAX_FLAKES`` are placed: the depth they fill is where that many are expected.

The countless flakes beyond them are too small to see one by one, but together they dim and whiten
the distance, as fog does: their extinction coefficient is the flakes' cross-section per cubic
metre, twice their geometric area (large particles remove light by blocking and by diffraction),
beta = 2 sum N(D) pi d^2 / 4, with d the flake's diameter. At 1 mm/h that is 0.0030 /m, a
meteorological visibility (ln 20 / beta) of 1000 m; at 5 mm/h 0.0072 /m, 420 m (observed: light
snow about 1 km, heavy snow under 500 m).
"""

from __future__ import annotations

import math

import numpy as np

from simgen.sampling.geometry import depth_holding, frustum_volume, truncated_exponential

MIN_MELTED_MM, MAX_MELTED_MM = 0.5, 4.0  # flakes of 1.1-8.8 mm; smaller ones are specks no camera resolves
FLAKE_PER_MELTED = 2.2
NEAR_M, FAR_M = 0.3, 8.0
MAX_FLAKES = 1500
SNOW_VEIL = (0.9, 0.9, 0.92)  # linear RGB of lit snow, scaled by the scene's light where it is drawn
MARGIN = 1.1  # flakes are placed in a view this much wider than the image (u, v in -0.05..1.05)


def n0(rate_mm_h: float) -> float:
    return 3800.0 * rate_mm_h ** -0.87


def slope(rate_mm_h: float) -> float:
    return 2.55 * rate_mm_h ** -0.48


def flakes_per_m3(rate_mm_h: float) -> float:
    lam = slope(rate_mm_h)
    return n0(rate_mm_h) / lam * (math.exp(-lam * MIN_MELTED_MM) - math.exp(-lam * MAX_MELTED_MM))


def flake_diameters_m(rate_mm_h: float, count: int, rng: np.random.Generator) -> np.ndarray:
    melted = truncated_exponential(slope(rate_mm_h), MIN_MELTED_MM, MAX_MELTED_MM, count, rng)
    return melted * FLAKE_PER_MELTED / 1000.0


def view_volume(K: np.ndarray, size: tuple[int, int], near: float, far: float) -> float:
    """Cubic metres of the camera's view between two depths (flakes are placed a little beyond the image)."""
    return frustum_volume(K, size, near, far, MARGIN)


def reach_m(rate_mm_h: float, K: np.ndarray, size: tuple[int, int]) -> float:
    """The depth that holds MAX_FLAKES expected flakes (FAR_M when fewer are in view)."""
    return depth_holding(MAX_FLAKES, flakes_per_m3(rate_mm_h) * view_volume(K, size, NEAR_M, FAR_M), NEAR_M, FAR_M)


def extinction_per_m(rate_mm_h: float) -> float:
    """The falling snow's extinction coefficient (per metre), from Gunn-Marshall sizes."""
    melted = np.linspace(MIN_MELTED_MM, MAX_MELTED_MM, 400)
    count = n0(rate_mm_h) * np.exp(-slope(rate_mm_h) * melted)  # per m^3 per mm
    area = math.pi / 4 * (melted * FLAKE_PER_MELTED / 1000.0) ** 2  # m^2
    return float(2.0 * np.trapz(count * area, melted))
