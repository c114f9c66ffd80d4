"""A launch burst: N virtual participants (default 300, arriving within 60 s) each take a
20-trial study through the production server's real HTTP endpoints, on localhost.

    python benchmarks/participant_burst.py [--participants 300] [--database sqlite|postgres|both]

Each participant loads the consent page, consents, fills in the questionnaire, reads the
instructions, then for every trial: fetches its clip with a range request as a browser
does, listens (waits the clip's length), thinks (1-4 s), submits an answer, and loads the
next page. Failed requests are retried with the same body (the trial's token makes an
answer idempotent). Printed: answers per second, p50/p95/p99 latency per endpoint, errors
and retries; then the server's database is checked: every answer submitted stored exactly
once with the value sent, no participant with a gap.

Baseline, same run, same server setup: the same participants with the same pauses, every
request going to a minimal Django view (/healthz: the whole middleware stack, no database).
The ratio printed is p95 submit latency over p95 minimal-view latency.

Targets: no lost or duplicated answer; p95 submit latency under 200 ms at 300
participants on 2 cores, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import yarl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.served_site import TRIAL_CLIP, TRIAL_TOKEN, ServedSite, served_on  # noqa: E402


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.retries = 0
        self.answers: dict[str, int] = {}  # trial token -> rating sent
        self.completed = 0
        self.first_answer_at: float | None = None
        self.last_answer_at = 0.0


async def timed(recorder, endpoint, session, method, url, **kwargs) -> tuple[int, str | bytes]:
    """One request, retried with the same body after a connection error or a 5xx."""
    for attempt in range(8):
        started = time.perf_counter()
        try:
            async with session.request(method, url, allow_redirects=False, **kwargs) as answer:
                body = await (answer.read() if endpoint == "audio" else answer.text())
                elapsed = time.perf_counter() - started
                if answer.status < 500:
                    recorder.latency[endpoint].append(elapsed)
                    if answer.status >= 400:
                        recorder.errors[f"{endpoint} {answer.status}"] += 1
                    return answer.status, body
                recorder.errors[f"{endpoint} {answer.status}"] += 1
        except (TimeoutError, aiohttp.ClientError) as error:
            recorder.errors[f"{endpoint} {type(error).__name__}"] += 1
        recorder.retries += 1
        await asyncio.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"{method} {url} failed 8 times")


async def participant(number, base, path, trials, clip_seconds, recorder, *, baseline, rng):
    url = base + (path if not baseline else "/healthz")
    jar = aiohttp.CookieJar(unsafe=True)
    timeout = aiohttp.ClientTimeout(total=60)
    # Each participant has an address of their own, as behind the proxy of a real deployment,
    # so the per-address rate limits apply as they would (the server trusts this header here).
    address = {"X-Forwarded-For": f"10.{number // 250}.{number % 250}.1"}
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout, headers=address) as session:

        async def page() -> str:
            _status, body = await timed(recorder, "page", session, "GET", url)
            return body

        async def post(form: dict, endpoint: str) -> None:
            if baseline:
                await timed(recorder, endpoint, session, "GET", url)
                return
            csrf = jar.filter_cookies(yarl.URL(url)).get("csrftoken")
            data = {**form, "csrfmiddlewaretoken": csrf.value if csrf else ""}
            status, body = await timed(
                recorder, endpoint, session, "POST", url, data=data, headers={"Referer": url}
            )
            if status != 302:
                raise RuntimeError(f"{endpoint}: {status} {body[:200]}")

        await page()
        await asyncio.sleep(rng.uniform(2, 5))  # reads the consent text
        await post({"step": "consent", "consent": "yes"}, "start")
        await page()
        await asyncio.sleep(rng.uniform(3, 8))
        questionnaire = {"age_band": "25-34", "musical_training": "2"}
        await post(
            {"step": "questionnaire", **questionnaire, "listening_device": "headphones"}, "start"
        )
        await page()
        await asyncio.sleep(rng.uniform(2, 5))
        await post({"step": "instructions"}, "start")
        body = await page()
        for position in range(trials):
            if baseline:
                token, clip = f"{number}-{position}", "/healthz"
            else:
                token, clip = TRIAL_TOKEN.search(body).group(1), TRIAL_CLIP.search(body).group(1)
            await timed(
                recorder, "audio", session, "GET", base + clip, headers={"Range": "bytes=0-"}
            )
            await asyncio.sleep(clip_seconds + rng.uniform(1, 4))  # listens to the end, thinks
            rating = rng.randint(1, 10)
            form = {"step": "trials", "trial": token, "rating": str(rating), "plays_0": "1"}
            await post({**form, "ended_0": "1", "listening_seconds": str(clip_seconds)}, "submit")
            recorder.answers[token] = rating
            now = time.perf_counter()
            recorder.first_answer_at = recorder.first_answer_at or now
            recorder.last_answer_at = now
            body = await page()
        if baseline or "completion-code" in body:
            recorder.completed += 1


async def burst(site, n, arrival, trials, clip_seconds, *, baseline, seed=7) -> Recorder:
    recorder = Recorder()
    rng = random.Random(seed)
    starts = sorted(rng.uniform(0, arrival) for _ in range(n))
    began = time.perf_counter()

    async def launch(number, start):
        await asyncio.sleep(max(0.0, start - (time.perf_counter() - began)))
        person_rng = random.Random(seed * 1000 + number)
        try:
            await participant(
                number, site.base_url, site.study_path, trials, clip_seconds, recorder,
                baseline=baseline, rng=person_rng,
            )  # fmt: skip
        except Exception as error:
            recorder.errors[f"participant gave up: {error}"[:120]] += 1

    await asyncio.gather(*(launch(i, s) for i, s in enumerate(starts)))
    return recorder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def report(title: str, recorder: Recorder) -> dict:
    span = max(1e-9, recorder.last_answer_at - (recorder.first_answer_at or 0))
    print(f"\n{title}")
    print(f"  participants completed: {recorder.completed}; answers: {len(recorder.answers)}")
    print(f"  answers per second: {len(recorder.answers) / span:.1f} (over {span:.0f} s)")
    print(
        f"  {'endpoint':<8} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    figures = {}
    for endpoint in ("page", "start", "audio", "submit"):
        values = recorder.latency.get(endpoint, [])
        if not values:
            continue
        row = {q: percentile(values, q) for q in (50, 95, 99, 100)}
        figures[endpoint] = row
        print(
            f"  {endpoint:<8} {len(values):>8} {row[50]:>8.1f} {row[95]:>8.1f} {row[99]:>8.1f} {row[100]:>8.1f}"
        )
    print(f"  errors: {dict(recorder.errors) or 'none'}; retries: {recorder.retries}")
    return figures


def check_database(site: ServedSite, recorder: Recorder, trials: int) -> tuple[int, int, int]:
    """(lost, duplicated or altered, participants with a gap), read from the server's DB."""
    rows = json.loads(site.manage("dumpdata", "studies.Trial", "studies.Response", timeout=600))
    trial_rows = {r["pk"]: r["fields"] for r in rows if r["model"] == "studies.trial"}
    by_token = {fields["token"]: pk for pk, fields in trial_rows.items()}
    answers = Counter(r["fields"]["trial"] for r in rows if r["model"] == "studies.response")
    ratings = {
        r["fields"]["trial"]: r["fields"]["rating"]
        for r in rows
        if r["model"] == "studies.response"
    }
    lost = sum(1 for token in recorder.answers if answers[by_token[token]] == 0)
    wrong = sum(
        1
        for token, rating in recorder.answers.items()
        if answers[by_token[token]] > 1 or ratings.get(by_token[token]) not in (None, rating)
    )
    wrong += sum(
        1
        for trial, count in answers.items()
        if trial not in {by_token[t] for t in recorder.answers}
    )
    positions = defaultdict(list)
    for pk, fields in trial_rows.items():
        if answers[pk]:
            positions[fields["participant"]].append(fields["position"])
    gaps = sum(1 for found in positions.values() if sorted(found) != list(range(len(found))))
    return lost, wrong, gaps


