"""Collector end to end: the real agent, through the Python bindings, against
`portcullis collector serve` on loopback. Python's urllib stands in for the platform's HTTP
stack (and for the TLS-terminating proxy in front of the collector: the policy names an
https:// collector, the test sends the same request to the collector's loopback address).

Run by scripts/collector-e2e.sh with:
    PORTCULLIS_PY_BINDINGS  folder with portcullis_ffi.py and the library
    PORTCULLIS_BIN          the console tool
    COLLECTOR_STORE         sqlite:PATH or postgres:URL for the collector under test
    COLLECTOR_WORK          an empty folder for keys, databases and logs

Prints `collector-e2e-case: N passed, M failed`.
"""

import asyncio
import base64
import datetime
import json
import os
import subprocess
import sys
import traceback
import urllib.error
import urllib.request

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.abspath(os.environ["PORTCULLIS_PY_BINDINGS"]))

import portcullis_ffi as pf  # noqa: E402

TOOL = os.environ["PORTCULLIS_BIN"]
STORE = os.environ["COLLECTOR_STORE"]
WORK = os.environ["COLLECTOR_WORK"]
os.makedirs(WORK, exist_ok=True)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC)
SECRET = b"collector-e2e-device-secret-0001"
ICCIDS = ["8944110012345678901", "8944110098765432109"]
MAX_BATCH = 2_000_000

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name} {detail}")


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def tool(*args, check_rc=True):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"portcullis {' '.join(args[:2])} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def public_hex(pem_path):
    with open(pem_path) as f:
        body = "".join(l for l in f.read().splitlines() if not l.startswith("-----"))
    return base64.b64decode(body)[-32:].hex()


