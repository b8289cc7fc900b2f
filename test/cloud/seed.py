"""API half of seed.sh: creates (apply) or removes (undo) the broken states the
runbooks describe. Process and database parts are in seed.sh. Everything seeded
is named sd-seed-*; what has no name (the allocation's consumer) is recorded in
$STATE/seed/. Run with Debian's /usr/bin/python3 and OS_CLIENT_CONFIG_FILE set."""
import json
import os
import subprocess
import sys
import time
import uuid

import openstack

STATE = os.environ["STACKDOCTOR_CLOUD_DIR"]
SEED_DIR = os.path.join(STATE, "seed")
ALLOC_FILE = os.path.join(SEED_DIR, "orphaned-allocation.json")
STALE_HOST = "sd-compute-2"
ORPHAN_HOST = "sd-compute-1"
PATCH_TYPE = {"Content-Type": "application/openstack-images-v2.1-json-patch"}

conn = openstack.connect(cloud="stackdoctor-admin")


def say(*a):
    print(time.strftime("%H:%M:%S"), "seed:", *a, flush=True)


def write_json(path, data):
    os.makedirs(SEED_DIR, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2)
    os.replace(path + ".tmp", path)


# --- orphaned allocation ------------------------------------------------------------
def provider_uuid(name):
    rps = conn.placement.get("/resource_providers?name=%s" % name, microversion="1.14").json()
    return rps["resource_providers"][0]["uuid"]


def member_ids():
    project = conn.identity.find_project("sd-member-project")
    user = conn.identity.find_user("sd-member")
    return project.id, user.id


def seed_allocation():
    if os.path.exists(ALLOC_FILE):
        with open(ALLOC_FILE) as f:
            consumer = json.load(f)["consumer_uuid"]
        have = conn.placement.get("/allocations/%s" % consumer, microversion="1.28").json()
        if have["allocations"]:
            say("orphaned allocation already present:", consumer)
            return
    consumer = str(uuid.uuid4())
    project_id, user_id = member_ids()
    rp = provider_uuid(ORPHAN_HOST)
    body = {"allocations": {rp: {"resources": {"VCPU": 1, "MEMORY_MB": 256, "DISK_GB": 1}}},
            "project_id": project_id, "user_id": user_id, "consumer_generation": None}
    conn.placement.put("/allocations/%s" % consumer, json=body, microversion="1.28")
    write_json(ALLOC_FILE, {"consumer_uuid": consumer, "resource_provider": rp,
                            "host": ORPHAN_HOST, "project_id": project_id, "user_id": user_id})
    say("orphaned allocation", consumer, "on", ORPHAN_HOST)


def undo_allocation():
    if not os.path.exists(ALLOC_FILE):
        return
    with open(ALLOC_FILE) as f:
        consumer = json.load(f)["consumer_uuid"]
    r = conn.placement.delete("/allocations/%s" % consumer, raise_exc=False)
    if r.status_code not in (204, 404):
        raise SystemExit("DELETE /allocations/%s -> %s %s" % (consumer, r.status_code, r.text))
    os.remove(ALLOC_FILE)
    say("removed orphaned allocation", consumer)


# --- images ----------------------------------------------------------------------------
def qemu_img(fmt, path, size):
    if not os.path.exists(path):
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, path, size], check=True)
    return path


def seed_images():
    data = os.path.join(STATE, "data")
    qcow2 = qemu_img("qcow2", os.path.join(data, "sd-seed.qcow2"), "64M")
    raw = qemu_img("raw", os.path.join(data, "sd-seed.raw"), "1M")
    wanted = [
        # name, file, disk_format: a real QCOW2 (slow to boot from on Ceph, needs conversion)
        ("sd-seed-qcow2", qcow2, "qcow2"),
        # badly labelled: QCOW2 content declared as raw
        ("sd-seed-qcow2-labelled-raw", qcow2, "raw"),
        # raw and correctly labelled, but none of os_type/os_distro/hw_* properties
        ("sd-seed-raw-no-properties", raw, "raw"),
    ]
    for name, path, disk_format in wanted:
        have = conn.image.get("/images?name=%s" % name).json()["images"]
        if any(i["status"] == "active" for i in have):
            continue
        for i in have:
            conn.image.delete("/images/%s" % i["id"])
        img = conn.image.post("/images", json={
            "name": name, "disk_format": disk_format, "container_format": "bare",
            "visibility": "public"}).json()
        with open(path, "rb") as f:
            conn.image.put("/images/%s/file" % img["id"], data=f,
                           headers={"Content-Type": "application/octet-stream"})
        say("image", name, "(%s file as disk_format %s)" % (os.path.basename(path), disk_format))


SEED_IMAGES = ["sd-seed-qcow2", "sd-seed-qcow2-labelled-raw", "sd-seed-raw-no-properties"]


def undo_images():
    # by exact name: the cloud may hold thousands of images (benchmarks)
    for name in SEED_IMAGES:
        for i in conn.image.get("/images?name=%s" % name).json()["images"]:
            if i.get("protected"):
                conn.image.patch("/images/%s" % i["id"], headers=PATCH_TYPE,
                                 json=[{"op": "replace", "path": "/protected", "value": False}])
            conn.image.delete("/images/%s" % i["id"])
            say("deleted image", i["name"])


# --- compute service ------------------------------------------------------------------
def compute_service(host):
    r = conn.compute.get("/os-services?binary=nova-compute&host=%s" % host, microversion="2.53")
    return r.json()["services"][0]


def disable_stale():
    svc = compute_service(STALE_HOST)
    conn.compute.put("/os-services/%s" % svc["id"], microversion="2.53",
                     json={"status": "disabled", "disabled_reason": "sd-seed-stale-compute"})
    say("disabled nova-compute on", STALE_HOST)


def enable_stale():
    svc = compute_service(STALE_HOST)
    conn.compute.put("/os-services/%s" % svc["id"], microversion="2.53", json={"status": "enabled"})
    say("enabled nova-compute on", STALE_HOST)


def wait_compute_up():
    deadline = time.time() + 120
    while time.time() < deadline:
        svc = compute_service(STALE_HOST)
        if svc["state"] == "up" and svc["status"] == "enabled":
            say("nova-compute on", STALE_HOST, "is up")
            return
        time.sleep(2)
    raise SystemExit("nova-compute on %s did not come back up" % STALE_HOST)


def action_count():
    return len(conn.workflow.get("/actions").json()["actions"])


def expect_actions(kind):
    n = action_count()
    say("mistral lists", n, "actions")
    if (kind == "empty") != (n == 0):
        raise SystemExit("unexpected Mistral action count %d" % n)


if __name__ == "__main__":
    cmd = sys.argv[1]
    {
        "apply-api": lambda: (seed_allocation(), seed_images()),
        "undo-api": lambda: (undo_allocation(), undo_images()),
        "disable-stale": disable_stale,
        "enable-stale": enable_stale,
        "wait-compute-up": wait_compute_up,
        "expect-actions-empty": lambda: expect_actions("empty"),
        "expect-actions-present": lambda: expect_actions("present"),
    }[cmd]()
