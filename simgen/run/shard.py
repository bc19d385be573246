"""Deterministic slices of a run (``--shard K/N``) that merge back into one dataset.

Frame i belongs to shard (i mod N) + 1. Striding rather than cutting into blocks keeps every
shard a fair sample of the scenario, so partial results from any shard are representative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simgen.errors import SimgenError


@dataclass(frozen=True)
class Shard:
    index: int = 1  # 1-based, as users count
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Shard":
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise SimgenError(f"--shard takes K/N (e.g. 2/8), got '{text}'")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise SimgenError(f"--shard {text}: K must be between 1 and N")
        return cls(index, count)

    def frames(self, total: int) -> list[int]:
        return list(range(self.index - 1, total, self.count))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
