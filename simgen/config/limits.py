"""Hard limits on what a scenario, preset or command line may ask for, in one place.

They are far above any real dataset and far below what would exhaust this kind of machine, so
that a typo (an extra zero, 1e308) is refused at once with a message instead of hanging a run,
filling memory, or failing deep inside a frame.
"""

MAX_FRAMES = 10_000_000  # frames of one dataset (the journal and COCO of more do not fit in memory)
MAX_SEED = 2**63 - 1
MAX_CLASSES = 10_000
MAX_COUNT = 10_000  # objects of one class (or distractors) per frame
MAX_INSTANCES = 31_999  # labeled objects per frame: ids go in Blender's object index, and 32000 up are stuff classes
MAX_SIDE_PX = 16_384  # image width or height
MAX_PIXELS = 100_000_000  # width x height
MAX_SAMPLES = 1_000_000
MAX_VALUE = 1e6  # any number in a sampled distribution (metres, degrees, watts, kelvin, ...)
MAX_SCENARIO_BYTES = 4 << 20  # a scenario, preset or catalog file
MAX_YAML_NODES = 200_000  # values after expanding YAML anchors and aliases
MAX_GLOB_MATCHES = 100_000  # files one asset glob may match
MAX_GPUS = 64
