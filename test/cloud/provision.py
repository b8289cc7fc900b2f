"""Creates the identity data, catalog, flavor and image of the test cloud, and
waits for the two fake computes. Idempotent. Run with Debian's /usr/bin/python3:
    STATE=/var/tmp/stackdoctor-cloud python3 provision.py identity|computes|resources
"""
import json
import os
import subprocess
import sys
import time

import openstack

STATE = os.environ["STATE"]
SECRETS = os.path.join(STATE, "secrets")
AUTH_URL = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"
SERVICE_USERS = ["nova", "placement", "glance", "neutron", "mistral"]
CATALOG = [
    # name, type, url
    ("nova", "compute", "http://127.0.0.1:8774/v2.1"),
    ("placement", "placement", "http://127.0.0.1:8778"),
    ("glance", "image", "http://127.0.0.1:9292"),
    ("neutron", "network", "http://127.0.0.1:9696"),
    ("mistral", "workflowv2", "http://127.0.0.1:8989/v2"),
]
COMPUTE_HOSTS = ["sd-compute-1", "sd-compute-2"]
# The base image is a healthy one: it carries the properties whose absence
# seed.sh demonstrates (os_distro is a libosinfo short name family).
BASE_IMAGE_PROPS = {
    "os_type": "linux", "os_distro": "cirros", "os_version": "0.5.2",
    "hw_disk_bus": "scsi", "hw_scsi_model": "virtio-scsi",
    "hw_qemu_guest_agent": "yes", "hw_vif_multiqueue_enabled": "true",
}


def secret(name):
    with open(os.path.join(SECRETS, name)) as f:
        return f.read().strip()


