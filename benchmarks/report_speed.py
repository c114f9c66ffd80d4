"""How long the full significance report takes for a large study.

A study with four blocks (rating with "could a human have composed this?" 20 trials,
Turing 10, pairwise 5, style 5: 40 answers per listener; 6 systems, 2 of them human
references, 60 clips in all, or `--clips`) filled with `--listeners` simulated listeners
through the real assignment. Timed: services' answer table, the analysis of every block and the HTML
rendering, i.e. what the report page does. Baseline, measured in the same run: the same
report with the ratings' crossed-intercept mixed model fitted by statsmodels' MixedLM
(variance components in one group, the usual way to get crossed effects from it) instead
of earshot's lme4-style REML.

    .venv/bin/python benchmarks/report_speed.py [--listeners 1000] [--clips 200 --no-baseline]
"""

import argparse
import resource
import time

from bench_study import large_study_spec, setup_django, study_without_audio

# Issue 18: the whole report for 1,000 listeners x 40 answers over 200 clips under 10 s.
TARGET_SECONDS = 10.0


def statsmodels_fit(y, X, groups):
    """The baseline: crossed random intercepts as variance components of one group."""
    import warnings

    import numpy as np
    import statsmodels.api as sm

    from metrics.statistics.mixed import MixedModelFit

    n = len(y)
    exog_vc = {}
    for name, codes in groups.items():
        indicator = np.zeros((n, int(codes.max()) + 1))
        indicator[np.arange(n), codes] = 1
        exog_vc[name] = {0: indicator}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.MixedLM(np.asarray(y, float), X, groups=np.zeros(n), exog_vc=exog_vc)
        result = model.fit(reml=True)
    p = X.shape[1]
    return MixedModelFit(
        coefficients=np.asarray(result.fe_params),
        covariance=np.asarray(result.cov_params())[:p, :p],
        residual_variance=float(result.scale),
        group_variances=dict(zip(groups, map(float, result.vcomp), strict=True)),
        reml_criterion=float(-2 * result.llf),
        n_observations=n,
        group_levels={k: int(v.max()) + 1 for k, v in groups.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument(
        "--clips", type=int, default=60, help="clips in all, spread over the 6 systems"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the statsmodels baseline (its dense algebra takes many minutes at 200 clips)",
    )
    args = parser.parse_args()

    setup_django()
    from metrics import reports
    from metrics.analysis import ratings
    from studies import services
    from studies.models import Response
    from studies.simulation import ListenerModel

    spec = large_study_spec()
    study = study_without_audio(spec, clips=args.clips)

    model = ListenerModel(
        system_effects={"model-a": 0.5, "model-b": 0.2, "markov": -0.8}, attentive=1.0
    )
    started = time.perf_counter()
    services.simulate_listeners(study, args.listeners, model)
    print(
        f"set-up: {args.listeners} simulated listeners, {Response.objects.count()} answers "
        f"in {time.perf_counter() - started:.1f} s"
    )

    def timed(label: str) -> float:
        begun = time.perf_counter()
        html = reports.to_html(reports.build_report(study, include_simulated=True))
        seconds = time.perf_counter() - begun
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{label:<46} {seconds:7.2f} s, process peak RSS so far {peak:6.0f} MiB, "
              f"{len(html) // 1024} KiB of HTML")  # fmt: skip
        return seconds

    # Untimed first run: imports, template compilation and caches are nobody's cost.
    reports.to_html(reports.build_report(study, include_simulated=True))
    fast = timed("full report (earshot's REML)")
    print(
        f"report for {args.listeners} listeners x 40 answers over {args.clips} clips: "
        f"{fast:.2f} s; target under {TARGET_SECONDS:.0f} s (target / time "
        f"{TARGET_SECONDS / fast:.2f}x): {'met' if fast < TARGET_SECONDS else 'NOT met'}"
    )
    if args.no_baseline:
        return
    ours = ratings.fit_crossed_intercepts
    ratings.fit_crossed_intercepts = statsmodels_fit
    try:
        slow = timed("baseline: statsmodels MixedLM variance comps")
    finally:
        ratings.fit_crossed_intercepts = ours
    print(f"{slow / fast:.1f}x faster than the baseline")


if __name__ == "__main__":
    main()
