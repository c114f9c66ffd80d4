"""How long a participant waits for their trials once many have taken the study.

A study with four blocks (rating, Turing, pairwise, style; 6 systems x 10 clips) and
`--prior` participants who completed 20 trials each. Each new participant is assigned by
services.start_trials, which counts exposures in the database (one row per stimulus or
system pair). Baseline, measured in the same run: the same assignment with exposures
counted in Python from every counted trial row, as a first version did.

    .venv/bin/python benchmarks/study_assignment.py [--prior 1000] [--new 30]
"""

import argparse
import time

from bench_study import setup_django, study_without_audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", type=int, default=1000, help="participants already done")
    parser.add_argument("--new", type=int, default=30, help="participants assigned and timed")
    args = parser.parse_args()

    setup_django()
    from django.utils import timezone

    from studies import assignment, services
    from studies.design import StudySpec
    from studies.models import Participant, Trial

    systems = [f"system-{k}" for k in range(6)]
    spec = StudySpec.from_dict(
        {
            "slug": "bench",
            "title": "Bench",
            "systems": [
                {"name": n, "sample_set": "unused", "style": f"style-{k % 3}"}
                for k, n in enumerate(systems)
            ],
            "blocks": [
                {"kind": "rating", "trials": 6, "instructed_checks": 1, "repeats": 1},
                {"kind": "turing", "trials": 5},
                {"kind": "pairwise", "trials": 5},
                {"kind": "style", "trials": 4},
            ],
        }
    )
    study = study_without_audio(spec)

    def join(number: int) -> Participant:
        return Participant.objects.create(
            study=study,
            stage="instructions",
            link_key=f"pid:{number}",
            expires_at=timezone.now() + timezone.timedelta(hours=1),
        )

    started = time.perf_counter()
    for number in range(args.prior):
        services.start_trials(join(number))
        if number % 100 == 99:
            Participant.objects.filter(stage="trials").update(
                stage="done", completed_at=timezone.now()
            )
    Participant.objects.filter(stage="trials").update(stage="done", completed_at=timezone.now())
    print(
        f"set-up: {args.prior} participants, {Trial.objects.count()} trials in {time.perf_counter() - started:.1f} s"
    )

    def rows_exposure(block, *, exclude=None):
        exposure = assignment.Exposure()
        trials = services.counted_trials(block).select_related("first__system", "second__system")
        if exclude is not None:
            trials = trials.exclude(participant=exclude)
        for trial in trials:
            exposure.stimulus[trial.first_id] += 1
            if trial.second_id:
                exposure.stimulus[trial.second_id] += 1
                first, second = trial.first.system.name, trial.second.system.name
                pair = assignment.pair_key(first, second)
                exposure.pair[pair] += 1
                exposure.first[(pair, first)] += 1
        return exposure

    def timed(label: str, offset: int) -> float:
        latencies = []
        for number in range(args.new):
            participant = join(offset + number)
            begun = time.perf_counter()
            services.start_trials(participant)
            latencies.append(time.perf_counter() - begun)
        latencies.sort()
        median = latencies[len(latencies) // 2]
        print(
            f"{label:<44} median {1000 * median:7.1f} ms, worst {1000 * latencies[-1]:7.1f} ms per participant"
        )
        return median

    fast = timed("counted in the database (services)", 10**6)
    aggregated = services.block_exposure
    services.block_exposure = rows_exposure
    try:
        slow = timed("baseline: counted from every trial row", 2 * 10**6)
    finally:
        services.block_exposure = aggregated
    print(
        f"assignment after {args.prior} participants: {slow / fast:.1f}x faster than the baseline"
    )


if __name__ == "__main__":
    main()
