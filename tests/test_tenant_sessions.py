"""Upload sessions on the local tenant, rule by rule from driveitem-createuploadsession."""

import time
import uuid

import httpx

from conftest import FLAGS

ALICE = "alice@contoso.test"
CHUNK = 320 * 1024


def unique() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"


def open_session(client: httpx.Client, path: str, item: dict | None = None, **body):
    return client.post(
        f"/users/{ALICE}/drive/root:/{path}:/createUploadSession", json={"item": item or {}, **body}
    )


def send(url: str, data: bytes, start: int, total: int, **headers) -> httpx.Response:
    end = start + len(data) - 1
    return httpx.put(
        url,
        content=data,
        timeout=30,
        headers={"Content-Range": f"bytes {start}-{end}/{total}", **headers},
    )


def upload(client: httpx.Client, path: str, data: bytes, chunk: int = CHUNK, **item):
    url = open_session(client, path, item).json()["uploadUrl"]
    response = None
    for start in range(0, len(data), chunk):
        response = send(url, data[start : start + chunk], start, len(data))
    return response


def inner(response: httpx.Response) -> tuple[int, str, str | None]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["innerError"].get("code")


def test_session_round_trip_keeps_times_and_hashes(tenant):
    data = bytes(range(256)) * 3000  # 768,000 bytes: two full chunks and a short one
    times = {
        "createdDateTime": "2019-01-02T03:04:05Z",
        "lastModifiedDateTime": "2020-06-07T08:09:10Z",
    }
    with tenant.client() as client:
        created = open_session(client, f"{unique()}/big.bin", {"fileSystemInfo": times})
        assert created.status_code == 200
        session = created.json()
        assert session["nextExpectedRanges"] == ["0-"]
        assert session["expirationDateTime"].endswith("Z")
        url = session["uploadUrl"]
        first = send(url, data[:CHUNK], 0, len(data))
        assert first.status_code == 202
        assert first.json()["nextExpectedRanges"] == [f"{CHUNK}-"]
        assert httpx.get(url).json()["nextExpectedRanges"] == [f"{CHUNK}-{len(data) - 1}"]
        assert send(url, data[CHUNK : 2 * CHUNK], CHUNK, len(data)).status_code == 202
        last = send(url, data[2 * CHUNK :], 2 * CHUNK, len(data))
        assert last.status_code == 201
        item = last.json()
        assert item["size"] == len(data)
        assert item["fileSystemInfo"] == times
        location = client.get(f"/drives/{tenant.drive_id(ALICE)}/items/{item['id']}/content")
        assert httpx.get(location.headers["Location"]).content == data
        assert httpx.get(url).status_code == 404


def test_conflict_behaviour_of_sessions(tenant):
    path = f"{unique()}/doc.txt"
    with tenant.client() as client:
        assert upload(client, path, b"one").status_code == 201
        assert upload(client, path, b"two").status_code == 200  # absent: replace
        refused = open_session(client, path, {"@microsoft.graph.conflictBehavior": "fail"})
        assert inner(refused)[:2] == (409, "nameAlreadyExists")
        legacy = open_session(client, path, {"@name.conflictBehavior": "fail"})
        assert inner(legacy)[:2] == (409, "nameAlreadyExists")
        renamed = upload(client, path, b"three", **{"@microsoft.graph.conflictBehavior": "rename"})
        assert (renamed.status_code, renamed.json()["name"]) == (201, "doc 1.txt")


def test_a_second_session_for_the_same_name_is_refused(tenant):
    path = f"{unique()}/twice.bin"
    with tenant.client() as client:
        first = open_session(client, path).json()["uploadUrl"]
        assert inner(open_session(client, path.upper()))[:2] == (409, "nameAlreadyExists")
        assert httpx.delete(first).status_code == 204
        assert open_session(client, path).status_code == 200


def test_commit_conflict_when_the_name_appears_meanwhile(tenant):
    path = f"{unique()}/late.txt"
    with tenant.client() as client:
        url = open_session(client, path, {"@microsoft.graph.conflictBehavior": "fail"}).json()[
            "uploadUrl"
        ]
        client.put(f"/users/{ALICE}/drive/root:/{path}:/content", content=b"first")
        assert inner(send(url, b"second", 0, 6))[:2] == (409, "nameAlreadyExists")


def test_fragment_rules(tenant):
    with tenant.client() as client:
        url = open_session(client, f"{unique()}/rules.bin").json()["uploadUrl"]
    total = 3 * CHUNK
    assert inner(send(url, b"x" * 1000, 0, total)) == (400, "invalidRange", "invalidRange")
    assert inner(send(url, b"x" * CHUNK, CHUNK, total)) == (
        416,
        "invalidRange",
        "fragmentOutOfOrder",
    )
    assert send(url, b"x" * CHUNK, 0, total).status_code == 202
    assert inner(send(url, b"x" * CHUNK, 0, total)) == (416, "invalidRange", "fragmentOverlap")
    assert inner(send(url, b"x" * CHUNK, CHUNK, total + 1))[0] == 400
    with_auth = send(url, b"x" * CHUNK, CHUNK, total, Authorization="Bearer t")
    assert with_auth.status_code == 401
    short = httpx.put(
        url, content=b"x" * 10, headers={"Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{total}"}
    )
    assert inner(short) == (400, "invalidRequest", "fragmentLengthMismatch")
    assert httpx.get(url).json()["nextExpectedRanges"] == [f"{CHUNK}-{total - 1}"]


