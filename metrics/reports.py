"""Significance reports for a study: one analysis, five formats (HTML, PDF, CSV, LaTeX, JSON).

``build_report`` reads the study and its answers and runs metrics.analysis; the renderers
below only format the Report it returns, so every format shows the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from config.versions import earshot_version
from metrics import plots
from metrics.analysis import BlockDesign, Options, analyse, percent
from metrics.analysis.results import (
    AbxBlock,
    BlockResult,
    MushraBlock,
    PairwiseBlock,
    PlannedTest,
    Preregistration,
    RatingBlock,
    Report,
    SequentialMonitor,
    SharesBySystem,
    StudySummary,
    StyleBlock,
    SystemSummary,
    TuringBlock,
    to_json_data,
)
from metrics.analysis.rows import kept_rows
from metrics.analysis.sequential import monitor, primary_contrast
from metrics.statistics.multiple import adjust_p_values
from studies import selectors
from studies.design import MUSHRA_MAX, Hypothesis, scale_values
from studies.exchange import spreadsheet_safe
from studies.models import Study
from studies.preregistration import exclusion_facts

PDF_TIMEOUT_SECONDS = 120


class ReportError(Exception):
    """A report could not be produced (for example no browser to print the PDF)."""


def block_designs(study: Study) -> list[BlockDesign]:
    designs = []
    blocks = study.blocks.prefetch_related("systems").select_related("reference", "anchor")
    for block in blocks.order_by("position"):
        systems = sorted(block.systems.all(), key=lambda s: s.pk)
        designs.append(
            BlockDesign(
                number=block.position + 1,
                kind=block.kind,
                title=block.title,
                systems=[s.name for s in systems],
                human_systems=[s.name for s in systems if s.is_human],
                scale_values=scale_values(block.scale)
                if block.kind == "rating"
                else [0, MUSHRA_MAX]
                if block.kind == "mushra"
                else [],
                pairs=[tuple(pair) for pair in block.pairs],
                styles=list(block.styles),
                reference=block.reference.name if block.reference else "",
                anchor=block.anchor.name if block.anchor else "",
                post_screening=block.post_screening,
            )
        )
    return designs


def software_versions() -> dict:
    versions = {"python": platform.python_version()}
    versions["earshot"] = earshot_version()
    for package in ("numpy", "scipy", "statsmodels", "Django"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def build_report(
    study: Study,
    *,
    include_simulated: bool = False,
    options: Options | None = None,
    rows: list[dict] | None = None,
) -> Report:
    """``rows``: the study's answer table, when the caller has already read it."""
    if rows is None:
        rows = selectors.answer_rows(study)
    designs = block_designs(study)
    analysis = analyse(rows, designs, include_simulated=include_simulated, options=options)
    systems = [
        SystemSummary(
            name=system.name,
            kind=system.kind,
            source=system.sample_set.name
            if system.sample_set
            else (system.dataset.name if system.dataset_id else None),
            checkpoint=system.sample_set.checkpoint_id
            if system.sample_set
            else system.checkpoint_id,
            sampling=system.sample_set.settings.get("sampling") if system.sample_set else None,
            style=system.style or None,
            clips=system.stimuli.count(),
        )
        for system in study.systems.select_related("sample_set", "dataset").order_by("pk")
    ]
    only_simulated = (
        not include_simulated
        and analysis.listeners.with_answers == 0
        and analysis.listeners.simulated > 0
    )
    sequential = sequential_monitor(study, rows, designs, include_simulated, options)
    return Report(
        study=StudySummary(
            slug=study.slug,
            title=study.title,
            state=study.state,
            clips=study.stimuli.count(),
            clip_seconds=study.design.clip_seconds,
            headphone_screen=study.headphone_screen,
            exclude_failed_checks=study.exclude_failed_checks,
        ),
        systems=systems,
        generated_at=timezone.now().isoformat(timespec="seconds"),
        versions=software_versions(),
        only_simulated=only_simulated,
        **{f.name: getattr(analysis, f.name) for f in fields(analysis)},
        sequential=sequential,
        preregistration=preregistration_of(study, analysis, include_simulated, options, sequential),
    )


def default_correction(study: Study) -> str:
    """The correction a report uses unless asked for another: the frozen plan's, else Holm's."""
    plan = study.design.plan
    return plan.correction if study.preregistration and plan else "holm"


