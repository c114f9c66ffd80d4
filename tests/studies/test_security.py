"""Who may see what, and what hostile input gets: a clear 4xx, nothing stored."""

import re
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from generation.models import Job
from studies import exchange, selectors, services, throttle
from studies.design import SpecError
from studies.models import Participant, RateWindow, Response, Study, Trial
from tests.factories import (
    ALL_BLOCKS,
    answer_all,
    open_study,
    right_answer,
    spec,
    take_to_trials,
)

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def people(django_user_model):
    make = django_user_model.objects.create_user
    return {
        name: make(name, password="pw", is_staff=True) for name in ("alice", "bob", "carol")
    } | {"root": django_user_model.objects.create_superuser("root", password="pw")}


@pytest.fixture
def taking(material):
    """A rating study, and a participant (with their browser) at its first trial."""
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    return study, client, take_to_trials(client, study)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def experimenter_urls(study: Study) -> list[str]:
    slug = study.slug
    return [
        f"/studies/{slug}/",
        f"/studies/{slug}/answers.csv",
        f"/studies/{slug}/answers.json",
        f"/studies/{slug}/study.toml",
        f"/studies/{slug}/report/",
        f"/studies/{slug}/report.json",
        f"/studies/{slug}/report.zip",
    ]


def test_experimenter_pages_and_exports_need_a_login(material):
    study = open_study(ALL_BLOCKS[:1])
    anonymous = Client()
    for url in [
        *experimenter_urls(study),
        "/studies/",
        "/compare/",
        "/models/",
        "/datasets/import/",
    ]:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url
    response = anonymous.post(f"/studies/{study.slug}/state/", {"state": "closed"})
    assert response.status_code == 302 and Study.objects.get().state == "open"


def test_a_study_is_seen_by_its_owner_and_collaborators_only(material, people):
    study = services.build_study(services.create_study(spec(ALL_BLOCKS[:1]), user=people["alice"]))
    alice, bob, root = (logged_in(people[name]) for name in ("alice", "bob", "root"))
    for url in experimenter_urls(study):
        assert alice.get(url).status_code == 200, url
        assert root.get(url).status_code == 200, url
        assert bob.get(url).status_code == 404, url  # as if it did not exist
    assert study.title not in bob.get("/studies/").content.decode()
    assert study.title in alice.get("/studies/").content.decode()
    assert bob.get(f"/compare/?study={study.slug}").status_code == 400
    assert bob.post(f"/studies/{study.slug}/state/", {"state": "open"}).status_code == 404
    assert Study.objects.get().state == "draft"
    # Previewing is for those who may see the study: bob's preview is an ordinary visit.
    bob.get(f"{study.participant_path()}?preview=1")
    assert bob.get(study.participant_path()).status_code == 403  # a draft study

    response = alice.post(f"/studies/{study.slug}/collaborators/", {"add": "bob"})
    assert response.status_code == 302
    assert list(study.collaborators.values_list("username", flat=True)) == ["bob"]
    for url in experimenter_urls(study):
        assert bob.get(url).status_code == 200, url
    # A collaborator runs the study but does not decide who shares it.
    response = bob.post(f"/studies/{study.slug}/collaborators/", {"add": "carol"})
    assert response.status_code == 403 and study.collaborators.count() == 1
    page = alice.post(
        f"/studies/{study.slug}/collaborators/", {"add": "nobody"}, follow=True
    ).content.decode()
    assert "no experimenter account is called" in page
    alice.post(f"/studies/{study.slug}/collaborators/", {"remove": "bob"})
    assert bob.get(f"/studies/{study.slug}/").status_code == 404


def test_a_slug_clash_says_nothing_about_another_experimenters_study(material, people):
    alices = services.create_study(spec(ALL_BLOCKS[:1], title="Alice's"), user=people["alice"])
    bobs = services.create_study(spec(ALL_BLOCKS[:1], title="Bob's"), user=people["bob"])
    assert alices.slug == bobs.slug  # bob was not told alice has a study there
    alice, bob, root = (logged_in(people[name]) for name in ("alice", "bob", "root"))
    assert "Alice&#x27;s" in alice.get(f"/studies/{alices.slug}/").content.decode()
    assert "Bob&#x27;s" in bob.get(f"/studies/{bobs.slug}/").content.decode()
    assert "Bob&#x27;s" in root.get("/studies/").content.decode()
    # A clash among one's own studies (or those shared with one) is refused, and says so.
    with pytest.raises(SpecError, match="you already have a study"):
        services.create_study(spec(ALL_BLOCKS[:1], title="Again"), user=people["alice"])
    # Sharing cannot give bob two studies at one address.
    page = alice.post(
        f"/studies/{alices.slug}/collaborators/", {"add": "bob"}, follow=True
    ).content.decode()
    assert "already sees a study at" in page and alices.collaborators.count() == 0
    assert Study.objects.count() == 2


