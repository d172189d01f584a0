"""driveItem delta and the recycle bin on the local tenant, as Graph documents them."""

import uuid

import httpx

ALICE = "alice@contoso.test"


def unique() -> str:
    return f"d-{uuid.uuid4().hex[:8]}"


def put(client: httpx.Client, path: str, data: bytes = b"x") -> dict:
    response = client.put(f"/users/{ALICE}/drive/root:/{path}:/content", content=data)
    assert response.status_code in (200, 201), response.text
    return response.json()


def follow(client: httpx.Client, url: str, **params) -> tuple[list[dict], str, int]:
    """Every item of one delta round, its deltaLink, and how many pages it took."""
    items, pages = [], 0
    page = client.get(url, params=params or None).json()
    while True:
        pages += 1
        items += page["value"]
        if "@odata.deltaLink" in page:
            return items, page["@odata.deltaLink"], pages
        page = client.get(page["@odata.nextLink"]).json()


def test_delta_enumerates_a_folder_in_pages_then_returns_only_changes(tenant):
    folder = unique()
    with tenant.client() as client:
        files = {name: put(client, f"{folder}/sub/{name}", name.encode()) for name in "abcde"}
        top = client.get(f"/users/{ALICE}/drive/root:/{folder}").json()
        url = f"/drives/{tenant.drive_id(ALICE)}/items/{top['id']}/delta"
        items, delta_link, pages = follow(client, url, **{"$top": "2"})
        assert pages == 4  # the folder, sub and five files, two a page
        names = [item["name"] for item in items]
        assert names == [folder, "sub", "a", "b", "c", "d", "e"]  # parents before children
        file_a = next(item for item in items if item["name"] == "a")
        assert (
            file_a["file"]["hashes"]["quickXorHash"] == files["a"]["file"]["hashes"]["quickXorHash"]
        )
        assert "cTag" not in file_a and "path" not in file_a["parentReference"]

        put(client, f"{folder}/sub/a", b"changed")
        put(client, f"{folder}/sub/f", b"new")
        assert client.delete(
            f"/drives/{tenant.drive_id(ALICE)}/items/{files['b']['id']}"
        ).is_success
        put(client, f"{unique()}/elsewhere.txt")  # outside the folder: not in its feed
        changes, _, _ = follow(client, delta_link)
        by_id = {item["id"]: item for item in changes}
        assert by_id[files["a"]["id"]]["size"] == len(b"changed")
        assert by_id[files["b"]["id"]]["deleted"] == {"state": "deleted"}
        assert "name" not in by_id[files["b"]["id"]]  # OneDrive for Business omits it
        assert "f" in {item.get("name") for item in changes}
        assert "elsewhere.txt" not in {item.get("name") for item in changes}
        assert files["c"]["id"] not in by_id


def test_delta_on_the_drive_root_latest_token_and_function_form(tenant):
    drive = tenant.drive_id(ALICE)
    with tenant.client() as client:
        latest = client.get(f"/drives/{drive}/root/delta", params={"token": "latest"}).json()
        assert latest["value"] == []
        created = put(client, f"{unique()}/after-latest.txt")
        token = httpx.URL(latest["@odata.deltaLink"]).params["token"]
        by_function = client.get(f"/drives/{drive}/root/delta(token='{token}')").json()
        assert created["id"] in {item["id"] for item in by_function["value"]}
        by_query = client.get(latest["@odata.deltaLink"]).json()
        assert {item["id"] for item in by_query["value"]} == {
            item["id"] for item in by_function["value"]
        }
        full, _, _ = follow(client, f"/users/{ALICE}/drive/root/delta")
        assert "root" in full[0]
        assert created["id"] in {item["id"] for item in full}


def test_an_unusable_delta_token_asks_for_a_resync(tenant):
    drive = tenant.drive_id(ALICE)
    with tenant.client() as client:
        response = client.get(f"/drives/{drive}/root/delta", params={"token": "garbage"})
        assert response.status_code == 410
        error = response.json()["error"]
        assert (error["code"], error["innerError"]["code"]) == (
            "resyncRequired",
            "resyncChangesApplyDifferences",
        )
        fresh = client.get(response.headers["Location"])
        assert fresh.status_code == 200 and "value" in fresh.json()


def test_deleted_items_are_listed_in_the_sites_recycle_bin(tenant_factory):
    running = tenant_factory()
    drive = running.drive_id(ALICE)
    with running.client() as client:
        kept = put(client, "docs/kept.txt")
        gone = put(client, "docs/gone.txt", b"12345")
        put(client, "old/one.bin", b"1" * 10)
        put(client, "old/deeper/two.bin", b"2" * 20)
        old = client.get(f"/drives/{drive}/root:/old").json()
        assert client.delete(f"/drives/{drive}/items/{gone['id']}").status_code == 204
        assert client.delete(f"/drives/{drive}/items/{old['id']}").status_code == 204

        site = client.get(f"/users/{ALICE}/drive", params={"$select": "id,sharePointIds"}).json()
        assert set(site) == {"id", "sharePointIds"}
        bin_url = f"/sites/{site['sharePointIds']['siteId']}/recycleBin/items"
        entries = client.get(bin_url).json()["value"]
        # One entry per delete: the folder stands for everything deleted with it.
        assert sorted((e["name"], e["size"]) for e in entries) == [("gone.txt", 5), ("old", 30)]
        gone_entry = next(e for e in entries if e["name"] == "gone.txt")
        assert gone_entry["deletedFromLocation"] == "personal/alice_contoso_test/Documents/docs"
        assert gone_entry["deletedDateTime"].endswith("Z")

        # The composite id in any item's parentReference names the same bin.
        composite = kept["parentReference"]["siteId"]
        paged = client.get(f"/sites/{composite}/recycleBin/items", params={"$top": "1"}).json()
        rest = client.get(paged["@odata.nextLink"]).json()
        assert {e["id"] for e in paged["value"] + rest["value"]} == {e["id"] for e in entries}
        assert client.get("/sites/no-such-site/recycleBin/items").status_code == 404
