"""Bloom spreads a share of over-white light into a halo that fades with distance (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from simgen.postprocess.bloom import WHITE, add_bloom, glow


def test_the_halo_holds_the_share_of_the_excess_and_fades_outwards() -> None:
    radiance = np.zeros((201, 301, 3), np.float32)
    radiance[100, 150] = WHITE * 51.0  # a lamp 51 times white: its excess is 50 whites
    halo = glow(radiance, share=0.05)
    assert halo[..., 0].sum() == pytest.approx(0.05 * 50.0, rel=0.03)  # energy-preserving PSF
    row = halo[100, 150:, 0]
    assert np.all(np.diff(row) <= 1e-9) and row[5] > row[25] > row[50] > 0  # brightest at the source, long tail


def test_nothing_changes_under_white() -> None:
    radiance = np.full((40, 60, 3), WHITE * 0.99, np.float32)
    image = np.full((40, 60, 3), 200, np.uint8)
    assert not glow(radiance, 0.1).any()
    assert add_bloom(image, radiance, 0.1) is image
    radiance[20, 30] = WHITE * 200
    bloomed = add_bloom(image, radiance, 0.1)
    assert bloomed[20, 25].mean() > 200 and bloomed[0, 0].mean() >= 200  # lifted near the lamp, never darkened