def test_a_study_build_job_is_seen_by_those_who_see_the_study(
    material, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        study = services.start_build(
            services.create_study(spec(ALL_BLOCKS[:1]), user=people["alice"])
        )
    shared_job = Job.objects.create(kind="import", title="Import oneills-1850")
    alice, bob = logged_in(people["alice"]), logged_in(people["bob"])
    job_pages = [study.build_job.get_absolute_url(), f"/jobs/{study.build_job.pk}.json"]
    for url in job_pages:
        assert alice.get(url).status_code == 200, url
        assert bob.get(url).status_code == 404, url
    assert bob.get(shared_job.get_absolute_url()).status_code == 200  # imports are shared
    title = f"Build study {study.slug}"
    assert title in alice.get("/").content.decode()
    home = bob.get("/").content.decode()
    assert title not in home and "Import oneills-1850" in home

    alice.post(f"/studies/{study.slug}/collaborators/", {"add": "bob"})
    for url in job_pages:
        assert bob.get(url).status_code == 200, url
    assert title in bob.get("/").content.decode()


def test_a_participant_reads_only_their_own_session(material, people):
    study = services.create_study(spec(ALL_BLOCKS[:1]), user=people["alice"])
    study = services.set_state(services.build_study(study), "open")
    first, second = Client(), Client()
    one, two = take_to_trials(first, study), take_to_trials(second, study)
    mine, theirs = services.next_trial(one), services.next_trial(two)
    page = first.get(study.participant_path()).content.decode()
    assert mine.token in page and theirs.token not in page
    clip = f"{study.participant_path()}clip/{theirs.token}/0.mp3"
    assert second.get(clip).status_code == 200
    assert first.get(clip).status_code == 404
    assert Client().get(clip).status_code == 404
    assert logged_in(people["bob"]).get(clip).status_code == 404  # staff, not on this study
    assert logged_in(people["alice"]).get(clip).status_code == 200


def test_study_addresses_and_participant_tokens_cannot_be_guessed(material):
    study = open_study(ALL_BLOCKS[:1])
    other = services.create_study(spec(ALL_BLOCKS[:1], slug="another", title="Another"))
    client = Client()
    participant = take_to_trials(client, study)
    for token in [study.access_key, other.access_key, participant.public_id]:
        # 16 random bytes, URL-safe: 2**128 possibilities.
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token), token
    assert study.access_key != other.access_key
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", t.token) for t in participant.trials.all())
    assert Client().get(f"/s/{study.slug}/").status_code == 404  # the slug is not the address
    page = client.get(study.participant_path()).content.decode()
    assert study.slug not in page


def test_pages_carry_the_security_headers(material, admin_client):
    study = open_study(ALL_BLOCKS[:1])
    for response in (Client().get(study.participant_path()), admin_client.get("/studies/")):
        policy = response["Content-Security-Policy"]
        script_sources = re.search(r"script-src ([^;]*)", policy).group(1).split()
        assert script_sources == ["'self'"]  # no inline script, no eval
        assert "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_html_in_study_texts_is_shown_as_text(material):
    study = open_study(
        [{"kind": "rating", "prompt": HOSTILE, "title": HOSTILE}],
        title=HOSTILE,
        instructions=HOSTILE,
        consent=HOSTILE,
    )
    client = Client()
    pages = [client.get(study.participant_path()).content.decode()]
    take_to_trials(client, study)
    pages.append(client.get(study.participant_path()).content.decode())
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_a_post_without_its_csrf_token_is_refused_and_stores_nothing(material):
    study = open_study(ALL_BLOCKS[:1])
    client = Client(enforce_csrf_checks=True)
    client.get(study.participant_path())
    response = client.post(study.participant_path(), {"step": "consent", "consent": "yes"})
    assert response.status_code == 403 and "nothing was saved" in response.content.decode()
    assert not Participant.objects.exists()


