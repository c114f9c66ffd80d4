"""A study's analysis plan, frozen into a document when the study opens (plain Python, no
Django). The document is canonical JSON, so its SHA-256 names exactly one plan: the hash
on the dashboard and in every report is the hash of the file a reader downloads."""

from __future__ import annotations

import hashlib
import json

from studies.design import BlockKind, StudySpec

FORMAT = 1


def measure_of(spec: StudySpec, block_number: int) -> str:
    kind = spec.blocks[block_number - 1].kind
    if kind == BlockKind.RATING:
        return (
            "difference in mean rating, linear mixed model with listener and clip intercepts "
            "(Satterthwaite t)"
        )
    return "preference share with presentation order balanced out, logit mixed model (Wald t)"


def plan_facts(spec: StudySpec) -> dict:
    """What the plan fixes, as plain data."""
    primary = spec.primary_hypothesis
    plan = spec.plan
    return {
        "earshot_preregistration": FORMAT,
        "study": {
            "slug": spec.slug,
            "title": spec.title,
            "public_title": spec.participant_title,
            "language": spec.language,
        },
        "systems": [system.to_dict() for system in spec.systems],
        "blocks": [block.to_dict() for block in spec.blocks],
        "primary_hypothesis": None
        if primary is None
        else {
            "block": primary.block,
            "better": primary.better,
            "than": primary.than,
            "measure": measure_of(spec, primary.block),
        },
        "secondary_hypotheses": [
            {"block": h.block, "better": h.better, "than": h.than}
            for h in (plan.secondary if plan else ())
        ],
        "alpha": plan.alpha if plan else (spec.sequential.alpha if spec.sequential else 0.05),
        "correction": plan.correction if plan else "holm",
        "exclusions": exclusion_facts(
            exclude_failed_checks=spec.exclude_failed_checks,
            headphone_screen=spec.headphone_screen,
            answer_timing=spec.answer_timing,
            speeder_floor_seconds=spec.speeder_floor_seconds,
            mushra_post_screening=[
                number
                for number, block in enumerate(spec.blocks, start=1)
                if block.kind == BlockKind.MUSHRA and block.post_screening
            ],
        ),
        "attention_checks": {
            str(number): block.instructed_checks
            for number, block in enumerate(spec.blocks, start=1)
        },
        "sequential": None
        if spec.sequential is None
        else {
            "looks": list(spec.sequential.looks),
            "alpha": spec.sequential.alpha,
            "sided": spec.sequential.sided,
            "spending": spec.sequential.spending,
            "futility": spec.sequential.futility,
        },
        "planned_listeners": plan.planned_listeners
        if plan and plan.planned_listeners
        else (spec.sequential.looks[-1] if spec.sequential else None),
    }


def exclusion_facts(
    *, exclude_failed_checks: bool, headphone_screen: bool, answer_timing: str,
    speeder_floor_seconds: float, mushra_post_screening=(),
) -> dict:  # fmt: skip
    facts = {
        "exclude_failed_checks": exclude_failed_checks,
        "headphone_screen": headphone_screen,
        "answer_timing": answer_timing,
        "speeder_floor_seconds": speeder_floor_seconds,
    }
    # Only a study with MUSHRA blocks names them: plans frozen before stay as they were.
    if mushra_post_screening:
        facts["mushra_post_screening"] = {
            "blocks": list(mushra_post_screening),
            "rule": "exclude a listener who rates the hidden reference below 90 on more "
            "than 15% of their pages (ITU-R BS.1534)",
        }
    return facts


def plan_document(spec: StudySpec, *, frozen_at: str, software: str) -> str:
    """The preregistration's text: sorted keys, two-space indents, one final newline."""
    facts = {**plan_facts(spec), "frozen_at": frozen_at, "software": software}
    return json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def digest(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def declares_a_plan(spec: StudySpec) -> bool:
    return spec.plan is not None or spec.sequential is not None
