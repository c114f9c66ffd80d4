"""What the analysis is told about a study: its blocks, and the options a reader chose."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics.statistics.multiple import METHODS
from studies.answers import MUSICAL_TRAINING

# Musical training answers (0-5, see studies.answers.MUSICAL_TRAINING), each level its own
# group: merging levels hides which listeners the result rests on.
TRAINING_GROUPS = {label: (level,) for level, label in MUSICAL_TRAINING.items()}


@dataclass(frozen=True)
class BlockDesign:
    number: int  # 1-based, as in the export's "block" column
    kind: str  # rating, turing, pairwise, style
    title: str
    systems: list[str]
    human_systems: list[str] = field(default_factory=list)
    scale_values: list[int] = field(default_factory=list)  # rating blocks
    pairs: list[tuple[str, str]] = field(default_factory=list)  # pairwise blocks
    styles: list[str] = field(default_factory=list)  # style blocks: the answer options
    reference: str = ""  # MUSHRA and ABX blocks
    anchor: str = ""  # MUSHRA blocks
    post_screening: bool = False  # MUSHRA blocks


@dataclass(frozen=True)
class Options:
    confidence: float = 0.95
    correction: str = "holm"  # or "bh", "bonferroni"
    dprime_correction: str = "log-linear"  # or "none"

    def __post_init__(self):
        if self.correction not in METHODS:
            raise ValueError(f"correction must be one of {sorted(METHODS)}")
        if self.dprime_correction not in ("log-linear", "none"):
            raise ValueError("dprime_correction must be 'log-linear' or 'none'")
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must lie in [0.5, 1)")
