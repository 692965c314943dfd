#!/usr/bin/env python3
"""Every cargo feature of deadpool-redis exists in pool-redis by the same
name, and where deadpool-redis's switches on a redis feature, pool-redis's
switches on the same one.

Usage: scripts/check-features.py path/to/deadpool-redis/Cargo.toml
"""
import pathlib
import sys
import tomllib

# Not built yet: TLS, Sentinel and Cluster come with their own work.
NOT_YET = {
    "tls-native-tls", "tls-rustls", "tls-rustls-insecure",
    "tls-rustls-webpki-roots", "tokio-native-tls-comp", "tokio-rustls-comp",
    "sentinel", "cluster", "cluster-async",
}
# Runtimes pool-core does not serve: the names exist and refuse at build.
REFUSED = {"rt_smol_2", "smol-comp", "smol-native-tls-comp", "smol-rustls-comp"}

theirs = tomllib.loads(pathlib.Path(sys.argv[1]).read_text())["features"]
ours_path = pathlib.Path(__file__).resolve().parent.parent / "pool-redis" / "Cargo.toml"
ours = tomllib.loads(ours_path.read_text())["features"]

def redis_features(deps):
    return sorted(d for d in deps if d.startswith("redis/"))

problems = []
for name, deps in sorted(theirs.items()):
    if name in NOT_YET:
        continue
    if name not in ours:
        problems.append(f"feature `{name}` is missing")
    elif name not in REFUSED and redis_features(deps) and \
            not set(redis_features(deps)) <= set(ours[name]) | {
                f"redis/{f}" for f in ours[name] if not f.startswith(("redis/", "dep:"))}:
        problems.append(
            f"feature `{name}` switches on {redis_features(deps)} in deadpool-redis, "
            f"{ours[name]} here")
for p in problems:
    print(f"check-features: {p}", file=sys.stderr)
checked = len(set(theirs) - NOT_YET)
print(f"check-features: {checked - len(problems)} of {checked} deadpool-redis features match "
      f"({len(NOT_YET)} not built yet: {', '.join(sorted(NOT_YET))})")
sys.exit(1 if problems else 0)
