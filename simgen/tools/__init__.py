"""Tools that work on a finished dataset folder (no Blender needed)."""
