"""Style-identification blocks: which style is this clip in? Accuracy per system against
chance, a confusion matrix, and generated against human clips."""

from __future__ import annotations

from metrics.analysis.agreement import listener_agreement
from metrics.analysis.binary import binary_summary, fit_binary_model
from metrics.analysis.common import share_fields, share_of
from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.results import GeneratedVsHuman, StyleAccuracy, SystemStyleAccuracy
from metrics.analysis.wording import interval_text, p_text, percent
from metrics.statistics.proportions import binomial_test, two_proportions, wilson_interval


def analyse_style(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    """The style block's own fields of a StyleBlock."""
    rows = [r for r in rows if r.get("style_answer") and r.get("true_style")]
    styles = block.styles or sorted({r["true_style"] for r in rows})
    chance = 1 / len(styles) if styles else None
    notes = []

    def accuracy(subset, label, human=None) -> dict:
        correct = sum(r["style_answer"] == r["true_style"] for r in subset)
        share = wilson_interval(correct, len(subset), confidence=options.confidence)
        entry = {
            "label": label,
            **share_fields(share),
            "p_vs_chance": binomial_test(correct, len(subset), null_share=chance).p_value
            if chance
            else None,
        }
        if human is not None:
            entry["human"] = human
        return entry

    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    by_system = [
        accuracy([r for r in rows if r["system"] == s], s, s in block.human_systems)
        for s in systems
    ]
    by_style = [accuracy([r for r in rows if r["true_style"] == s], s) for s in styles]
    model = fit_binary_model(
        rows,
        systems,
        lambda r: int(r["style_answer"] == r["true_style"]),
        notes,
        what="to 'was the style named right?'",
    )
    chance_logit = model.fit.logit_for_population_share(chance) if model and chance else None
    for entry in by_system:
        entry.update(model_share=None, model_low=None, model_high=None, p_model_vs_chance=None)
        if model and entry["label"] in model.systems:
            estimate = model.share(
                model.weights(entry["label"]), confidence=options.confidence, null=chance_logit
            )
            entry.update(
                model_share=estimate.share,
                model_low=estimate.low,
                model_high=estimate.high,
                p_model_vs_chance=estimate.p_value,
            )
    confusion = [
        [sum(1 for r in rows if r["true_style"] == t and r["style_answer"] == a) for a in styles]
        for t in styles
    ]
    generated = [r for r in rows if r["system"] not in block.human_systems]
    human = [r for r in rows if r["system"] in block.human_systems]
    comparison = None
    if generated and human:
        g = sum(r["style_answer"] == r["true_style"] for r in generated)
        h = sum(r["style_answer"] == r["true_style"] for r in human)
        result = two_proportions(g, len(generated), h, len(human), confidence=options.confidence)
        comparison = GeneratedVsHuman(
            generated=share_of(result.first),
            human=share_of(result.second),
            difference=result.difference,
            z=result.z,
            p_value_z=result.p_value_z,
            p_value_fisher=result.p_value_fisher,
            sentence=(
                f"Listeners named the style of generated clips correctly in "
                f"{percent(result.first.share)} of {result.first.n} answers and of human clips in "
                f"{percent(result.second.share)} of {result.second.n} (z = {result.z:.2f}, "
                f"{p_text(result.p_value_z)}; Fisher's exact {p_text(result.p_value_fisher)})."
            ),
        )
    else:
        notes.append("Generated and human clips are both needed for their comparison.")
    for entry in by_system:
        if entry["model_share"] is not None:
            entry["sentence"] = (
                f"{entry['label']}: style named correctly in {percent(entry['model_share'])} of "
                f"answers (population-averaged, 95% CI "
                f"{interval_text(entry['model_low'], entry['model_high'], as_percent=True)}; "
                f"chance {percent(chance)}, {p_text(entry['p_model_vs_chance'])}; "
                f"{entry['n']} answers)."
            )
            continue
        entry["sentence"] = (
            f"{entry['label']}: style named correctly in {percent(entry['share'])} of "
            f"{entry['n']} answers (95% CI "
            f"{interval_text(entry['low'], entry['high'], as_percent=True)}; chance "
            f"{percent(chance)}, {p_text(entry['p_vs_chance'])})."
        )
    return {
        "notes": notes,
        "styles": styles,
        "chance": chance,
        "by_system": [SystemStyleAccuracy(**entry) for entry in by_system],
        "by_style": [StyleAccuracy(**entry) for entry in by_style],
        "model": binary_summary(model),
        "confusion": confusion,
        "generated_vs_human": comparison,
        "agreement": listener_agreement(rows, "style_answer", "nominal"),
    }