def test_an_answer_replayed_from_another_browser_is_refused(material):
    study = open_study(ALL_BLOCKS[:1])
    participant = take_to_trials(Client(), study)
    form = right_answer(services.next_trial(participant))
    response = Client().post(study.participant_path(), form)  # no session: a replay
    assert response.status_code == 403 and "nothing was saved" in response.content.decode()
    assert not Response.objects.exists()


def test_a_step_sent_again_after_its_response_was_lost_is_a_success(taking):
    study, client, participant = taking
    trials = list(participant.trials.values_list("token", flat=True))
    url = study.participant_path()
    questionnaire = {"age_band": "25-34", "musical_training": "2", "listening_device": "headphones"}
    for form in (
        {"step": "consent", "consent": "yes"},
        {"step": "questionnaire", **questionnaire},
        {"step": "instructions"},
    ):
        assert client.post(url, form).status_code == 302, form  # the same again: a retry
    assert client.post(url, {"step": "consent", "consent": "no"}).status_code == 409
    assert client.post(url, {"step": "consent", "consent": "maybe"}).status_code == 409
    participant.refresh_from_db()
    assert participant.stage == "trials" and Participant.objects.count() == 1
    assert list(participant.trials.values_list("token", flat=True)) == trials
    assert not Response.objects.exists()


def test_an_answer_for_a_clip_not_reached_yet_is_refused(taking):
    study, client, participant = taking
    later = participant.trials.order_by("position").last()
    response = client.post(study.participant_path(), right_answer(later))
    assert response.status_code == 409 and "not the clip you are on" in response.content.decode()
    assert not Response.objects.exists()


def test_a_replayed_last_answer_with_another_value_is_refused(taking):
    study, client, participant = taking
    answer_all(client, participant)
    last = participant.trials.order_by("position").last()
    form = right_answer(last)
    assert client.post(study.participant_path(), form).status_code == 302  # the same: a retry
    changed = {**form, "rating": "2" if form["rating"] != "2" else "3"}
    response = client.post(study.participant_path(), changed)
    assert response.status_code == 409 and "first answer is kept" in response.content.decode()
    assert Response.objects.get(trial=last).rating == int(form["rating"])


def test_too_many_requests_get_429_and_store_nothing(material, settings):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    participant = take_to_trials(client, study)
    settings.RATE_LIMIT_PER_MINUTE = 6
    statuses = [client.get(study.participant_path()).status_code for _ in range(6)]
    assert statuses[0] == 200 and statuses[-1] == 429  # within one minute
    response = client.post(study.participant_path(), right_answer(services.next_trial(participant)))
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "Nothing was lost" in response.content.decode()
    assert not Response.objects.exists()
    # Another participant is not held back by this one.
    other = Client()
    settings.RATE_LIMIT_PER_MINUTE = 100
    take_to_trials(other, study)
    assert other.get(study.participant_path()).status_code == 200


def test_one_address_cannot_start_participants_without_end(material, settings):
    study = open_study(ALL_BLOCKS[:1])
    settings.JOINS_PER_HOUR = 2
    statuses = []
    for _ in range(3):
        browser = Client()  # a script that drops its cookies each time
        browser.get(study.participant_path())
        statuses.append(
            browser.post(
                study.participant_path(), {"step": "consent", "consent": "yes"}
            ).status_code
        )
    assert statuses == [302, 302, 429]
    assert Participant.objects.count() == 2


@pytest.mark.parametrize(("store", "turned_away"), [("database", True), ("cache", False)])
def test_the_database_store_holds_the_join_limit_across_web_machines(
    material, settings, tmp_path, store, turned_away
):
    settings.RATE_LIMIT_STORE = store
    settings.JOINS_PER_HOUR = 2
    study = open_study(ALL_BLOCKS[:1])
    statuses = []
    for machine in range(3):
        # Each visit is answered by another machine, with its own cache folder.
        settings.RATE_LIMIT_DIR = tmp_path / f"machine-{machine}"
        statuses.append(
            Client()
            .post(study.participant_path(), {"step": "consent", "consent": "yes"})
            .status_code
        )
    # With per-machine counts a client that reaches a new machine each time is never stopped:
    # why several web machines need the database store.
    assert statuses == ([302, 302, 429] if turned_away else [302, 302, 302])
    assert Participant.objects.count() == (2 if turned_away else 3)