def say(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def admin_conn():
    return openstack.connect(
        auth_url=AUTH_URL, username="admin", password=secret("admin"), project_name="admin",
        user_domain_name="Default", project_domain_name="Default", region_name=REGION,
        identity_api_version="3", interface="public")


def ensure(lister, creator, name, **attrs):
    for item in lister():
        if item.name == name:
            return item
    say("create", name)
    return creator(name=name, **attrs)


def identity():
    conn = admin_conn()
    idn = conn.identity
    domain = idn.find_domain("default")
    roles = {r.name: r for r in idn.roles()}
    for role in ("admin", "member", "reader", "service"):
        if role not in roles:
            roles[role] = idn.create_role(name=role)
    projects = {p.name: p for p in idn.projects(domain_id=domain.id)}
    for p in ("service", "sd-member-project"):
        if p not in projects:
            say("create project", p)
            projects[p] = idn.create_project(name=p, domain_id=domain.id, description="stackdoctor test cloud")
    users = {u.name: u for u in idn.users(domain_id=domain.id)}

    def ensure_user(name, project, role_names):
        user = users.get(name)
        if user is None:
            say("create user", name)
            user = idn.create_user(name=name, password=secret(name), domain_id=domain.id,
                                   default_project_id=projects[project].id)
        else:
            # the password file is the truth (a state dir keeps its passwords)
            idn.update_user(user, password=secret(name))
        for r in role_names:
            idn.assign_project_role_to_user(projects[project], user, roles[r])

    for name in SERVICE_USERS:
        ensure_user(name, "service", ["admin", "service"])
    ensure_user("sd-member", "sd-member-project", ["member"])

    services = {s.type: s for s in idn.services()}
    endpoints = list(idn.endpoints())
    for name, stype, url in CATALOG:
        svc = services.get(stype)
        if svc is None:
            say("create service", stype)
            svc = idn.create_service(name=name, type=stype, enabled=True)
        for iface in ("public", "internal", "admin"):
            have = [e for e in endpoints if e.service_id == svc.id and e.interface == iface]
            if have and have[0].url == url:
                continue
            for e in have:
                idn.delete_endpoint(e)
            idn.create_endpoint(service_id=svc.id, interface=iface, url=url, region_id=REGION)
    write_client_files()


def write_private(path, text):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_client_files():
    def cloud(user, project):
        return {
            "auth": {"auth_url": AUTH_URL, "username": user, "password": secret(user),
                     "project_name": project, "user_domain_name": "Default",
                     "project_domain_name": "Default"},
            "region_name": REGION, "interface": "public", "identity_api_version": 3,
        }
    clouds = {"clouds": {"stackdoctor-admin": cloud("admin", "admin"),
                         "stackdoctor-member": cloud("sd-member", "sd-member-project")}}
    # JSON is YAML; no PyYAML dependency needed to write it
    write_private(os.path.join(STATE, "clouds.yaml"), json.dumps(clouds, indent=2) + "\n")

    db = "mysql+pymysql://stackdoctor:%s@127.0.0.1:3306/%%s?charset=utf8" % secret("db")
    env = {
        "STACKDOCTOR_CLOUD_DIR": STATE,
        "OS_CLIENT_CONFIG_FILE": os.path.join(STATE, "clouds.yaml"),
        "OS_CLOUD": "stackdoctor-admin",
        "STACKDOCTOR_NOVA_DB_URL": db % "nova",
        "STACKDOCTOR_NOVA_CELL0_DB_URL": db % "nova_cell0",
        "STACKDOCTOR_NOVA_API_DB_URL": db % "nova_api",
        "STACKDOCTOR_PLACEMENT_DB_URL": db % "placement",
        "STACKDOCTOR_GLANCE_DB_URL": db % "glance",
        "STACKDOCTOR_MISTRAL_DB_URL": db % "mistral",
        "STACKDOCTOR_MISTRAL_CONF": os.path.join(STATE, "etc", "mistral", "mistral.conf"),
        "STACKDOCTOR_NOVA_CONF": os.path.join(STATE, "etc", "nova", "nova.conf"),
        "STACKDOCTOR_CLOUD_LOG_DIR": os.path.join(STATE, "log"),
        "STACKDOCTOR_CLOUD_RUN_DIR": os.path.join(STATE, "run"),
    }
    # values contain no spaces or quotes: KEY=VALUE is both sourceable and parseable
    write_private(os.path.join(STATE, "cloud.env"),
                  "".join("%s=%s\n" % kv for kv in env.items()))


def wait_for(what, predicate, timeout=180, interval=1.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            ok, last = predicate()
            if ok:
                return
        except Exception as e:  # services still starting
            last = repr(e)
        time.sleep(interval)
    raise SystemExit("timeout waiting for %s (last: %s)" % (what, last))


def computes():
    conn = admin_conn()

    # computes that must report "up" (seed.sh keeps sd-compute-2 down on purpose)
    expect_up = set(os.environ.get("EXPECT_UP", " ".join(COMPUTE_HOSTS)).split())

    def services_registered():
        r = conn.compute.get("/os-services?binary=nova-compute", microversion="2.53")
        services = r.json()["services"]
        hosts = {s["host"] for s in services}
        up = {s["host"] for s in services if s["state"] == "up"}
        return set(COMPUTE_HOSTS) <= hosts and expect_up <= up, sorted(up)
    wait_for("nova-compute services up", services_registered)

    nova_manage = [os.path.join(STATE, "bin", "nova-manage"), "--config-file",
                   os.path.join(STATE, "etc", "nova", "nova.conf")]

    def present():
        hv = conn.compute.get("/os-hypervisors", microversion="2.53").json()["hypervisors"]
        rp = conn.placement.get("/resource_providers", microversion="1.14").json()["resource_providers"]
        hvs = {h["hypervisor_hostname"] for h in hv}
        rps = {p["name"] for p in rp}
        return set(COMPUTE_HOSTS) <= hvs and set(COMPUTE_HOSTS) <= rps, (sorted(hvs), sorted(rps))

    def mapped_with_hypervisors_and_rps():
        # hypervisors are listed only once their host is mapped into a cell
        ok, seen = present()
        if ok:
            return ok, seen
        out = subprocess.run(nova_manage + ["cell_v2", "discover_hosts", "--verbose"],
                             check=True, capture_output=True, text=True).stdout
        if "Creating host mapping" in out:
            say(out.strip())
        return present()
    wait_for("host mappings, hypervisors and resource providers", mapped_with_hypervisors_and_rps,
             interval=2.0)
    say("computes ok")


def resources():
    conn = admin_conn()
    flavors = conn.compute.get("/flavors/detail?is_public=None").json()["flavors"]
    if not any(f["name"] == "sd.tiny" for f in flavors):
        say("create flavor sd.tiny")
        conn.compute.post("/flavors", json={"flavor": {
            "name": "sd.tiny", "vcpus": 1, "ram": 256, "disk": 1, "os-flavor-access:is_public": True}})

    name = "sd-cirros-raw"
    imgs = conn.image.get("/images?name=%s" % name).json()["images"]
    imgs = [i for i in imgs if i["status"] == "active"] or imgs
    if imgs and imgs[0]["status"] != "active":
        for i in imgs:
            conn.image.delete("/images/%s" % i["id"])
        imgs = []
    if not imgs:
        say("create image", name)
        path = os.path.join(STATE, "data", "sd-cirros.raw")
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", path, "1M"], check=True)
        img = dict(name=name, disk_format="raw", container_format="bare", visibility="public")
        img.update(BASE_IMAGE_PROPS)
        img = conn.image.post("/images", json=img).json()
        with open(path, "rb") as f:
            conn.image.put("/images/%s/file" % img["id"], data=f,
                           headers={"Content-Type": "application/octet-stream"})
    else:
        img = imgs[0]
        patch = [{"op": "add", "path": "/" + k, "value": v}
                 for k, v in BASE_IMAGE_PROPS.items() if str(img.get(k)).lower() != v]
        if patch:
            conn.image.patch("/images/%s" % img["id"], json=patch,
                             headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    say("resources ok")


if __name__ == "__main__":
    {"identity": identity, "computes": computes, "resources": resources,
     "client-files": write_client_files}[sys.argv[1]]()