def preregistration_of(
    study: Study,
    analysis,
    include_simulated: bool,
    options: Options | None,
    sequential: SequentialMonitor | None = None,
) -> Preregistration | None:
    """The frozen plan's hypotheses tested as it says, and where this report departs from
    it (a deviation makes the report exploratory)."""
    if not study.preregistration:
        return None
    facts = json.loads(study.preregistration)
    options = options or Options()
    deviations = []
    if options.correction != facts["correction"]:
        deviations.append(
            f"p values are {options.correction}-adjusted; the plan froze {facts['correction']}"
        )
    if include_simulated:
        deviations.append("simulated listeners are included")
    current = exclusion_facts(
        exclude_failed_checks=study.exclude_failed_checks,
        headphone_screen=study.headphone_screen,
        answer_timing=study.answer_timing,
        speeder_floor_seconds=study.speeder_floor_seconds,
        mushra_post_screening=[
            block.position + 1 for block in study.blocks.filter(post_screening=True)
        ],
    )
    changed = [
        f"{name} {facts['exclusions'].get(name)!r} to {value!r}"
        for name, value in current.items()
        if facts["exclusions"].get(name) != value
    ]
    if changed:
        deviations.append("exclusions changed after the study opened: " + "; ".join(changed))
    alpha = facts["alpha"]
    planned = []
    if facts["primary_hypothesis"]:
        planned.append(("primary", Hypothesis(**{
            k: facts["primary_hypothesis"][k] for k in ("block", "better", "than")
        })))  # fmt: skip
    planned += [("secondary", Hypothesis(**h)) for h in facts["secondary_hypotheses"]]
    results = []
    for role, hypothesis in planned:
        estimate, p = primary_contrast(analysis.blocks[hypothesis.block - 1], hypothesis)
        results.append((role, hypothesis, estimate, p))
    secondary_p = [p for role, _, _, p in results if role == "secondary" and p is not None]
    adjusted = iter(adjust_p_values(secondary_p, method=facts["correction"]) if secondary_p else [])
    tests = []
    for role, hypothesis, estimate, p in results:
        if role == "secondary":
            p_adjusted = None if p is None else next(adjusted)
        elif sequential is not None:
            # Group-sequential: the looks' stage-wise p, once a look has decided.
            p_adjusted = sequential.stagewise_p
        else:
            p_adjusted = p
        tests.append(
            PlannedTest(
                role=role,
                hypothesis=hypothesis.label,
                estimate=estimate,
                p=p,
                p_adjusted=p_adjusted,
                supported=None if p_adjusted is None else bool(estimate > 0 and p_adjusted < alpha),
            )
        )
    return Preregistration(
        sha256=study.preregistration_sha256,
        frozen_at=facts["frozen_at"],
        alpha=alpha,
        correction=facts["correction"],
        tests=tests,
        deviations=deviations,
    )


def sequential_monitor(
    study: Study, rows, designs, include_simulated: bool, options: Options | None
) -> SequentialMonitor | None:
    """The declared group-sequential design's looks and decision, if the study has one."""
    plan = study.design.sequential
    if plan is None:
        return None
    options = options or Options()
    block = designs[plan.block - 1]

    def analyse_block(block_rows):
        result = analyse(block_rows, [block], include_simulated=include_simulated, options=options)
        return result.blocks[0]

    kept = kept_rows(rows, include_simulated=include_simulated)
    return monitor(plan, kept, block, options, analyse_block)


# --- tables shared by CSV and LaTeX ------------------------------------------------------


@dataclass
class Table:
    name: str  # a file-name-safe identifier
    caption: str
    columns: list[str]
    rows: list[list]


def _table(name: str, caption: str, columns: str | list[str], records) -> Table:
    """A table of the named fields of each record (a result object or a dict)."""
    names = columns.split() if isinstance(columns, str) else columns
    return Table(name, caption, names, [[_field(r, c) for c in names] for r in records])


def _field(record, name: str):
    return record.get(name) if isinstance(record, dict) else getattr(record, name)


def human_shares(block: BlockResult) -> SharesBySystem | TuringBlock | None:
    """A block's "judged human" shares: a Turing block's own, a rating block's "could a human
    have composed this?" answers. Both have question, human_reference and systems_table."""
    if isinstance(block, RatingBlock):
        return block.believability
    return block if isinstance(block, TuringBlock) else None