def run_engine(engine: str, args) -> dict:
    with served_on(
        engine,
        "burst",
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        extra_env={"EARSHOT_CLIENT_IP_HEADER": "X-Forwarded-For"},
    ) as site:
        print(f"\n=== {engine}: preparing the study (migrate, import, render) ...", flush=True)
        site.prepare(trials=args.trials, clip_seconds=args.clip_seconds)
        site.start_web()
        print(
            f"=== {engine}: gunicorn, {args.web_workers} workers x {args.web_threads} threads; "
            f"{args.participants} participants arriving over {args.arrival_seconds:.0f} s, "
            f"{args.trials} trials each, clips of {args.clip_seconds:.0f} s",
            flush=True,
        )
        results = {}
        for baseline in (True, False):
            began = time.perf_counter()
            recorder = asyncio.run(
                burst(site, args.participants, args.arrival_seconds, args.trials,
                      args.clip_seconds, baseline=baseline)
            )  # fmt: skip
            title = "minimal Django view (baseline)" if baseline else "earshot participant flow"
            figures = report(f"{engine}: {title}, {time.perf_counter() - began:.0f} s", recorder)
            results["baseline" if baseline else "earshot"] = (figures, recorder)
        figures, recorder = results["earshot"]
        lost, wrong, gaps = check_database(site, recorder, args.trials)
        base_p95 = results["baseline"][0]["submit"][95]
        submit_p95 = figures["submit"][95]
        print(f"\n{engine}: database check: {len(recorder.answers)} answers submitted; lost {lost}, "
              f"duplicated or altered {wrong}, participants with a gap {gaps}")  # fmt: skip
        print(
            f"{engine}: p95 submit {submit_p95:.1f} ms vs p95 minimal view {base_p95:.1f} ms: "
            f"ratio {submit_p95 / base_p95:.2f}; target p95 submit < 200 ms: "
            f"{'met' if submit_p95 < 200 and not (lost or wrong or gaps) else 'NOT met'}"
        )
        return {"submit_p95": submit_p95, "lost": lost, "wrong": wrong, "gaps": gaps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--arrival-seconds", type=float, default=60.0)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--clip-seconds", type=float, default=8.0)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--web-workers", type=int, default=5)
    parser.add_argument("--web-threads", type=int, default=4)
    args = parser.parse_args()
    engines = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    outcomes = {engine: run_engine(engine, args) for engine in engines}
    failed = [
        e
        for e, o in outcomes.items()
        if o["submit_p95"] >= 200 or o["lost"] or o["wrong"] or o["gaps"]
    ]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
