"""Image effects applied after the render (they never touch labels)."""
