"""Smoke test of a running test cloud: every API answers, a server boots on
sd-compute-1 with the fake driver and is deleted, Neutron lists ports, Mistral
lists actions. Run: bash test/cloud/smoke.sh"""
import os
import sys
import time

import openstack

conn = openstack.connect(cloud="stackdoctor-admin")
t0 = time.time()


def say(*a):
    print("%5.1fs" % (time.time() - t0), *a, flush=True)


ports = conn.network.get("/ports").json()["ports"]
say("neutron GET /v2.0/ports:", len(ports), "ports")
actions = conn.workflow.get("/actions").json()["actions"]
say("mistral GET /v2/actions:", len(actions), "actions")
rps = conn.placement.get("/resource_providers", microversion="1.14").json()["resource_providers"]
say("placement resource providers:", sorted(p["name"] for p in rps))
hv = conn.compute.get("/os-hypervisors", microversion="2.53").json()["hypervisors"]
say("hypervisors:", sorted((h["hypervisor_hostname"], h["state"]) for h in hv))
imgs = conn.image.get("/images?name=sd-cirros-raw").json()["images"]
flv = [f for f in conn.compute.get("/flavors").json()["flavors"] if f["name"] == "sd.tiny"]
assert imgs and flv, "image sd-cirros-raw / flavor sd.tiny missing"

body = {"server": {"name": "sd-smoke-%d" % os.getpid(), "imageRef": imgs[0]["id"],
                   "flavorRef": flv[0]["id"], "networks": "none", "host": "sd-compute-1"}}
srv = conn.compute.post("/servers", json=body, microversion="2.74").json()["server"]
say("POST /servers ->", srv["id"])
status = None
while time.time() - t0 < 120:
    s = conn.compute.get("/servers/%s" % srv["id"], microversion="2.74").json()["server"]
    status = s["status"]
    if status in ("ACTIVE", "ERROR"):
        break
    time.sleep(1)
say("server status", status, "host", s.get("OS-EXT-SRV-ATTR:host"))
conn.compute.delete("/servers/%s" % srv["id"])
while time.time() - t0 < 180:
    r = conn.compute.get("/servers/%s" % srv["id"], raise_exc=False)
    if r.status_code == 404:
        break
    time.sleep(1)
say("server deleted")
sys.exit(0 if status == "ACTIVE" and s.get("OS-EXT-SRV-ATTR:host") == "sd-compute-1" else 1)
