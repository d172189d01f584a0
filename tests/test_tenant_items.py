"""The local tenant over plain HTTP: addressing, users, drives and item operations as documented."""

import uuid
from urllib.parse import quote

import httpx
import pytest

ALICE = "alice@contoso.test"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def encoded(path: str) -> str:
    return "/".join(quote(name, safe="") for name in path.split("/"))


def put(client: httpx.Client, path: str, data: bytes = b"x", upn: str = ALICE, **params):
    url = f"/users/{upn}/drive/root:/{encoded(path)}:/content"
    return client.put(url, content=data, params=params)


def error_of(response: httpx.Response) -> tuple[int, str, str | None]:
    error = response.json()["error"]
    return response.status_code, error["code"], error.get("innerError", {}).get("code")


def test_both_api_versions_answer_and_others_are_refused(tenant):
    with httpx.Client(base_url=tenant.root, headers={"Authorization": "Bearer t"}) as client:
        assert client.get(f"/v1.0/users/{ALICE}").status_code == 200
        assert client.get(f"/v2.0/drives/{tenant.drive_id(ALICE)}/root").status_code == 200
        assert client.get(f"/beta/users/{ALICE}").status_code == 400


def test_graph_routes_need_a_bearer_token(tenant):
    response = httpx.get(f"{tenant.url}/users/{ALICE}")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert {"code", "message", "innerError"} <= error.keys()
    assert (
        httpx.get(f"{tenant.url}/users", headers={"Authorization": "Basic abc"}).status_code == 401
    )


def test_users_by_upn_and_id(tenant):
    with tenant.client() as client:
        user = client.get(f"/users/{ALICE}").json()
        assert user["userPrincipalName"] == ALICE
        assert client.get(f"/users/{user['id']}").json()["id"] == user["id"]
        assert client.get("/users/nobody@contoso.test").status_code == 404


def test_sam_account_filter_needs_an_advanced_query(tenant):
    query = {"$filter": "onPremisesSamAccountName eq 'carol'", "$count": "true"}
    with tenant.client() as client:
        refused = client.get("/users", params=query)
        assert error_of(refused)[:2] == (400, "Request_UnsupportedQuery")
        answer = client.get("/users", params=query, headers={"ConsistencyLevel": "eventual"}).json()
        assert answer["@odata.count"] == 1
        assert answer["value"][0]["userPrincipalName"] == "carol@contoso.test"


def test_user_list_pages_with_next_link(tenant):
    with tenant.client() as client:
        page = client.get("/users", params={"$top": "2"}).json()
        assert len(page["value"]) == 2
        rest = client.get(page["@odata.nextLink"]).json()
        assert [u["userPrincipalName"] for u in page["value"] + rest["value"]] == sorted(
            ["alice@contoso.test", "bob@contoso.test", "carol@contoso.test"]
        )


def test_drive_of_provisioned_and_unprovisioned_users(tenant):
    with tenant.client() as client:
        drive = client.get(f"/users/{ALICE}/drive").json()
        assert drive["driveType"] == "business"
        assert drive["quota"]["total"] == 1024**4
        assert client.get(f"/drives/{drive['id']}").json()["id"] == drive["id"]
        root = client.get(f"/drives/{drive['id']}/root").json()
        assert "root" in root and "folder" in root
        assert error_of(client.get("/users/bob@contoso.test/drive"))[:2] == (
            404,
            "ResourceNotFound",
        )


def test_items_by_id_and_by_encoded_case_insensitive_path(tenant):
    folder = unique("Ünï cødé #1")
    with tenant.client() as client:
        created = put(client, f"{folder}/Report 50%.txt", b"abc").json()
        drive = tenant.drive_id(ALICE)
        by_path = client.get(f"/drives/{drive}/root:/{encoded(folder.upper())}/report%2050%25.TXT:")
        assert by_path.json()["id"] == created["id"]
        parent = created["parentReference"]["id"]
        assert (
            client.get(f"/drives/{drive}/items/{parent}:/REPORT 50%25.txt:").json()["id"]
            == created["id"]
        )
        assert (
            client.get(f"/drives/{drive}/items/{parent}:/report 50%25.txt").json()["id"]
            == created["id"]
        )
        assert (
            client.get(f"/drives/{drive}/items/{created['id']}").json()["name"] == "Report 50%.txt"
        )
        assert error_of(client.get(f"/drives/{drive}/root:/{encoded(folder)}/missing.txt:"))[
            :2
        ] == (404, "itemNotFound")


def test_children_are_paged_with_absolute_next_links(tenant):
    folder = unique()
    with tenant.client() as client:
        for number in range(5):
            put(client, f"{folder}/f{number}.txt")
        url = f"/users/{ALICE}/drive/root:/{folder}:/children"
        page = client.get(url, params={"$top": "2"}).json()
        names = [item["name"] for item in page["value"]]
        while "@odata.nextLink" in page:
            assert page["@odata.nextLink"].startswith("http://127.0.0.1:")
            page = client.get(page["@odata.nextLink"]).json()
            names += [item["name"] for item in page["value"]]
        assert names == [f"f{number}.txt" for number in range(5)]


