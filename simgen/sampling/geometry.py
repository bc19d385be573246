"""Camera and pose math shared by the sampler and the tests (pure numpy, no Blender)."""

from __future__ import annotations

import math

import numpy as np

# Blender cameras look down -Z with +Y up; OpenCV cameras look down +Z with +Y down.
BLENDER_TO_OPENCV_CAMERA = np.diag([1.0, -1.0, -1.0])


def look_at_rotation(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """Camera-to-world rotation (Blender camera axes) that points the camera from eye at target."""
    forward = np.asarray(target, float) - np.asarray(eye, float)
    norm = np.linalg.norm(forward)
    if norm < 1e-9:
        raise ValueError("camera location and look-at target coincide")
    forward /= norm
    up = np.array([0.0, 0.0, 1.0])
    if abs(forward @ up) > 0.999:  # looking straight up or down: any horizontal 'up' will do
        up = np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    camera_up = np.cross(right, forward)
    rotation = np.column_stack([right, camera_up, -forward])
    if roll_deg:
        r = math.radians(roll_deg)
        roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
        rotation = rotation @ roll
    return rotation


def orbit_location(target: np.ndarray, distance: float, elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    offset = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    return np.asarray(target, float) + distance * offset


def intrinsics(focal_length_mm: float, sensor_width_mm: float, width: int, height: int) -> np.ndarray:
    """OpenCV K for Blender's horizontal sensor fit (square pixels, centred principal point).

    OpenCV puts pixel centres at integer coordinates, so the image centre is (W-1)/2.
    """
    fx = focal_length_mm / sensor_width_mm * width
    return np.array([[fx, 0.0, (width - 1) / 2.0], [0.0, fx, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def camera_matrices(location: np.ndarray, rotation_c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Blender camera-to-world 4x4, OpenCV world-to-camera 4x4)."""
    matrix_world = np.eye(4)
    matrix_world[:3, :3] = rotation_c2w
    matrix_world[:3, 3] = location
    r_cv = rotation_c2w @ BLENDER_TO_OPENCV_CAMERA
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = r_cv.T
    world_to_camera[:3, 3] = -r_cv.T @ np.asarray(location, float)
    return matrix_world, world_to_camera


def euler_xyz_matrix(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation matrix of Blender's XYZ Euler order (X applied first)."""
    cx, sx, cy, sy, cz, sz = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry), math.cos(rz), math.sin(rz)
    mx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    my = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    mz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return mz @ my @ mx


def matrix_to_euler_xyz(rotation: np.ndarray) -> tuple[float, float, float]:
    """Inverse of euler_xyz_matrix (Blender's XYZ order)."""
    ry = math.asin(-min(max(rotation[2, 0], -1.0), 1.0))
    if abs(rotation[2, 0]) < 0.999999:
        rx = math.atan2(rotation[2, 1], rotation[2, 2])
        rz = math.atan2(rotation[1, 0], rotation[0, 0])
    else:  # gimbal lock: fold all of the remaining turn into z
        rx, rz = 0.0, math.atan2(-rotation[0, 1], rotation[1, 1])
    return (rx, ry, rz)


def random_rotation(u1: float, u2: float, u3: float) -> np.ndarray:
    """Uniformly distributed rotation from three uniforms (Shoemake's quaternion method)."""
    a, b = math.sqrt(1 - u1), math.sqrt(u1)
    w, x, y, z = a * math.sin(2 * math.pi * u2), a * math.cos(2 * math.pi * u2), b * math.sin(2 * math.pi * u3), \
        b * math.cos(2 * math.pi * u3)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def box_corners(minimum: np.ndarray, maximum: np.ndarray) -> np.ndarray:
    """The 8 corners of an axis-aligned box, shape (8, 3)."""
    lo, hi = np.asarray(minimum, float), np.asarray(maximum, float)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def project_points(points_world: np.ndarray, K: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """Project world points to OpenCV pixel coordinates, shape (N, 2)."""
    pts = np.asarray(points_world, float)
    cam = (world_to_camera[:3, :3] @ pts.T).T + world_to_camera[:3, 3]
    uvw = (K @ cam.T).T
    return uvw[:, :2] / uvw[:, 2:3]


def kelvin_to_rgb(kelvin: float) -> tuple[float, float, float]:
    """Approximate linear RGB of a black body, normalised so the largest channel is 1.

    A curve fit to the CIE black-body locus in sRGB (good to a few percent between 1000 K
    and 40000 K), then converted to linear light.
    """
    t = min(max(kelvin, 1000.0), 40000.0) / 100.0
    red = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    green = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    blue = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
    srgb = [min(max(c / 255.0, 0.0), 1.0) for c in (red, green, blue)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in srgb]
    peak = max(linear)
    return tuple(c / peak for c in linear)  # type: ignore[return-value]


def hsv_to_linear_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    """HSV (as a person picks a colour, in display space) to linear RGB for a shader."""
    import colorsys

    display = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in display)  # type: ignore


# ---------------------------------------------------------------- particles in a camera's view (rain, snow)
def frustum_volume(K: np.ndarray, size: tuple[int, int], near: float, far: float, margin: float = 1.0) -> float:
    """Cubic metres of the camera's view between two depths, ``margin`` times wider and taller than the image."""
    return margin ** 2 * (size[0] / K[0, 0]) * (size[1] / K[1, 1]) * (far ** 3 - near ** 3) / 3


def depth_holding(count: float, expected: float, near: float, far: float) -> float:
    """The depth within which ``count`` of ``expected`` evenly spread particles lie (far if they all fit):
    a frustum's volume grows as depth cubed."""
    if expected <= count:
        return far
    return (near ** 3 + (far ** 3 - near ** 3) * count / expected) ** (1 / 3)


def depths_in_frustum(near: float, far: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """Depths of particles spread evenly through a frustum: density grows with depth squared."""
    return (near ** 3 + rng.random(count) * (far ** 3 - near ** 3)) ** (1 / 3)


def truncated_exponential(slope: float, low: float, high: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """Samples of exp(-slope x) cut to [low, high] (drop and flake size distributions)."""
    a, b = math.exp(-slope * low), math.exp(-slope * high)
    return -np.log(a - rng.random(count) * (a - b)) / slope
