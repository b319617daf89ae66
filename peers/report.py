#!/usr/bin/env python3
"""Overhead per request of each middleware over the open route, from the last
`cargo bench` in this directory (target/criterion/peers/*/new/estimates.json, medians),
and each peer's overhead against notify-auth's in the same case."""
import glob
import json
import os

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "target", "criterion", "peers")
medians = {}
for path in glob.glob(os.path.join(root, "**", "new", "benchmark.json"), recursive=True):
    with open(path) as f:
        function_id = json.load(f)["function_id"]
    with open(os.path.join(os.path.dirname(path), "estimates.json")) as f:
        medians[function_id] = json.load(f)["median"]["point_estimate"]
if "open" not in medians:
    raise SystemExit(f"no results under {root}: run `cargo bench` in peers/ first")
open_ns = medians["open"]
print(f"open route: {open_ns / 1000:.2f} µs per request")
peers = ["notify_auth", "jsonwebtoken", "axum_jwt_auth", "jwt_authorizer"]
for keys in (1, 10):
    for kind in ("valid", "forged"):
        ours = medians.get(f"notify_auth/{keys}/{kind}")
        if ours is None:
            continue
        ours -= open_ns
        print(f"\n{keys} key{'s' if keys > 1 else ''}, {kind} token: overhead over the open route")
        for peer in peers:
            total = medians.get(f"{peer}/{keys}/{kind}")
            if total is None:
                continue
            overhead = total - open_ns
            ratio = "" if peer == "notify_auth" else f"  {overhead / ours:5.1f} × notify-auth"
            print(f"  {peer:15} {overhead / 1000:7.2f} µs{ratio}")
