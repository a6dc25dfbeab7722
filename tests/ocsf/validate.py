"""Validates OCSF events against the OCSF 1.1.0 schema with pydantic-ocsf.

Reads every *.jsonl file in the folder given as the first argument (the events the Rust
tests exported, see scripts/ocsf-tests.sh) and checks each event with the pydantic-ocsf
model of its class, plus what that model leaves open:

- an attribute the schema does not define (the models accept unknown attributes) fails,
  except inside `unmapped` and `evidences[].data`, which OCSF leaves free-form;
- `metadata.version` must be 1.1.0, the version the models are for.

Known validator bug, worked around here and not in the output: pydantic-ocsf builds its
1.1.0 `device` model from the `device` object's own attributes, whose `type_id` entry
overrides the description only; the enum `device` inherits from `endpoint` (where 5 is
"Mobile") is lost, and the model accepts only 0 and 99. The check below reads
`device.type_id`/`device.type` against that inherited enum in the schema file
pydantic-ocsf ships, then validates the rest of the event with the model on a copy whose
device type is 99 ("Other").

A second gap: the 1.1.0 models do not resolve the base event's `$include`d
classification and occurrence attributes (`class_uid`, `category_uid`, `type_uid`,
`activity_id`, `time`, their captions). They are checked here from the schema file:
class and activity ids against the class's definition and its parents (Network
Activity's activity enum, also left out of the file, is written here from OCSF 1.1.0),
captions against their ids, `time` an integer timestamp. Profile attributes (`actor`
and `device` of the host profile on network classes) are missing from the models too:
they are validated with their object models when the event declares the profile in
`metadata.profiles` and its class accepts it.

Prints one line per failure and ends with "ocsf: N passed, M failed" (N events).
"""

import copy
import json
import pathlib
import sys

import ocsf
from ocsf.v1_1_0.events import DetectionFinding, DnsActivity, NetworkActivity
from ocsf.v1_1_0.objects import Actor, Device
from pydantic import BaseModel, ValidationError

VERSION = "1.1.0"
CLASSES = {2004: DetectionFinding, 4003: DnsActivity, 4001: NetworkActivity}
NAMES = {2004: "detection_finding", 4003: "dns_activity", 4001: "network_activity"}
# OCSF 1.1.0 categories (the schema file pydantic-ocsf ships leaves them out).
CATEGORIES = {2: "Findings", 4: "Network Activity"}
# OCSF 1.1.0 profiles the exports use, with the attributes each adds and their models;
# the models leave profile attributes out, so they are checked here when the event
# declares the profile in `metadata.profiles` and its class accepts it.
PROFILES = {"host": {"actor": Actor, "device": Device}}
# OCSF 1.1.0's Network Activity activity enum, which the schema file leaves out.
ACTIVITIES = {
    4001: {str(i): {"caption": c} for i, c in enumerate(
        ["Open", "Close", "Reset", "Fail", "Refuse", "Traffic", "Listen"], 1)},
}
# Base event attributes from OCSF 1.1.0's includes/classification.json and
# includes/occurrence.json, which the models leave out.
CLASSIFICATION = {
    "activity_id", "activity_name", "category_uid", "category_name", "class_uid",
    "class_name", "type_uid", "type_name", "time", "count", "duration", "end_time",
    "start_time", "timezone_offset",
}
FREE_FORM = {"unmapped", "data"}


def schema():
    path = pathlib.Path(ocsf.__file__).parent / "schemas" / "v1_1_0.json"
    return json.loads(path.read_text())


def device_type_enum(s):
    """The device type enum as OCSF 1.1.0 defines it: inherited from `endpoint`."""
    device = s["objects"]["device"]
    own = device["attributes"].get("type_id", {}).get("enum")
    if own:
        return own
    assert device.get("extends") == "endpoint", device.get("extends")
    return s["objects"]["endpoint"]["attributes"]["type_id"]["enum"]


def chain(s, name):
    """The event class and the classes it extends, nearest first."""
    out = []
    while name:
        out.append(s["events"][name])
        name = out[-1].get("extends")
    return out