@pytest.mark.django_db(transaction=True)
def test_database_counts_from_many_threads_at_once_are_exact(settings):
    if connection.vendor == "sqlite":
        # The in-memory SQLite test database fails a second writer at once ("table is locked")
        # where a real SQLite file waits; the store is PostgreSQL's default, and `make test`
        # runs this test on PostgreSQL.
        pytest.skip("needs a database that lets concurrent writers wait: run on PostgreSQL")
    settings.RATE_LIMIT_STORE = "database"
    allowed = []

    def visitor() -> None:
        try:
            for _ in range(25):
                allowed.append(throttle.spend("join", "203.0.113.7", limit=60, window_seconds=3600))
        finally:
            connection.close()

    threads = [threading.Thread(target=visitor) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(0) == 60 and len(allowed) == 150  # no count lost or doubled
    assert RateWindow.objects.get().count == 150


def test_this_machines_counts_from_many_processes_at_once_are_exact(settings, tmp_path):
    """Counts in this machine's tally files lose nothing when requests arrive together (a
    cache's read-then-write increment lost some), and ended windows are swept away."""
    import multiprocessing

    settings.RATE_LIMIT_STORE = "cache"
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        allowed = pool.map(_spend_in_a_process, [tmp_path] * 200, chunksize=5)
    assert allowed.count(0) == 60 and len(allowed) == 200
    settings.RATE_LIMIT_DIR = tmp_path
    assert throttle.spend("join", "203.0.113.7", limit=1000, window_seconds=3600) == 0
    (tally,) = tmp_path.iterdir()
    assert tally.stat().st_size == 201  # every request counted once
    ended = tmp_path / "1000-0123456789abcdef"
    ended.write_bytes(b"...")
    throttle._sweep_tallies(tmp_path)
    assert ended.exists() is False and tally.exists()


def _spend_in_a_process(folder) -> int:
    from django.conf import settings

    settings.RATE_LIMIT_DIR = folder
    settings.RATE_LIMIT_STORE = "cache"
    return throttle.spend("join", "203.0.113.7", limit=60, window_seconds=3600)


def test_oversized_and_malformed_answer_uploads_import_nothing(material, admin_client, settings):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    answer_all(client, take_to_trials(client, study))
    rows = [{**row, "participant": "lab-1"} for row in selectors.answer_rows(study)]
    good_csv = exchange.to_csv(rows, selectors.EXPORT_COLUMNS).encode()
    url = f"/studies/{study.slug}/import/"
    answers_before = Response.objects.count()

    settings.MAX_UPLOAD_BYTES = len(good_csv) // 2
    response = admin_client.post(url, {"file": SimpleUploadedFile("a.csv", good_csv)})
    assert response.status_code == 413 and "too large" in response.content.decode()
    settings.MAX_UPLOAD_BYTES = 10 * len(good_csv)
    for name, body, message in [
        ("a.csv", b"\xff\xfe\x00garbage", "Nothing imported"),
        ("a.csv", b"participant,block\nx,1\n", "Nothing imported"),
        ("a.json", b"{not json", "Nothing imported"),
        ("a.exe", good_csv, "Choose a .csv or .json file"),
    ]:
        response = admin_client.post(url, {"file": SimpleUploadedFile(name, body)})
        assert response.status_code == 400 and message in response.content.decode(), name
    assert Response.objects.count() == answers_before
    response = admin_client.post(url, {"file": SimpleUploadedFile("a.csv", good_csv)})
    assert response.status_code == 302 and Response.objects.count() == 2 * answers_before


def test_clips_carry_no_name_date_or_fingerprint(material, settings):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    url = f"{study.participant_path()}clip/{trial.token}/0.mp3"
    for headers in ({}, {"Range": "bytes=0-99"}):
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 206)
        for header in ("Content-Disposition", "ETag", "Last-Modified"):
            assert header not in response, header
        assert response["Cache-Control"].startswith("private")
    # Behind nginx the file is handed over by an internal path the browser never sees.
    settings.X_ACCEL_PREFIX = "/protected-media/"
    response = client.get(url)
    rendering = Trial.objects.get(pk=trial.pk).first.rendering
    assert response["X-Accel-Redirect"] == "/protected-media/" + rendering.files["mp3"]
    assert response.content == b""