def test_folder_creation_honours_conflict_behaviour(tenant):
    name = unique()
    url = f"/users/{ALICE}/drive/root/children"
    with tenant.client() as client:
        first = client.post(url, json={"name": name, "folder": {}})
        assert first.status_code == 201 and first.json()["folder"]["childCount"] == 0
        assert error_of(client.post(url, json={"name": name.upper(), "folder": {}}))[:2] == (
            409,
            "nameAlreadyExists",
        )
        renamed = client.post(
            url, json={"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "rename"}
        )
        assert renamed.json()["name"] == f"{name} 1"
        replaced = client.post(
            url, json={"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "replace"}
        )
        assert replaced.status_code == 201 and replaced.json()["id"] != first.json()["id"]


def test_patch_renames_moves_and_sets_file_system_times(tenant):
    folder = unique()
    with tenant.client() as client:
        item = put(client, f"{folder}/a.txt").json()
        other = put(client, f"{folder}/b.txt").json()
        target = client.post(
            f"/users/{ALICE}/drive/root/children", json={"name": unique(), "folder": {}}
        ).json()
        url = f"/drives/{tenant.drive_id(ALICE)}/items/{item['id']}"
        times = {
            "createdDateTime": "2001-02-03T04:05:06Z",
            "lastModifiedDateTime": "2002-03-04T05:06:07.123+01:00",
        }
        patched = client.patch(url, json={"name": "c.txt", "fileSystemInfo": times}).json()
        assert patched["name"] == "c.txt"
        assert patched["fileSystemInfo"] == {
            "createdDateTime": "2001-02-03T04:05:06Z",
            "lastModifiedDateTime": "2002-03-04T04:06:07Z",
        }
        clash = client.patch(
            f"/drives/{tenant.drive_id(ALICE)}/items/{other['id']}", json={"name": "C.TXT"}
        )
        assert error_of(clash)[:2] == (409, "nameAlreadyExists")
        moved = client.patch(url, json={"parentReference": {"id": target["id"]}}).json()
        assert moved["parentReference"]["id"] == target["id"]


def test_delete_moves_to_recycle_bin(tenant_factory):
    running = tenant_factory()
    with running.client() as client:
        item = put(client, "gone/file.bin", b"12345").json()
        folder_id = item["parentReference"]["id"]
        drive = running.drive_id(ALICE)
        assert client.delete(f"/drives/{drive}/items/{folder_id}").status_code == 204
        assert client.get(f"/drives/{drive}/items/{item['id']}").status_code == 404
        quota = client.get(f"/drives/{drive}").json()["quota"]
        assert (quota["used"], quota["deleted"]) == (0, 5)
        root = client.get(f"/drives/{drive}/root").json()
        assert client.delete(f"/drives/{drive}/items/{root['id']}").status_code == 403


def test_content_redirects_to_a_preauthenticated_url_with_ranges(tenant):
    with tenant.client() as client:
        item = put(client, f"{unique()}/data.bin", b"0123456789").json()
        response = client.get(f"/drives/{tenant.drive_id(ALICE)}/items/{item['id']}/content")
        assert response.status_code == 302
        location = response.headers["Location"]
    assert httpx.get(location).content == b"0123456789"
    partial = httpx.get(location, headers={"Range": "bytes=2-4"})
    assert (partial.status_code, partial.content) == (206, b"234")
    assert httpx.get(location.split("?")[0] + "?tempauth=forged").status_code == 401


def test_retention_label_is_created_then_updated_and_must_exist(tenant):
    with tenant.client() as client:
        item = put(client, f"{unique()}/labelled.docx").json()
        url = f"/drives/{tenant.drive_id(ALICE)}/items/{item['id']}/retentionLabel"
        first = client.patch(url, json={"name": "Personal working files"})
        assert (first.status_code, first.json()["name"]) == (201, "Personal working files")
        assert client.patch(url, json={"name": "People records"}).status_code == 200
        assert client.get(url).json()["name"] == "People records"
        assert error_of(client.patch(url, json={"name": "Made up"}))[:2] == (400, "invalidRequest")


def test_simple_upload_creates_then_replaces(tenant):
    path = f"{unique()}/hello.txt"
    with tenant.client() as client:
        created = put(client, path, b"hello world")
        assert created.status_code == 201
        assert created.json()["file"]["hashes"]["quickXorHash"] == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
        replaced = put(client, path, b"hello again")
        assert replaced.status_code == 200 and replaced.json()["id"] == created.json()["id"]
        refused = put(client, path, b"x", **{"@microsoft.graph.conflictBehavior": "fail"})
        assert error_of(refused)[:2] == (409, "nameAlreadyExists")


def test_simple_upload_over_250_mb_is_refused_before_the_body(tenant):
    import http.client

    connection = http.client.HTTPConnection(tenant.root.removeprefix("http://"), timeout=10)
    connection.putrequest("PUT", f"/v1.0/users/{ALICE}/drive/root:/{unique()}.bin:/content")
    connection.putheader("Authorization", "Bearer t")
    connection.putheader("Content-Length", str(250 * 1000 * 1000 + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413


@pytest.mark.parametrize(
    "name",
    [
        'a"b',
        "a*b",
        "a:b",
        "a<b",
        "a>b",
        "a?b",
        "a\\b",
        "a/b",
        "a|b",
        " lead",
        "trail ",
        "dot.",
        "~$lock.docx",
        "x_vti_y",
        "CON",
        "lpt1",
        "desktop.ini",
        ".lock",
    ],
)
def test_names_the_service_refuses(tenant, name):
    url = f"/users/{ALICE}/drive/root:/{unique()}/{quote(name, safe='')}:/content"
    with tenant.client() as client:
        response = client.put(url, content=b"x")
        assert error_of(response) == (400, "invalidRequest", "invalidPath")


def test_forms_is_refused_only_at_the_root(tenant_factory):
    running = tenant_factory()
    with running.client() as client:
        assert put(client, "forms").status_code == 400
        assert put(client, "sub/forms").status_code == 201


def test_path_limit_is_400_characters(tenant):
    folder = unique()
    with tenant.client() as client:
        fits = "a" * (400 - len(folder) - 1)
        assert put(client, f"{folder}/{fits}").status_code == 201
        assert error_of(put(client, f"{folder}/{fits}b")) == (
            400,
            "invalidRequest",
            "pathIsTooLong",
        )


def test_drive_quota_gives_507(tenant_factory):
    running = tenant_factory(drive_quota=1000)
    with running.client() as client:
        assert put(client, "fits.bin", b"x" * 600).status_code == 201
        assert error_of(put(client, "over.bin", b"x" * 600))[:2] == (507, "quotaLimitReached")


def test_app_permissions_are_enforced(tenant_factory):
    running = tenant_factory(app_permissions={"User.Read.All", "Files.Read.All"})
    with running.client() as client:
        assert client.get(f"/users/{ALICE}/drive/root").status_code == 200
        assert error_of(put(client, "no.txt"))[:2] == (403, "accessDenied")
    reader = tenant_factory(app_permissions={"Files.ReadWrite.All"})
    with reader.client() as client:
        assert error_of(client.get("/users"))[:2] == (403, "Authorization_RequestDenied")


def test_state_survives_a_restart(tenant_factory):
    first = tenant_factory()
    with first.client() as client:
        item = put(client, "kept/file.txt", b"hello world").json()
    first.stop()
    second = tenant_factory(data=first.data)
    with second.client() as client:
        again = client.get(f"/users/{ALICE}/drive/root:/kept/file.txt:").json()
    assert again["id"] == item["id"]
    assert again["file"]["hashes"]["quickXorHash"] == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="


def test_request_log_records_each_request_without_tokens(tenant_factory):
    running = tenant_factory()
    with running.client(headers={"User-Agent": "probe/1"}) as client:
        put(client, "logged.txt", b"abc")
        location = client.get(f"/users/{ALICE}/drive/root:/logged.txt:/content").headers["Location"]
    httpx.get(location)
    records = running.requests()
    upload = next(r for r in records if r["method"] == "PUT")
    assert upload == upload | {"status": 201, "bytes": 3, "user_agent": "probe/1"}
    assert upload["path"] == f"/v1.0/users/{ALICE}/drive/root:/logged.txt:/content"
    assert all("tempauth" not in r["path"] for r in records)
    assert {r["status"] for r in records} >= {201, 302, 200}


def test_renaming_or_moving_a_folder_may_not_push_what_is_inside_past_400(tenant):
    folder = unique()
    inner = "b" * (400 - len(folder) - 3)  # folder/a/inner is exactly 400 characters
    with tenant.client() as client:
        created = put(client, f"{folder}/a/{inner}").json()
        folder_id = created["parentReference"]["id"]
        url = f"/drives/{tenant.drive_id(ALICE)}/items/{folder_id}"
        assert error_of(client.patch(url, json={"name": "abc"}))[2] == "pathIsTooLong"
        assert client.patch(url, json={"name": "c"}).status_code == 200
        deeper = client.post(
            f"/users/{ALICE}/drive/root:/{folder}:/children", json={"name": "x" * 10, "folder": {}}
        ).json()
        move = client.patch(url, json={"parentReference": {"id": deeper["id"]}})
        assert error_of(move)[2] == "pathIsTooLong"


def test_the_root_cannot_be_patched_or_uploaded_to_and_names_must_be_strings(tenant):
    drive = tenant.drive_id(ALICE)
    with tenant.client() as client:
        root = client.get(f"/drives/{drive}/root").json()
        assert (
            client.patch(f"/drives/{drive}/items/{root['id']}", json={"name": "x"}).status_code
            == 403
        )
        session = client.post(f"/drives/{drive}/items/{root['id']}/createUploadSession", json={})
        assert error_of(session)[:2] == (400, "invalidRequest")
        item = put(client, f"{unique()}/n.txt").json()
        patched = client.patch(f"/drives/{drive}/items/{item['id']}", json={"name": 7})
        assert error_of(patched)[:2] == (400, "invalidRequest")