def tables(report: Report) -> list[Table]:
    out = []
    plan = report.preregistration
    if plan:
        exploratory = f"; EXPLORATORY: {'; '.join(plan.deviations)}" if plan.deviations else ""
        out.append(_table(
            "preregistered_hypotheses",
            f"Preregistered hypotheses (plan SHA-256 {plan.sha256}, frozen {plan.frozen_at}; "
            f"secondary p {plan.correction}-adjusted){exploratory}",
            "hypothesis role estimate p p_adjusted supported",
            plan.tests,
        ))  # fmt: skip
    if report.sequential:
        out.append(_table(
            "sequential_looks",
            f"Group-sequential looks: {report.sequential.sentence}",
            "look listeners information cumulative_alpha efficacy_z nominal_p futility_z "
            "estimate p z decision",
            report.sequential.looks,
        ))  # fmt: skip
    for block in report.blocks:
        prefix = f"block{block.number}_{block.kind}"
        label = f"Block {block.number} ({block.title})"
        if isinstance(block, RatingBlock) and block.systems_table:
            out.append(_table(
                f"{prefix}_ratings",
                f"{label}: ratings per system; 95% CI from the mixed model",
                "system answers listeners mean sd median model_mean model_low model_high "
                "listener_t_low listener_t_high",
                block.systems_table,
            ))  # fmt: skip
            out.append(_table(
                f"{prefix}_comparisons",
                f"{label}: pairwise differences in mean rating ({report.correction}-adjusted p)",
                "first second difference low high p_model p_model_adjusted nonparametric_test "
                "p_nonparametric p_nonparametric_adjusted",
                block.pairwise,
            ))  # fmt: skip
        shares = human_shares(block)
        if shares and shares.systems_table:
            out.append(_table(
                f"{prefix}_human",
                f"{label}: share of answers saying a clip {shares.question}",
                "system human successes n share low high p_vs_half p_vs_human d_prime",
                [{**to_json_data(s), "d_prime": s.sensitivity.d_prime if s.sensitivity else None}
                 for s in shares.systems_table],
            ))  # fmt: skip
        if isinstance(block, PairwiseBlock) and block.pairs:
            out.append(_table(
                f"{prefix}_pairs",
                f"{label}: preferences per pair (ties left out of the share)",
                "first second first_wins second_wins ties n share low high p_value p_adjusted",
                block.pairs,
            ))  # fmt: skip
            bt = block.bradley_terry
            if bt.estimable:
                out.append(_table(
                    f"{prefix}_bradley_terry",
                    f"{label}: Bradley-Terry strengths (log-odds, {bt.reference} = 0)",
                    "system ability standard_error low high robust_standard_error",
                    bt.strengths,
                ))  # fmt: skip
        if isinstance(block, MushraBlock) and block.hidden_reference_at_top:
            top = block.hidden_reference_at_top
            out.append(_table(
                f"{prefix}_hidden_reference",
                f"{label}: pages whose hidden reference ({block.reference}) was rated 90 or "
                f"more; listeners excluded by the post-screening: {block.post_screened}",
                "reference anchor pages successes n share low high post_screened",
                [{**to_json_data(top), "reference": block.reference, "anchor": block.anchor,
                  "pages": block.pages, "post_screened": block.post_screened}],
            ))  # fmt: skip
        if isinstance(block, AbxBlock) and block.systems_table:
            out.append(_table(
                f"{prefix}_discrimination",
                f"{label}: X matched, each system told apart from {block.reference} "
                "(guessing: 50%); model shares population-averaged",
                "system correct n share low high p_binomial model_share model_low model_high "
                "model_p",
                block.systems_table,
            ))  # fmt: skip
        if isinstance(block, StyleBlock) and block.by_system:
            out.append(_table(
                f"{prefix}_accuracy",
                f"{label}: style identification accuracy (chance {percent(block.chance)})",
                "system human successes n share low high p_vs_chance",
                [{**to_json_data(s), "system": s.label} for s in block.by_system],
            ))  # fmt: skip
            confusion = [
                {"true_style": style, **dict(zip(block.styles, row, strict=True))}
                for style, row in zip(block.styles, block.confusion, strict=True)
            ]
            out.append(_table(
                f"{prefix}_confusion",
                f"{label}: confusion matrix (rows: true style, columns: answer)",
                ["true_style", *block.styles],
                confusion,
            ))  # fmt: skip
    return out


