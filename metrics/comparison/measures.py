"""The measures the comparison sets side by side, and how they are titled."""

from __future__ import annotations

from metrics import music

# Below this many checkpoints a correlation says little; the page says so in words.
FEW_CHECKPOINTS = 8
TRAINING_COLUMNS = {
    "train_loss": "training loss",
    "valid_loss": "validation loss",
    "test_loss": "test loss",
    "perplexity": "validation perplexity",
    "accuracy": "validation accuracy",
    "note_event_accuracy": "note-event accuracy",
    "cv_loss": "k-fold CV loss",
}
LISTENER_MEASURES = {
    "rating": "mean rating",
    "human_share": "judged human",
    "strength": "Bradley-Terry strength",
}
# The interval fields of each listener measure.
LISTENER_INTERVALS = {
    "rating": ("rating_low", "rating_high"),
    "human_share": ("human_low", "human_high"),
    "strength": ("strength_low", "strength_high"),
}
# A row's listener columns (the reference row has no Bradley-Terry strength).
RATING_AND_HUMAN_FIELDS = (
    "rating", "rating_low", "rating_high", "human_share", "human_low", "human_high",
)  # fmt: skip
STRENGTH_FIELDS = ("strength", "strength_low", "strength_high")
# The objective measures the scatter-plot matrix shows (the agreement table has them all).
HEADLINE_OBJECTIVES = (
    "valid_loss",
    "accuracy",
    "mean_overlap",
    "pitch_class_entropy",
    "scale_consistency",
    "repetition",
)


def objective_title(name: str) -> str:
    if name in TRAINING_COLUMNS:
        return TRAINING_COLUMNS[name]
    if name == "mean_overlap":
        return "mean overlap with reference"
    if name.startswith("overlap_"):
        return f"overlap: {music.feature_title(name.removeprefix('overlap_'))}"
    return music.feature_title(name)
