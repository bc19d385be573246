"""The near-infrared camera's image: one output, rendered as a second view of the frame (see
BlenderBackend.render_nir and simgen/sampling/nir.py for the light and the reflectances).

Stored linear and exposed as the RGB camera is: uint16 = round(radiance x 100000 x 2^exposure_ev),
radiance in Cycles' units and ``exposure_ev`` the frame's (``params.camera.exposure_ev``, auto-exposure
included), so dividing by 100000 x 2^exposure_ev gives the radiance back. At exposure 0 a surface of
reflectance 0.5 lit by a 5 W illuminator 1.5 m away reads about 2,800; it saturates at 65535.
"""

from __future__ import annotations

import numpy as np

from simgen.outputs import PNG, FrameArrays, Output, PixelSpec, _png, chosen, register

NIR = "nir"  # FrameArrays.passes key
NIR_SCALE = 100_000.0


def _nir_png(arrays: FrameArrays, extension: str) -> bytes:
    return _png(np.clip(np.rint(arrays.passes[NIR] * NIR_SCALE), 0, 65535).astype(np.uint16))


register(Output("nir", "nir_file", "nir", PNG, _nir_png, switch=chosen("nir"), pixels=PixelSpec(1, ("uint16",)),
                description="near-infrared camera, linear: uint16 = radiance x 100000 x 2^exposure_ev"))