def _csv_cell(value):
    if value is None:
        return ""
    return spreadsheet_safe(value) if isinstance(value, str) else value


def tables_to_csv_zip(result_tables: list[Table]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in result_tables:
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(table.columns)
            writer.writerows([[_csv_cell(v) for v in row] for row in table.rows])
            archive.writestr(f"{table.name}.csv", text.getvalue())
    return buffer.getvalue()


def to_csv_zip(report: Report) -> bytes:
    return tables_to_csv_zip(tables(report))


def to_json(report: Report) -> str:
    return json.dumps(to_json_data(report), indent=2, allow_nan=False)


# --- LaTeX -------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _tex_number(value, digits: int = 2) -> str:
    if value is None:
        return "--"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return latex_escape(value)


def _tex_p(value) -> str:
    if value is None:
        return "--"
    return "$<$0.001" if value < 0.001 else f"{value:.3f}"


def tables_to_latex(result_tables: list[Table], *, heading: str, label_prefix: str) -> str:
    """Booktabs table fragments, one per table, ready to paste into a paper."""
    parts = [f"% {heading}", "% Needs \\usepackage{booktabs}. Intervals are 95% unless stated."]
    for table in result_tables:
        rows = []
        for row in table.rows:
            cells = []
            for column, value in zip(table.columns, row, strict=True):
                if column.startswith("p_") and column != "p_method":
                    cells.append(_tex_p(value))
                elif (
                    column in ("share", "low", "high")
                    and isinstance(value, float)
                    and ("share" in table.columns)
                ):
                    cells.append(f"{value * 100:.1f}\\%")
                else:
                    cells.append(_tex_number(value))
            rows.append(" & ".join(cells) + r" \\")
        header = " & ".join(latex_escape(c.replace("_", " ")) for c in table.columns)
        parts += [
            "",
            r"\begin{table}[ht]",
            r"\centering",
            rf"\caption{{{latex_escape(table.caption)}}}",
            rf"\label{{tab:{latex_escape(label_prefix)}-{table.name.replace('_', '-')}}}",
            r"\begin{tabular}{l" + "r" * (len(table.columns) - 1) + "}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
        ]
    return "\n".join(parts) + "\n"


def to_latex(report: Report) -> str:
    # A confusion matrix reads better as the report's heatmap.
    result_tables = [t for t in tables(report) if not t.name.endswith("_confusion")]
    heading = (
        f"earshot significance report for study '{report.study.slug}', "
        f"generated {report.generated_at}"
    )
    return tables_to_latex(result_tables, heading=heading, label_prefix=report.study.slug)


# --- HTML and PDF ------------------------------------------------------------------------


def _charts(block: BlockResult) -> dict[str, str]:
    """The block's SVG charts, by name."""
    charts = {}
    if isinstance(block, RatingBlock) and block.systems_table:
        low, high = block.scale or (1, 10)
        mushra = isinstance(block, MushraBlock)
        charts["means"] = plots.interval_chart(
            [
                (
                    s.system,
                    s.model_mean if s.model_mean is not None else s.mean,
                    s.model_low,
                    s.model_high,
                )
                for s in block.systems_table
            ],
            axis=(low, high),
            title="Mean MUSHRA score per system with 95% CI (mixed model); the anchor and "
            "the hidden reference last"
            if mushra
            else "Mean rating per system with 95% CI (mixed model)",
        )
    shares = human_shares(block)
    if shares and shares.systems_table:
        human = shares.human_reference.share if shares.human_reference else None
        charts["human"] = plots.interval_chart(
            [(s.system, s.share, s.low, s.high) for s in shares.systems_table],
            axis=(0, 1),
            percent=True,
            reference=human,
            title="Share judged human per system with 95% Wilson CI",
        )
    if isinstance(block, PairwiseBlock) and block.pairs:
        charts["wins"] = plots.heatmap(
            block.systems,
            block.systems,
            block.win_matrix,
            title="Wins: row system preferred over column system",
            row_title="preferred",
            column_title="over",
        )
        bt = block.bradley_terry
        if bt.estimable:
            values = [v for s in bt.strengths for v in (s.low, s.high)]
            span = max(1.0, max(abs(v) for v in values))
            charts["strengths"] = plots.interval_chart(
                [(s.system, s.ability, s.low, s.high) for s in bt.strengths],
                axis=(-span, span),
                reference=0.0,
                title=f"Bradley-Terry strength (log-odds vs {bt.reference}) with 95% CI",
            )
    if isinstance(block, AbxBlock) and block.systems_table:
        charts["matched"] = plots.interval_chart(
            [
                (
                    s.system,
                    s.model_share if s.model_share is not None else s.share,
                    s.model_low if s.model_share is not None else s.low,
                    s.model_high if s.model_share is not None else s.high,
                )
                for s in block.systems_table
            ],
            axis=(0, 1),
            percent=True,
            reference=0.5,
            title=f"X matched, told apart from {block.reference}, with 95% CI; line: guessing",
        )
    if isinstance(block, StyleBlock) and block.by_system:
        charts["accuracy"] = plots.interval_chart(
            [(s.label, s.share, s.low, s.high) for s in block.by_system],
            axis=(0, 1),
            percent=True,
            reference=block.chance,
            title="Style identified correctly, with 95% Wilson CI; line: chance",
        )
        charts["confusion"] = plots.heatmap(
            block.styles,
            block.styles,
            block.confusion,
            title="Confusion matrix",
            row_title="true style",
            column_title="answered",
        )
    return charts


def report_context(report: Report) -> dict:
    """The templates' context: the report, and each block beside its charts."""
    return {"report": report, "blocks": [(block, _charts(block)) for block in report.blocks]}


def _css_string(text: str) -> str:
    """text as a quoted CSS string: every character outside plain ASCII letters, digits and
    spaces as a hex escape, so no title can end the string or the style sheet."""
    return (
        '"'
        + "".join(
            c if (c.isascii() and (c.isalnum() or c == " ")) else f"\\{ord(c):x} " for c in text
        )
        + '"'
    )


def to_html(report: Report, *, printed: bool = False, paper: str = "A4") -> str:
    """A standalone document (styles inline, no scripts): save it, mail it, print it.

    printed: every collapsed section open, and the page size, the study's title and date,
    and page numbers in the page margins."""
    css = Path(finders.find("metrics/report.css")).read_text()
    if printed:
        title = f"{report.study.title} - {report.generated_at[:10]}"
        css += (
            f"\n@page {{ size: {paper}; margin: 16mm 14mm 16mm 14mm;"
            f" @top-left {{ content: {_css_string(title)}; font-size: 8pt; color: #5b6475; }}"
            " @bottom-right { content: 'Page ' counter(page) ' of ' counter(pages);"
            " font-size: 8pt; color: #5b6475; } }\n"
        )
    return render_to_string(
        "metrics/report_document.html",
        {**report_context(report), "inline_css": css, "printed": printed},
    )


# Paper sizes for the PDF, as CSS names them (A4 is the default; Letter for North America).
PAPER_SIZES = ("A4", "Letter")


def to_pdf(report: Report, *, paper: str = "A4") -> bytes:
    """Print the standalone HTML with headless Chromium: the PDF is the page, print-styled,
    on ``paper`` (one of PAPER_SIZES)."""
    if paper not in PAPER_SIZES:
        raise ValueError(f"paper must be one of {', '.join(PAPER_SIZES)}, not {paper[:20]!r}")
    browser = settings.CHROMIUM_PATH
    if not Path(browser).is_file():
        raise ReportError(
            f"PDF reports are printed with Chromium, and {browser} is missing: install the "
            "chromium package (make demo does) or set EARSHOT_CHROMIUM."
        )
    with tempfile.TemporaryDirectory(prefix="earshot-report-") as folder:
        page, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(to_html(report, printed=True, paper=paper), encoding="utf-8")
        command = [
            str(browser), "--headless", "--no-sandbox", "--disable-gpu",
            "--no-pdf-header-footer", f"--user-data-dir={folder}/profile",
            f"--print-to-pdf={pdf}", page.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError("Chromium took too long to print the report.") from None
        if not pdf.is_file() or pdf.stat().st_size == 0:
            raise ReportError("Chromium did not produce a PDF.")
        return pdf.read_bytes()


# Format name -> (MIME type, renderer): the download views and the report command.
FORMATS = {
    "html": ("text/html; charset=utf-8", to_html),
    "pdf": ("application/pdf", to_pdf),
    "tex": ("text/x-tex; charset=utf-8", to_latex),
    "zip": ("application/zip", to_csv_zip),
    "json": ("application/json", to_json),
}
