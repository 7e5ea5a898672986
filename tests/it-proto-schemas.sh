#!/usr/bin/env bash
#
# it-proto-schemas.sh holds the JSON Schemas in proto/schemas/ to the
# examples in proto/examples/, the same examples test-event.c holds the
# codec to: every valid event, reminder and API message must pass its
# schema, and every invalid event must fail, either as JSON (parsed as
# strictly as jansson does: no duplicate members, no NaN) or against
# event.schema.json. A few invalid events fail only for reasons a schema
# cannot express; they are listed below by name, and each of them must
# *pass* the schema, so the list cannot hide a schema that got stricter.
# Prints "N passed, N failed"; exits non-zero on any mismatch.
#
set -euo pipefail

src="${BEVAKA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

if ! python3 -c 'from jsonschema import Draft202012Validator' 2>/dev/null; then
        echo "it-proto-schemas: needs python3 with jsonschema >= 4.0 (Debian: python3-jsonschema)" >&2
        exit 1
fi

exec python3 - "$src" <<'PY'
import json, os, sys
from jsonschema import Draft202012Validator
try:
    # jsonschema >= 4.18 resolves $refs through a registry...
    from referencing import Registry, Resource
except ImportError:
    # ...Debian 12's 4.10 through a RefResolver with a store.
    from jsonschema import RefResolver
    Registry = None

src = sys.argv[1]
schemas_dir = os.path.join(src, "proto", "schemas")
examples = os.path.join(src, "proto", "examples")

# Invalid examples whose failure is semantic, so the schema accepts them:
SEMANTIC = {
    # Luhn check and date validity of a personnummer / samordningsnummer
    # inside a case id (domain.md §3): not expressible in JSON Schema.
    "envelope-case-personnummer",
    "envelope-case-personnummer-short",
    "envelope-case-personnummer-plus",
    "envelope-case-personnummer-12-digits",
    "envelope-case-samordningsnummer",
    # 29 February outside a leap year: the date patterns bound each
    # month's days but cannot know leap years.
    "envelope-at-feb-29",
    "data-ib4.exempted-until-feb-29",
    # "v": 1.0 - JSON Schema's "integer" admits any number with a zero
    # fraction; the codec wants an integer token.
    "envelope-v-real",
}

passed = failed = 0

def ok(what):
    global passed
    passed += 1

def bad(what, why):
    global failed
    failed += 1
    print(f"FAIL {what}: {why}", file=sys.stderr)

class NotJSON(Exception):
    pass