class Collector:
    """One `portcullis collector serve` process on a free loopback port."""

    def __init__(self, store, key, alerts):
        self.log = open(os.path.join(WORK, f"serve-{len(os.listdir(WORK))}.log"), "w")
        self.proc = subprocess.Popen(
            [TOOL, "collector", "serve", "--bind", "127.0.0.1:0", "--store", store, "--key", key,
             "--alerts", alerts, "--max-batch-bytes", str(MAX_BATCH)],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError("the collector did not start; see " + self.log.name)
        self.base = "http://" + line[len("listening on "):]

    def post(self, path, body, headers=()):
        req = urllib.request.Request(self.base + path, data=bytes(body), method="POST")
        for name, value in headers:
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def send(collector, request):
    """What the platform does with an UploadRequest: send it as it is."""
    assert request.method == "POST"
    return collector.post(request.path, request.body, [(h.name, h.value) for h in request.headers])


async def ship(agent, collector, now, sent):
    """Sends upload requests until the agent has nothing more; returns the outcomes."""
    outcomes = []
    for _ in range(20):
        request = await agent.next_upload(MAX_BATCH, now)
        if request is None:
            break
        status, body = send(collector, request)
        sent.append((bytes(request.body), status, body))
        outcome = await agent.upload_response(status, body, now)
        outcomes.append((status, outcome))
        if not outcome.acknowledged:
            break
    return outcomes


def sim(iccid):
    return pf.SimObservation(slot=0, state=pf.SimState.READY, iccid=iccid)


async def hours(agent, first_hour, last_hour, shift_seconds=0):
    """A stretch of a working day: connectivity changes every 15 minutes, and every three
    hours the SIM is taken out and another one put in (alerts, delivered and acknowledged)."""
    for quarter in range(first_hour * 4, last_hour * 4):
        now = at(quarter * 15) + datetime.timedelta(seconds=shift_seconds)
        await agent.handle_connectivity(
            pf.Connectivity(wifi=quarter % 2 == 0, cellular_data=True, airplane_mode=False), now)
        if quarter == 0:
            await agent.handle_sim(sim(ICCIDS[0]), now)
        if quarter % 12 == 6:
            await agent.handle_sim(pf.SimObservation(slot=0, state=pf.SimState.ABSENT, iccid=None), now)
            await agent.handle_sim(sim("89441100%011d" % (quarter * 7919)), now + datetime.timedelta(seconds=5))
            pending = await agent.pending_alerts(10)
            if pending:
                await agent.ack_alerts([a.id for a in pending], now + datetime.timedelta(seconds=10))


def export(store):
    r = tool("collector", "export", "--store", store, "--format", "jsonl")
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def sqlite_copy(src, dst):
    """Copies a live database the way an intruder's process would. Never in this process:
    Python's SQLite is another copy of the library than the agent's, POSIX locks are per
    process, so closing it here would take the agent's write-ahead log for the last
    connection's, checkpoint it and delete it under the open agent."""
    script = ("import sqlite3, sys\n"
              "with sqlite3.connect(sys.argv[1]) as s, sqlite3.connect(sys.argv[2]) as d:\n"
              "    s.backup(d)\n")
    subprocess.run([sys.executable, "-c", script, src, dst], check=True)


async def scenario():
    keys = os.path.join(WORK, "keys")
    tool("keygen", "--out", keys, "--name", "collector")
    tool("keygen", "--out", keys, "--name", "root")
    tool("keygen", "--out", keys, "--name", "policy")
    collector_key = os.path.join(keys, "collector.key")
    tool("root", "create", "--root-key", os.path.join(keys, "root.pub"),
         "--policy-key", os.path.join(keys, "policy.pub"), "--description", "collector e2e",
         "--out", os.path.join(WORK, "root.json"))
    tool("root", "sign", "--key", os.path.join(keys, "root.key"), "--in", os.path.join(WORK, "root.json"),
         "--out", os.path.join(WORK, "root.signed"))
    with open(os.path.join(_REPO, "policies", "baseline.json")) as f:
        policy = json.load(f)
    policy["upload"] = {
        "collectorUrl": "https://collector.example.test",
        "certificateSha256": ["ab" * 32],
        "receiptKey": public_hex(os.path.join(keys, "collector.pub")),
        "intervalMinutes": 120,
        "maxBatchBytes": MAX_BATCH,
        "heartbeatMinutes": 1440,
    }
    with open(os.path.join(WORK, "policy.json"), "w") as f:
        json.dump(policy, f)
    tool("policy", "sign", "--key", os.path.join(keys, "policy.key"), "--in", os.path.join(WORK, "policy.json"),
         "--root", os.path.join(WORK, "root.signed"), "--version", "1", "--group", "all-staff",
         "--issued-at", "2026-02-28T00:00:00Z", "--expires", "2026-04-01T00:00:00Z",
         "--out", os.path.join(WORK, "policy.bundle"))
    with open(os.path.join(WORK, "root.signed"), "rb") as f:
        root = f.read()
    with open(os.path.join(WORK, "policy.bundle"), "rb") as f:
        bundle = f.read()

    # The phone: enrolled, policy in force, the enrollment hand-off read out.
    db = os.path.join(WORK, "phone.db")
    agent = await pf.Agent.open(db, pf.SoftwareDeviceKey(SECRET), at(0))
    await agent.install_trust_root(root, "dev-0001", ["all-staff"], at(0))
    await agent.apply_policy(bundle, at(0))
    status = await agent.upload_status()
    device = status.device_id
    checkpoint = json.loads((await agent.checkpoint(at(0))).json)
    journal_key = bytes(await agent.journal_key_export())
    key_file = os.path.join(WORK, "journal.key")
    with open(key_file, "w") as f:
        f.write(journal_key.hex())

    main = Collector(STORE, collector_key, os.path.join(WORK, "alerts.jsonl"))
    aux_store = "sqlite:" + os.path.join(WORK, "aux.db")
    aux = Collector(aux_store, collector_key, os.path.join(WORK, "aux-alerts.jsonl"))
    try:
        for store in (STORE, aux_store):
            tool("collector", "enroll", "--store", store, "--key", collector_key, "--device", device,
                 "--checkpoint-key", checkpoint["public_key"], "--journal-key-file", key_file,
                 "--heartbeat-minutes", "1440")
        await agent.confirm_journal_key_export()
        wrong = tool("collector", "enroll", "--store", STORE, "--key", collector_key, "--device", "0" * 32,
                     "--checkpoint-key", checkpoint["public_key"], "--journal-key-file", key_file,
                     check_rc=False)
        check("an id that is not the checkpoint key's is not enrolled", wrong.returncode == 2, wrong.stderr)

        # A clone of the phone's database, as an intruder would make it, before any upload.
        clone_db = os.path.join(WORK, "clone.db")
        sqlite_copy(db, clone_db)

        sent = []
        await hours(agent, 0, 2)
        outcomes = await ship(agent, main, at(120), sent)
        check("the first upload is acknowledged",
              outcomes and all(s == 200 and o.acknowledged for s, o in outcomes), outcomes)
        first_batch = sent[0][0]

        # The clone writes its own history over the same records and ships it elsewhere,
        # then offers its continuation to the office's collector: a fork.
        clone = await pf.Agent.open(clone_db, pf.SoftwareDeviceKey(SECRET), at(0))
        await hours(clone, 0, 2, shift_seconds=30)
        clone_sent = []
        clone_outcomes = await ship(clone, aux, at(120), clone_sent)
        check("the clone's history is taken by another collector",
              clone_outcomes and all(s == 200 for s, _ in clone_outcomes), clone_outcomes)
        check("the clone wrote as many records as the phone, with other contents",
              json.loads(clone_sent[-1][0])["records"][-1]["seq"] == json.loads(sent[-1][0])["records"][-1]["seq"]
              and clone_sent[-1][0] != sent[-1][0])
        await hours(clone, 2, 4, shift_seconds=30)
        before = export(STORE)
        forked = await clone.next_upload(MAX_BATCH, at(240))
        status_code, body = send(main, forked)
        reason = json.loads(body or b"{}").get("error")
        check("a forked batch is refused (409 fork)", (status_code, reason) == (409, "fork"), (status_code, body))
        check("the fork changed nothing stored", export(STORE) == before)

        # The rest of the day, shipped every two hours.
        for start in range(2, 24, 2):
            await hours(agent, start, start + 2)
            outcomes = await ship(agent, main, at((start + 2) * 60), sent)
            check(f"uploads at {start + 2:02d}:00 are acknowledged",
                  all(s == 200 and o.acknowledged for s, o in outcomes), outcomes)
        status = await agent.upload_status()
        stored = export(STORE)
        mine = [r for r in stored if r["device"] == device]
        check("the collector holds every record the phone acknowledged",
              mine and mine[-1]["seq"] == status.acknowledged_seq and len(mine) == status.acknowledged_seq,
              (len(mine), status.acknowledged_seq))
        alerts = sum(1 for r in mine if r["kind"] == "alert")
        check("the day's SIM swaps reached the collector", alerts >= 8, alerts)

        # The same batch again (its receipt was lost): the same receipt, nothing stored twice.
        last_body, last_status, last_receipt = sent[-1]
        again = main.post("/v1/upload", last_body, [("Content-Type", "application/json")])
        check("a re-sent batch gets the same receipt", again == (200, last_receipt), again[0])
        check("a re-sent batch is stored once", export(STORE) == stored)

        # Tampered in transit: one record's body changed.
        batch = json.loads(last_body)
        if batch["records"]:
            batch["records"][0]["body"] = batch["records"][0]["body"].replace('"', "'", 1)
        else:
            batch["created_at"] = "2026-03-02T00:00:00Z"
        code, body = main.post("/v1/upload", json.dumps(batch).encode())
        check("a tampered batch is refused (403 bad_batch_signature)",
              (code, json.loads(body).get("error")) == (403, "bad_batch_signature"), (code, body))

        # An old batch sent again after newer ones were taken.
        code, body = main.post("/v1/upload", first_batch)
        check("a replayed batch is refused (409 replay)",
              (code, json.loads(body).get("error")) == (409, "replay"), (code, body))

        code, body = main.post("/v1/upload", b"x" * (MAX_BATCH + 1))
        check("an oversized batch is refused (413)", code == 413, code)
        code, body = main.post("/v1/upload", b'{"format": "portcullis/upload/v1"')
        check("a malformed batch is refused (400)", code == 400, code)
        check("refusals changed nothing stored", export(STORE) == stored)

        with open(os.path.join(WORK, "alerts.jsonl")) as f:
            titles = [json.loads(l)["finding_info"]["title"] for l in f if l.strip()]
        check("the fork raised an OCSF alert", "journal_upload_fork" in titles, titles)

        r = tool("collector", "verify", "--store", STORE, "--key", collector_key, "--device", device,
                 check_rc=False)
        check("collector verify passes", r.returncode == 0 and "intact" in r.stdout.splitlines(), r.stdout + r.stderr)

        # The phone is wiped: its database is gone, its history is not.
        phone = tool("journal", "export", "--db", db, "--format", "jsonl").stdout
        phone_records = [json.loads(l) for l in phone.splitlines() if l.strip()]
        del agent, clone
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        check("the phone's database is gone", not os.path.exists(db))
        kept = [r for r in export(STORE) if r["device"] == device]
        same = [(r["seq"], r["hash"]) for r in kept] == [
            (r["seq"], r["hash"]) for r in phone_records if r["seq"] <= status.acknowledged_seq]
        check("the history is still at the collector, record for record", same and len(kept) > 0,
              (len(kept), len(phone_records)))
        r = tool("collector", "verify", "--store", STORE, "--key", collector_key, "--device", device,
                 check_rc=False)
        check("collector verify still passes without the phone", r.returncode == 0, r.stdout + r.stderr)
        r = tool("collector", "export", "--store", STORE, "--format", "ocsf",
                 "--since", "2026-03-01T12:00:00Z")
        findings = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check("the OCSF export holds the afternoon's findings",
              findings and all(f["class_uid"] == 2004 and f["time"] >= 1772366400000 for f in findings),
              len(findings))
    finally:
        main.stop()
        aux.stop()


def main():
    try:
        asyncio.run(scenario())
    except Exception:  # noqa: BLE001 - reported as a failure with its traceback
        traceback.print_exc()
        global failed
        failed += 1
    print(f"collector-e2e-case: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