def test_fragments_of_60_mib_are_refused_before_the_body(tenant):
    import http.client

    with tenant.client() as client:
        url = httpx.URL(open_session(client, f"{unique()}/huge.bin").json()["uploadUrl"])
    size = 60 * 1024 * 1024
    connection = http.client.HTTPConnection(f"{url.host}:{url.port}", timeout=10)
    connection.putrequest("PUT", url.raw_path.decode())
    connection.putheader("Content-Length", str(size))
    connection.putheader("Content-Range", f"bytes 0-{size - 1}/{2 * size}")
    connection.endheaders()
    assert connection.getresponse().status == 413


def test_sessions_expire_after_their_ttl_and_each_fragment_extends_it(tenant_factory):
    running = tenant_factory(session_ttl=1.5)
    with running.client() as client:
        url = open_session(client, "ttl.bin").json()["uploadUrl"]
        for start in (0, CHUNK):
            time.sleep(1.0)
            assert send(url, b"x" * CHUNK, start, 4 * CHUNK).status_code == 202
        time.sleep(2.0)
        assert inner(httpx.get(url)) == (404, "itemNotFound", "uploadSessionNotFound")
        assert open_session(client, "ttl.bin").status_code == 200


def test_deferred_commit_waits_for_an_empty_post(tenant):
    with tenant.client() as client:
        session = open_session(client, f"{unique()}/deferred.txt", deferCommit=True).json()
        assert send(session["uploadUrl"], b"abc", 0, 3).status_code == 202
        committed = httpx.post(session["uploadUrl"], content=b"")
        assert (committed.status_code, committed.json()["size"]) == (201, 3)


def test_open_sessions_survive_a_restart(tenant_factory):
    first = tenant_factory()
    with first.client() as client:
        url = open_session(client, "resume.bin").json()["uploadUrl"]
    data = b"y" * (CHUNK + 5)
    assert send(url, data[:CHUNK], 0, len(data)).status_code == 202
    first.stop()
    second = tenant_factory(data=first.data)
    url = url.replace(first.root, second.root)
    assert httpx.get(url).json()["nextExpectedRanges"] == [f"{CHUNK}-{len(data) - 1}"]
    done = send(url, data[CHUNK:], CHUNK, len(data))
    assert (done.status_code, done.json()["size"]) == (201, len(data))


def test_quota_is_enforced_on_sessions(tenant_factory):
    running = tenant_factory(drive_quota=CHUNK)
    with running.client() as client:
        url = open_session(client, "over.bin").json()["uploadUrl"]
    assert inner(send(url, b"x" * CHUNK, 0, CHUNK + 1))[:2] == (507, "quotaLimitReached")


def test_the_upload_urls_token_expires_on_its_own_clock(tenant_factory, monkeypatch):
    monkeypatch.setitem(FLAGS, "upload_url_ttl", "--upload-url-ttl")
    running = tenant_factory(upload_url_ttl=2, session_ttl=900)
    with running.client() as client:
        url = open_session(client, "token.bin").json()["uploadUrl"]
        assert send(url, b"x" * CHUNK, 0, 3 * CHUNK).status_code == 202
        time.sleep(2.5)
        # Fragments extend the session, never the token: the URL is dead, the session is not.
        expired = send(url, b"x" * CHUNK, CHUNK, 3 * CHUNK)
        assert inner(expired) == (401, "unauthenticated", "expiredToken")
        assert inner(httpx.get(url))[2] == "expiredToken"
        forged = url.rsplit(".", 1)[0] + ".0000"
        assert inner(httpx.get(forged)) == (401, "unauthenticated", None)
        # The name stays taken until the session itself expires, as the service keeps it.
        assert inner(open_session(client, "token.bin"))[:2] == (409, "nameAlreadyExists")


def test_deferred_commit_needs_an_empty_body_and_a_deferred_session(tenant):
    with tenant.client() as client:
        deferred = open_session(client, f"{unique()}/d.txt", deferCommit=True).json()["uploadUrl"]
        plain = open_session(client, f"{unique()}/p.txt").json()["uploadUrl"]
    early = httpx.post(deferred, content=b"")
    assert inner(early) == (400, "invalidRequest", "uploadSessionIncomplete")
    assert send(deferred, b"abc", 0, 3).json()["nextExpectedRanges"] == []
    assert inner(httpx.post(deferred, content=b"x"))[:2] == (400, "invalidRequest")
    assert inner(httpx.post(plain, content=b""))[:2] == (400, "invalidRequest")
    committed = httpx.post(deferred, content=b"")
    assert (committed.status_code, committed.json()["name"]) == (201, "d.txt")
    assert httpx.get(deferred).status_code == 404