def test_midi_uploads_skip_broken_files_and_refuse_hostile_ones(js_fakes, admin_client, settings):
    from generation.models import SampleSet

    good = [SimpleUploadedFile(f"{n}.mid", (js_fakes / f"{n}.mid").read_bytes()) for n in (1, 2)]
    broken = SimpleUploadedFile("broken.mid", b"MThd\x00\x00\x00\x06garbage")
    url = "/samples/upload/"
    response = admin_client.post(url, {"system": "my-model", "files": [*good, broken]})
    assert response.status_code == 302
    sample_set = SampleSet.objects.get(name="my-model")
    assert sample_set.samples.count() == 2
    assert sample_set.source == "a browser upload of 3 files"  # not the scratch folder
    assert "skipped 1" in admin_client.get(response["Location"]).content.decode()

    def refused(form: dict, status: int = 400) -> str:
        response = admin_client.post(url, form)
        assert response.status_code == status
        return response.content.decode()

    only_broken = SimpleUploadedFile("x.mid", b"\x00" * 500)
    assert "Nothing imported: no usable MIDI file" in refused(
        {"system": "broken-set", "files": [only_broken]}
    )
    script = SimpleUploadedFile("run.sh", b"#!/bin/sh\nrm -rf /\n")
    assert "not a .mid or .midi file" in refused({"system": "other", "files": [script]})
    traversal = SimpleUploadedFile("../../../etc/passwd.mid", (js_fakes / "3.mid").read_bytes())
    response = admin_client.post(url, {"system": "escaped", "files": [traversal]})
    assert response.status_code == 302  # stored under a name of earshot's choosing
    assert "passwd" in SampleSet.objects.get(name="escaped").samples.get().label
    assert not any(settings.SAMPLE_DIR.parent.glob("etc"))
    other_piece = SimpleUploadedFile("4.mid", (js_fakes / "4.mid").read_bytes())
    assert "already exists" in refused({"system": "my-model", "files": [other_piece]})
    settings.MAX_UPLOAD_BYTES = 1000
    big = SimpleUploadedFile("5.mid", (js_fakes / "5.mid").read_bytes())
    assert "too large" in refused({"system": "huge", "files": [big]}, status=413)
    assert set(SampleSet.objects.values_list("name", flat=True)) == {"my-model", "escaped"}


def test_experimenter_downloads_are_kept_by_no_cache(material, admin_client):
    from tests.factories import tiny_checkpoint

    study = open_study(ALL_BLOCKS[:1])
    checkpoint = tiny_checkpoint()
    downloads = [
        f"/studies/{study.slug}/answers.csv",
        f"/studies/{study.slug}/answers.json",
        f"/studies/{study.slug}/study.toml",
        f"/studies/{study.slug}/report.json",
        f"/studies/{study.slug}/report.zip",
        f"/checkpoints/{checkpoint.pk}/weights.pt",
    ]
    for url in downloads:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "private, no-store", url


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("expected", "1"),
        ("trial", str(10**30)),
        ("plays", "[1e400]"),
        ("listening_seconds", "-5"),
        ("musical_training", "99"),
        ("age_band", "<script>"),
    ],
)
def test_an_imported_cell_the_participant_form_refuses_is_a_400_naming_row_and_column(
    material, admin_client, column, value
):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    answer_all(client, take_to_trials(client, study))
    rows = [{**row, "participant": "lab-1"} for row in selectors.answer_rows(study)]
    rows[2][column] = value  # the fourth line of the file: row 4
    body = exchange.to_csv(rows, selectors.EXPORT_COLUMNS).encode()
    answers_before = Response.objects.count()
    response = admin_client.post(
        f"/studies/{study.slug}/import/", {"file": SimpleUploadedFile("a.csv", body)}
    )
    assert response.status_code == 400
    assert f"row 4: column {column}" in response.content.decode()
    assert Response.objects.count() == answers_before
    assert not Participant.objects.filter(link_key="import:lab-1").exists()


def test_the_admin_is_for_superusers_only(material, people):
    from django.contrib.auth.models import Permission

    study = services.create_study(spec(ALL_BLOCKS[:1]), user=people["alice"])
    # Bob may "view" every model: Django's admin alone would show him alice's study and key.
    people["bob"].user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    bob, root = logged_in(people["bob"]), logged_in(people["root"])
    for url in ["/admin/", "/admin/studies/study/", f"/admin/studies/study/{study.pk}/change/"]:
        response = bob.get(url, follow=True)
        page = response.content.decode()
        assert response.status_code == 403 and "for superusers" in page, url
        assert study.access_key not in page and study.title not in page
    assert study.access_key in root.get(f"/admin/studies/study/{study.pk}/change/").content.decode()
    assert 'href="/admin/"' not in bob.get("/studies/").content.decode()
    assert (
        Client()
        .get("/admin/studies/study/", follow=True)
        .redirect_chain[-1][0]
        .startswith("/login/?next=")
    )