def classification(s, event):
    """Problems with the classification and occurrence attributes."""
    problems = []
    cls = chain(s, NAMES[event["class_uid"]])
    category = event.get("category_uid")
    if category not in CATEGORIES or event["class_uid"] != category * 1000 + cls[0]["uid"]:
        problems.append(f"category_uid {category!r} does not hold class {event['class_uid']}")
    else:
        if event.get("category_name") not in (None, CATEGORIES[category]):
            problems.append(f"category_name {event.get('category_name')!r} is not {CATEGORIES[category]!r}")
    if event.get("class_name") not in (None, cls[0]["caption"]):
        problems.append(f"class_name {event.get('class_name')!r} is not {cls[0]['caption']!r}")
    activities = next(
        (c["attributes"]["activity_id"]["enum"] for c in cls
         if c["attributes"].get("activity_id", {}).get("enum")),
        ACTIVITIES.get(event["class_uid"], {}),
    )
    activity = event.get("activity_id")
    if str(activity) not in activities and activity not in (0, 99):
        problems.append(f"activity_id {activity!r} is not defined for {cls[0]['caption']}")
    elif str(activity) in activities:
        caption = activities[str(activity)]["caption"]
        if event.get("activity_name") not in (None, caption):
            problems.append(f"activity_name {event.get('activity_name')!r} is not {caption!r}")
        if event.get("type_name") not in (None, f"{cls[0]['caption']}: {caption}"):
            problems.append(f"type_name {event.get('type_name')!r} is not '{cls[0]['caption']}: {caption}'")
    if event.get("type_uid") != event["class_uid"] * 100 + (activity or 0):
        problems.append(f"type_uid {event.get('type_uid')!r} is not class_uid * 100 + activity_id")
    time = event.get("time")
    if not isinstance(time, int) or isinstance(time, bool):
        problems.append(f"time {time!r} is not a timestamp (integer milliseconds)")
    return problems


def profile_attributes(s, event, problems):
    """Validates the attributes of the profiles the event declares; returns their names."""
    names = set()
    accepted = {p for c in chain(s, NAMES[event["class_uid"]]) for p in c.get("profiles") or []}
    for profile in event.get("metadata", {}).get("profiles") or []:
        if profile not in accepted or profile not in PROFILES:
            problems.append(f"profile {profile!r} does not apply to class {event['class_uid']}")
            continue
        for name, model in PROFILES[profile].items():
            names.add(name)
            if name in event:
                try:
                    validated = model.model_validate(event[name])
                    problems.extend(
                        f"attribute not in the schema: {a}"
                        for a in unknown_attributes(validated, f"{name}.")
                    )
                except ValidationError as e:
                    problems.append(f"{name}: " + str(e).replace("\n", " | "))
    return names


def unknown_attributes(model, path="", allowed=frozenset()):
    """Attributes the model did not define, anywhere below it."""
    found = []
    for key in (model.model_extra or {}):
        if not path and (key in CLASSIFICATION or key in allowed):
            continue
        found.append(f"{path}{key}")
    for name in type(model).model_fields:
        if name in FREE_FORM:
            continue
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                sub = f"{path}{name}[{i}]." if isinstance(value, list) else f"{path}{name}."
                found.extend(unknown_attributes(item, sub))
    return found


def check(s, event, types):
    """Problems with one event; empty when it validates."""
    problems = []
    model = CLASSES.get(event.get("class_uid"))
    if model is None:
        return [f"class_uid {event.get('class_uid')!r} is not one this export should produce"]
    if event.get("metadata", {}).get("version") != VERSION:
        problems.append(f"metadata.version is {event.get('metadata', {}).get('version')!r}, not {VERSION}")
    problems.extend(classification(s, event))
    event = copy.deepcopy(event)
    device = event.get("device")
    if isinstance(device, dict) and device.get("type_id") not in (None, 0, 99):
        entry = types.get(str(device["type_id"]))
        if entry is None:
            problems.append(f"device.type_id {device['type_id']} is not in the OCSF 1.1.0 enum")
        elif device.get("type") not in (None, entry["caption"]):
            problems.append(f"device.type {device.get('type')!r} is not {entry['caption']!r}")
        device["type_id"], device["type"] = 99, "Other"
    allowed = profile_attributes(s, event, problems)
    try:
        validated = model.model_validate(event)
    except ValidationError as e:
        return problems + [str(e).replace("\n", " | ")]
    problems.extend(
        f"attribute not in the schema: {a}" for a in unknown_attributes(validated, "", allowed)
    )
    return problems


def main():
    folder = pathlib.Path(sys.argv[1])
    s = schema()
    types = device_type_enum(s)
    passed = failed = 0
    files = sorted(folder.glob("*.jsonl"))
    for f in files:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            problems = check(s, json.loads(line), types)
            if problems:
                failed += 1
                for p in problems:
                    print(f"FAIL {f.name}:{n}: {p}")
            else:
                passed += 1
    print(f"{len(files)} export file(s) checked")
    print(f"ocsf: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
