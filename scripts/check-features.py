#!/usr/bin/env python3
"""Every cargo feature of a deadpool backend crate exists in ours by the same
name, and where theirs switches on a feature of the driver (redis/...,
tokio-postgres/...), ours switches on the same one.

Usage: scripts/check-features.py THEIR_Cargo.toml [OUR_Cargo.toml]
(ours defaults to pool-redis/Cargo.toml; for deadpool itself, pool-core's)
"""
import pathlib
import sys
import tomllib

# Runtimes pool-core does not serve: the names exist and refuse at build.
REFUSED = {"rt_smol_2", "smol-comp", "smol-native-tls-comp", "smol-rustls-comp",
           "rt_async-std_1"}

def features_of(manifest):
    """The [features] table plus the implicit feature of each optional
    dependency that no feature names as `dep:NAME`."""
    features = dict(manifest.get("features", {}))
    named = {d[4:] for deps in features.values() for d in deps if d.startswith("dep:")}
    for name, spec in manifest.get("dependencies", {}).items():
        if isinstance(spec, dict) and spec.get("optional") and name not in named:
            features.setdefault(name, [f"dep:{name}"])
    return features


theirs_path = pathlib.Path(sys.argv[1])
theirs_pkg = tomllib.loads(theirs_path.read_text())
theirs = features_of(theirs_pkg)
ours_path = (pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else
             pathlib.Path(__file__).resolve().parent.parent / "pool-redis" / "Cargo.toml")
ours = features_of(tomllib.loads(ours_path.read_text()))


def driver_features(deps):
    """What a feature forwards to the driver: `crate/feature`, not deadpool's,
    its runtime shim's (pool-core is that layer) or tokio's."""
    return {d for d in deps
            if "/" in d and not d.startswith(("deadpool/", "deadpool-runtime/", "deadpool-sync/", "dep:", "tokio/"))}


def our_driver_features(name, seen=None):
    """The driver features one of ours switches on, through ours too."""
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    found = set()
    for dep in ours.get(name, []):
        if "/" in dep and not dep.startswith(("pool-core/", "dep:")):
            found.add(dep)
        elif dep in ours:
            found |= our_driver_features(dep, seen)
    return found


problems = []
for name, deps in sorted(theirs.items()):
    if name not in ours:
        problems.append(f"feature `{name}` is missing")
    elif name not in REFUSED and not driver_features(deps) <= our_driver_features(name):
        problems.append(
            f"feature `{name}` switches on {sorted(driver_features(deps))} in "
            f"{theirs_pkg['package']['name']}, {sorted(our_driver_features(name))} here")
for p in problems:
    print(f"check-features: {p}", file=sys.stderr)
print(f"check-features: {len(theirs) - len(problems)} of {len(theirs)} "
      f"{theirs_pkg['package']['name']} features match in {ours_path.parent.name}")
sys.exit(1 if problems else 0)
