"""The significance report page at 40,000 answers: a cold request (computed) against a warm
one (the same study revision, served from the cache), and a cold one again after a single
new answer (a new revision: never stale).

Requests go through Django's test client to the real view (login, ownership, the file
cache `make serve` uses, the template); 1,000 simulated listeners x 40 answers by default.
Target (issue 20): a warm request under 300 ms; the ratio is cold / warm in the same run.

    .venv/bin/python benchmarks/report_cache.py [--listeners 1000]
"""

import argparse
import statistics
import time

from bench_study import large_study_spec, setup_django, study_without_audio

TARGET_WARM_SECONDS = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=1000)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth.models import User
    from django.test import Client

    from studies import services
    from studies.models import Participant, Response
    from studies.simulation import ListenerModel

    spec = large_study_spec()
    study = study_without_audio(spec, clips=60)
    model = ListenerModel(system_effects={"model-a": 0.5, "markov": -0.8}, attentive=1.0)
    services.simulate_listeners(study, args.listeners, model)
    answers = Response.objects.count()
    print(f"set-up: {args.listeners} simulated listeners, {answers} answers")

    client = Client(HTTP_HOST="127.0.0.1")  # a host the settings allow
    client.force_login(User.objects.create_superuser("bench", password="x"))
    url = "/studies/bench/report/?simulated=yes"

    def request() -> float:
        begun = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return time.perf_counter() - begun

    cold = request()
    warm = statistics.median(request() for _ in range(7))
    # One more listener answers: a new revision, computed again.
    services.simulate_listeners(study, 1, model)
    assert Participant.objects.filter(study=study).count() == args.listeners + 1
    cold_again = request()
    warm_again = statistics.median(request() for _ in range(7))
    print(f"cold request (computed):                {cold * 1000:8.0f} ms")
    print(f"warm request (same revision, median 7): {warm * 1000:8.0f} ms")
    print(f"after one new listener, cold:           {cold_again * 1000:8.0f} ms")
    print(f"after one new listener, warm:           {warm_again * 1000:8.0f} ms")
    print(
        f"report page at {answers} answers: warm {warm * 1000:.0f} ms, cold {cold * 1000:.0f} ms "
        f"(cold / warm {cold / warm:.1f}x); target warm under {TARGET_WARM_SECONDS * 1000:.0f} "
        f"ms: {'met' if warm < TARGET_WARM_SECONDS else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
