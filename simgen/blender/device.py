"""Pick the Cycles render device: GPU when one exists (auto), CPU otherwise, clear error if demanded."""

from __future__ import annotations

import bpy

from simgen.errors import DeviceError

GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI")


def _gpus_for(prefs, backend: str) -> list:
    try:
        prefs.compute_device_type = backend
    except TypeError:  # this Blender build does not know the backend
        return []
    prefs.get_devices()
    return [d for d in prefs.devices if d.type == backend]


def configure_device(scene: bpy.types.Scene, requested: str, gpu_indices: list[int] | None = None) -> str:
    """Set up ``scene`` for the requested device and describe what was chosen.

    Cycles lists the CPU among its devices even with no GPU, so "no GPU" means no device of
    a GPU backend type. ``gpu_indices`` pins a worker to particular cards (Cycles ignores
    CUDA_VISIBLE_DEVICES, so selection has to happen here).
    """
    if requested != "cpu":
        prefs = bpy.context.preferences.addons["cycles"].preferences
        for backend in GPU_BACKENDS:
            gpus = _gpus_for(prefs, backend)
            if not gpus:
                continue
            chosen = [g for i, g in enumerate(gpus) if gpu_indices is None or i in gpu_indices]
            if not chosen:
                raise DeviceError(f"GPU index {gpu_indices} not present; {backend} sees {len(gpus)} GPU(s)")
            for device in prefs.devices:
                device.use = device in chosen
            scene.cycles.device = "GPU"
            return f"GPU ({backend}: {', '.join(d.name for d in chosen)})"
        if requested == "gpu":
            raise DeviceError("--device gpu was asked for, but Cycles finds no GPU (tried OptiX, CUDA, HIP, "
                              "oneAPI); use --device auto or cpu, or check the GPU driver")
    scene.cycles.device = "CPU"
    return "CPU"
