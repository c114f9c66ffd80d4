"""Reads for pages and commands."""

from django.db.models import Count, Q, QuerySet

from generation.models import Dataset, Job, Piece, Rendering


def datasets_with_counts() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(
        piece_count=Count("pieces"),
        train_count=Count("pieces", filter=Q(pieces__split="train")),
        valid_count=Count("pieces", filter=Q(pieces__split="valid")),
        test_count=Count("pieces", filter=Q(pieces__split="test")),
    )


def dataset_pieces(dataset: Dataset, split: str | None = None) -> QuerySet[Piece]:
    pieces = dataset.pieces.defer("quantized")
    return pieces.filter(split=split) if split else pieces


def recent_jobs(limit: int = 10) -> QuerySet[Job]:
    return Job.objects.all()[:limit]


def playable_rendering(piece: Piece, profile: str = "default") -> Rendering | None:
    return (
        piece.renderings.filter(status=Rendering.Status.OK, profile__name=profile)
        .order_by("-created_at")
        .first()
    )
