#!/usr/bin/env python3
"""Every cargo feature of deadpool-redis exists in pool-redis by the same
name, and where deadpool-redis's switches on a redis feature, pool-redis's
switches on the same one.

Usage: scripts/check-features.py path/to/deadpool-redis/Cargo.toml
"""
import pathlib
import sys
import tomllib

# Not built yet: Sentinel and Cluster come with their own work.
NOT_YET = set()
# Runtimes pool-core does not serve: the names exist and refuse at build.
REFUSED = {"rt_smol_2", "smol-comp", "smol-native-tls-comp", "smol-rustls-comp"}

theirs = tomllib.loads(pathlib.Path(sys.argv[1]).read_text())["features"]
ours_path = pathlib.Path(__file__).resolve().parent.parent / "pool-redis" / "Cargo.toml"
ours = tomllib.loads(ours_path.read_text())["features"]

def redis_features(deps):
    return sorted(d for d in deps if d.startswith("redis/"))


def our_redis_features(name, seen=None):
    """The redis features one of ours switches on, through ours too."""
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    found = set()
    for dep in ours.get(name, []):
        if dep.startswith("redis/"):
            found.add(dep)
        elif dep in ours:
            found |= our_redis_features(dep, seen)
    return found


problems = []
for name, deps in sorted(theirs.items()):
    if name in NOT_YET:
        continue
    if name not in ours:
        problems.append(f"feature `{name}` is missing")
    elif name not in REFUSED and not set(redis_features(deps)) <= our_redis_features(name):
        problems.append(
            f"feature `{name}` switches on {redis_features(deps)} in deadpool-redis, "
            f"{sorted(our_redis_features(name))} here")
for p in problems:
    print(f"check-features: {p}", file=sys.stderr)
checked = len(set(theirs) - NOT_YET)
print(f"check-features: {checked - len(problems)} of {checked} deadpool-redis features match "
      f"({len(NOT_YET)} not built yet: {', '.join(sorted(NOT_YET))})")
sys.exit(1 if problems else 0)
