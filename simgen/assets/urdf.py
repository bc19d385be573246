"""URDF robots and objects as assets: the <visual> geometry of every link, posed at zero joint angles.

Parsing is pure (xml.etree and numpy) so it is testable without Blender; the backend only imports
the listed meshes or builds the listed primitives and applies each transform.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import numpy as np

from simgen.errors import AssetError
from simgen.sampling.geometry import euler_xyz_matrix

PRIMITIVE_KINDS = ("box", "cylinder", "sphere")


class UrdfVisual(NamedTuple):
    """One <visual>: kind ("mesh", "box", "cylinder", "sphere"), its mesh file or primitive size, and its pose.

    ``source`` is a Path for meshes; (x, y, z) for a box, (radius, length) for a cylinder, (radius,)
    for a sphere. ``transform`` (4x4, metres, URDF's Z up) includes the mesh's ``scale``.
    """

    kind: str
    source: Path | tuple[float, ...]
    transform: np.ndarray


def _floats(text: str | None, default: tuple[float, ...], what: str, path: Path) -> tuple[float, ...]:
    if text is None:
        return default
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError:
        raise AssetError(f"{path}: {what}='{text}' is not a list of numbers") from None
    if len(values) != len(default):
        raise AssetError(f"{path}: {what}='{text}' needs {len(default)} numbers")
    return values


def origin_matrix(element: ET.Element | None, path: Path) -> np.ndarray:
    """The 4x4 pose of an <origin xyz rpy> (identity when absent)."""
    origin = element.find("origin") if element is not None else None
    matrix = np.eye(4)
    if origin is not None:
        # URDF's fixed-axis roll, pitch, yaw is the same rotation as an XYZ Euler triple
        matrix[:3, :3] = euler_xyz_matrix(*_floats(origin.get("rpy"), (0.0, 0.0, 0.0), "origin rpy", path))
        matrix[:3, 3] = _floats(origin.get("xyz"), (0.0, 0.0, 0.0), "origin xyz", path)
    return matrix


def link_poses(robot: ET.Element, path: Path) -> dict[str, np.ndarray]:
    """Every link's pose in the root link's frame with all joints at zero: the product of joint origins."""
    links = [link.get("name", "") for link in robot.findall("link")]
    joints = {}  # child link -> (parent link, joint origin)
    for joint in robot.findall("joint"):
        parent, child = joint.find("parent"), joint.find("child")
        if parent is None or child is None:
            raise AssetError(f"{path}: joint '{joint.get('name')}' lacks <parent> or <child>")
        joints[child.get("link", "")] = (parent.get("link", ""), origin_matrix(joint, path))
    poses: dict[str, np.ndarray] = {}

    def pose(link: str, seen: tuple[str, ...] = ()) -> np.ndarray:
        if link in seen:
            raise AssetError(f"{path}: the joints form a loop through link '{link}'")
        if link not in poses:
            parent = joints.get(link)
            poses[link] = np.eye(4) if parent is None else pose(parent[0], (*seen, link)) @ parent[1]
        return poses[link]

    return {link: pose(link) for link in links}


def resolve_mesh_path(filename: str, urdf: Path) -> Path:
    """A <mesh filename>: relative to the URDF, or ``package://pkg/sub/file`` looked for around the URDF's folder."""
    if filename.startswith("file://"):
        filename = filename[len("file://"):]
    if not filename.startswith("package://"):
        return (urdf.parent / filename).resolve()
    rest = Path(filename[len("package://"):])
    without_package = Path(*rest.parts[1:]) if len(rest.parts) > 1 else rest
    candidates = [urdf.parent / rest, urdf.parent / without_package, urdf.parent.parent / without_package,
                  urdf.parent.parent / rest]
    found = next((c for c in candidates if c.is_file()), candidates[0])
    return found.resolve()


def _visual(element: ET.Element, pose: np.ndarray, urdf: Path) -> UrdfVisual:
    """One <visual> element as a UrdfVisual; geometry simgen cannot show is an error, not a silent gap."""
    geometry = element.find("geometry")
    shape = next(iter(geometry), None) if geometry is not None else None
    if shape is None:
        raise AssetError(f"{urdf}: a <visual> has no <geometry>")
    transform = pose @ origin_matrix(element, urdf)
    if shape.tag == "mesh":
        filename = shape.get("filename")
        if not filename:
            raise AssetError(f"{urdf}: a <mesh> has no filename")
        mesh = resolve_mesh_path(filename, urdf)
        if not mesh.is_file():
            raise AssetError(f"{urdf}: mesh '{filename}' not found (looked for {mesh})")
        scale = np.diag([*_floats(shape.get("scale"), (1.0, 1.0, 1.0), "mesh scale", urdf), 1.0])
        return UrdfVisual("mesh", mesh, transform @ scale)
    if shape.tag == "box":
        return UrdfVisual("box", _floats(shape.get("size"), (1.0, 1.0, 1.0), "box size", urdf), transform)
    if shape.tag == "cylinder":
        radius = _floats(shape.get("radius"), (0.5,), "cylinder radius", urdf)
        return UrdfVisual("cylinder", (*radius, *_floats(shape.get("length"), (1.0,), "cylinder length", urdf)),
                          transform)
    if shape.tag == "sphere":
        return UrdfVisual("sphere", _floats(shape.get("radius"), (0.5,), "sphere radius", urdf), transform)
    raise AssetError(f"{urdf}: unsupported visual geometry <{shape.tag}> (mesh, box, cylinder, sphere)")


def urdf_visuals(urdf: Path) -> list[UrdfVisual]:
    """Every link's visuals, posed in the root link's frame at zero joint angles."""
    try:
        robot = ET.parse(urdf).getroot()
    except (ET.ParseError, OSError) as exc:
        raise AssetError(f"cannot read URDF {urdf}: {exc}") from None
    if robot.tag != "robot":
        raise AssetError(f"{urdf}: not a URDF (root element <{robot.tag}>, expected <robot>)")
    poses = link_poses(robot, urdf)
    visuals = [_visual(v, poses[link.get("name", "")], urdf)
               for link in robot.findall("link") for v in link.findall("visual")]
    if not visuals:
        raise AssetError(f"{urdf}: no link has a <visual>")
    return visuals
