"""Export formats beyond YOLO and COCO splits, one module each; importing them registers them."""

from simgen.tools.exports import bop, cityscapes, coco_layout, kitti, mot, voc  # noqa: F401 - importing registers them
