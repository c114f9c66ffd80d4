"""Audio is served with HTTP range requests, and nothing outside MEDIA_ROOT is served."""

import pytest


@pytest.fixture
def clip(settings):
    target = settings.MEDIA_ROOT / "audio" / "ab" / "abcdef.ogg"
    target.parent.mkdir(parents=True)
    target.write_bytes(bytes(range(256)) * 4)  # 1024 bytes
    return "/media/audio/ab/abcdef.ogg"


def test_whole_file_advertises_ranges(admin_client, clip):
    response = admin_client.get(clip)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes" and response["Content-Type"] == "audio/ogg"
    assert len(b"".join(response.streaming_content)) == 1024


@pytest.mark.parametrize(
    ("header", "content_range", "first_byte", "length"),
    [
        ("bytes=0-99", "bytes 0-99/1024", 0, 100),
        ("bytes=1000-", "bytes 1000-1023/1024", 1000 % 256, 24),
        ("bytes=-24", "bytes 1000-1023/1024", 1000 % 256, 24),
        ("bytes=1000-5000", "bytes 1000-1023/1024", 1000 % 256, 24),
    ],
)
def test_ranges(admin_client, clip, header, content_range, first_byte, length):
    response = admin_client.get(clip, headers={"Range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == content_range
    assert response.content[0] == first_byte and len(response.content) == length


def test_unsatisfiable_range(admin_client, clip):
    response = admin_client.get(clip, headers={"Range": "bytes=2000-"})
    assert response.status_code == 416 and response["Content-Range"] == "bytes */1024"


def test_no_escape_from_media_root(admin_client, clip, settings):
    (settings.MEDIA_ROOT.parent / "secret.txt").write_text("secret")
    assert admin_client.get("/media/../secret.txt").status_code == 404
    assert admin_client.get("/media/audio/%2e%2e/%2e%2e/secret.txt").status_code == 404
    assert admin_client.post(clip).status_code == 405


def test_media_is_for_experimenters_only(client, clip):
    # Participants get clips only through a study's opaque addresses (test_study_site.py).
    response = client.get(clip)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