def no_duplicates(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise NotJSON("duplicate member")
        seen.add(k)
    return dict(pairs)

def no_constants(name):
    raise NotJSON(f"{name} is not JSON")

def load_strict(path):
    """As strict as jansson: UTF-8, no duplicate members, no NaN/Infinity."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, NotJSON) as e:
        raise NotJSON(str(e))

# Every schema file is one resource, found by its $id; relative $refs resolve against it.
resources = []
by_name = {}
for dirpath, _, files in os.walk(schemas_dir):
    for name in sorted(files):
        if not name.endswith(".schema.json"):
            continue
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, schemas_dir)
        try:
            schema = load_strict(path)
            Draft202012Validator.check_schema(schema)
        except Exception as e:
            bad(f"schema {rel}", e)
            continue
        ok(f"schema {rel}")
        resources.append((schema["$id"], schema))
        by_name[rel] = schema
if Registry:
    registry = Registry().with_resources((i, Resource.from_contents(s)) for i, s in resources)
else:
    store = dict(resources)

def validator(rel, pointer=""):
    schema = by_name[rel]
    if pointer:
        schema = {"$ref": schema["$id"] + "#" + pointer}
    if Registry:
        return Draft202012Validator(schema, registry=registry)
    return Draft202012Validator(schema, resolver=RefResolver.from_schema(schema, store=store))

def errors(v, doc):
    return sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))

def listing(*parts):
    d = os.path.join(examples, *parts)
    return [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".json")]

def short(path):
    return os.path.relpath(path, examples)

def must_pass(v, path):
    try:
        doc = load_strict(path)
    except NotJSON as e:
        bad(short(path), f"not JSON: {e}")
        return None
    errs = errors(v, doc)
    if errs:
        e = errs[0]
        bad(short(path), f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
    else:
        ok(short(path))
    return doc

event = validator("event.schema.json")

# Every v1 type has its data schema, and event.schema.json dispatches to each.
data_types = sorted(n[len("data/"):-len(".schema.json")] for n in by_name if n.startswith("data/"))
dispatched = sorted(b["if"]["properties"]["type"]["const"]
                    for b in by_name["event.schema.json"]["allOf"] if "if" in b)
if data_types == dispatched and len(data_types) == 29:
    ok("event.schema.json dispatch")
else:
    bad("event.schema.json dispatch", f"data schemas {data_types} vs branches {dispatched}")

# Valid events: all pass, and each v1 type has at least one.
seen = set()
for path in listing("valid"):
    doc = must_pass(event, path)
    if isinstance(doc, dict):
        seen.add(doc.get("type"))
missing = [t for t in data_types if t not in seen]
if missing:
    bad("valid examples", f"no example of {', '.join(missing)}")
else:
    ok("valid examples cover every type")

# Invalid events: all fail, except the semantic ones, which must pass.
names = set()
for path in listing("invalid"):
    name = os.path.basename(path)[:-len(".json")]
    names.add(name)
    if not os.path.exists(path[:-len(".json")] + ".reason"):
        bad(short(path), "no .reason file")
    try:
        doc = load_strict(path)
        errs = errors(event, doc)
    except NotJSON:
        doc, errs = None, ["not JSON"]
    if name in SEMANTIC:
        if errs:
            bad(short(path), "listed as semantic, but the schema rejects it: take it off the list")
        else:
            ok(short(path))
    elif errs:
        ok(short(path))
    else:
        bad(short(path), "invalid example passes the schema")
for name in sorted(SEMANTIC - names):
    bad(f"invalid/{name}", "listed as semantic but there is no such example")
for n in sorted(os.listdir(os.path.join(examples, "invalid"))):
    if n.endswith(".reason") and n[:-len(".reason")] not in names:
        bad(f"invalid/{n}", "a .reason without its .json")

# Reminders.
reminder = validator("reminder.schema.json")
for path in listing("reminders"):
    must_pass(reminder, path)

# v1.1 messages (protocol.md §2.1): digests on the leads' topics, go-live summaries.
for kind, schema in (("digests", "digest.schema.json"), ("summaries", "summary.schema.json")):
    v = validator(schema)
    for path in listing(kind):
        must_pass(v, path)
    bad_doc = {"v": 1, "rseq": 1, "op": kind[:-1] if kind == "digests" else "summary"}
    if errors(v, bad_doc):
        ok(f"{schema} rejects a message without its members")
    else:
        bad(schema, "accepts a message without its members")

# API: requests against the request schema; replies against the reply schema
# and, when named after an op, against that op's $defs entry too.
request = validator("api-request.schema.json")
for path in listing("api", "request"):
    must_pass(request, path)
reply = validator("api-reply.schema.json")
reply_defs = by_name["api-reply.schema.json"]["$defs"]
for path in listing("api", "reply"):
    doc = must_pass(reply, path)
    op = os.path.basename(path)[:-len(".json")].split("-")[0]
    if doc is not None and op in reply_defs:
        must_pass(validator("api-reply.schema.json", f"/$defs/{op}"), path)
for op in reply_defs:
    if not os.path.exists(os.path.join(examples, "api", "reply", op + ".json")):
        bad(f"api/reply/{op}.json", "missing example")

# The schemas must also refuse what the protocol refuses in the API.
for doc, schema, what in [
    ({"op": "sync", "topic": "rem/HV-EB-1/hk1234"}, request, "sync topic without trailing /"),
    ({"op": "ack"}, request, "ack without id"),
    ({"op": "dismiss", "id": "r-1"}, request, "dismiss without reason"),
    ({"op": "subscribe"}, request, "unknown op"),
    ({"ok": False, "error": {"code": "oops", "message": "x"}}, reply, "unknown error code"),
    ({"ok": False}, reply, "error reply without error"),
    ({"ok": True, "error": {"code": "internal", "message": "x"}}, reply, "ok reply with error"),
]:
    if errors(schema, doc):
        ok(what)
    else:
        bad(what, "accepted")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
