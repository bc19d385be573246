"""simgen: labeled computer-vision datasets from randomized Blender scenes."""

__version__ = "0.1.0"
