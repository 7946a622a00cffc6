"""Vendors the console's front-end libraries from the npm registry's published tarballs.

Each library is pinned to a version and to the registry's own sha512 integrity of its
tarball: a tarball that does not match is refused and nothing is written. The built files
the console serves and the licence of each are copied into `static/vendor/<name>/`, and
`static/vendor/VERSIONS.json` records what was taken from where (with each file's sha256).

    python services/console/vendor.py           # fetch, check, write
    python services/console/vendor.py --check   # the committed files are what the pins give

The console needs nothing from the internet at run time: a station's police network has none.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"


@dataclass(frozen=True)
class Library:
    name: str  # the npm package
    version: str
    integrity: str  # the registry's `dist.integrity` of the tarball
    files: dict[str, str]  # path in the package -> path under static/vendor/<folder>/
    folder: str

    @property
    def tarball(self) -> str:
        base = self.name.split("/")[-1]
        return f"{REGISTRY}/{self.name}/-/{base}-{self.version}.tgz"


LIBRARIES = (
    Library(
        "echarts", "6.1.0",
        "sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
        {"dist/echarts.min.js": "echarts.min.js", "LICENSE": "LICENSE", "NOTICE": "NOTICE"}, "echarts"),
    Library(
        "leaflet", "1.9.4",
        "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
        {"dist/leaflet.js": "leaflet.js", "dist/leaflet.css": "leaflet.css", "LICENSE": "LICENSE",
         "dist/images/marker-icon.png": "images/marker-icon.png",
         "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
         "dist/images/marker-shadow.png": "images/marker-shadow.png",
         "dist/images/layers.png": "images/layers.png", "dist/images/layers-2x.png": "images/layers-2x.png"},
        "leaflet"),
    Library(
        "htmx.org", "2.0.11",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "LICENSE"}, "htmx"),
    Library(
        "htmx-ext-sse", "2.2.4",
        "sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ==",
        {"dist/sse.min.js": "sse.min.js", "LICENSE": "LICENSE"}, "htmx-ext-sse"),
)


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - the npm registry, https
        return resp.read()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def extract(lib: Library, data: bytes) -> dict[str, bytes]:
    """The library's files out of its tarball, after the tarball's integrity is checked."""
    got = _integrity(data)
    if got != lib.integrity:
        raise SystemExit(f"{lib.name}@{lib.version}: the tarball's integrity is {got}, pinned {lib.integrity}")
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if m.isfile() and "/" in m.name}
        for source, target in lib.files.items():
            if source not in members:
                raise SystemExit(f"{lib.name}@{lib.version}: {source} is not in the tarball")
            handle = tar.extractfile(members[source])
            assert handle is not None
            out[target] = handle.read()
    return out


def manifest(written: dict[str, dict[str, bytes]]) -> dict:
    return {
        lib.folder: {
            "package": lib.name, "version": lib.version, "tarball": lib.tarball, "integrity": lib.integrity,
            "files": {name: "sha256-" + hashlib.sha256(data).hexdigest()
                      for name, data in sorted(written[lib.folder].items())},
        }
        for lib in LIBRARIES
    }


def check() -> int:
    """The committed files are those VERSIONS.json names, with their checksums, for the pinned versions."""
    recorded = json.loads((VENDOR / "VERSIONS.json").read_text(encoding="utf-8"))
    problems = []
    for lib in LIBRARIES:
        entry = recorded.get(lib.folder, {})
        if (entry.get("version"), entry.get("integrity")) != (lib.version, lib.integrity):
            problems.append(f"{lib.folder}: VERSIONS.json is not the pinned {lib.name}@{lib.version}")
            continue
        for name, digest in entry["files"].items():
            path = VENDOR / lib.folder / name
            if not path.exists() or "sha256-" + hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                problems.append(f"{lib.folder}/{name} differs from VERSIONS.json")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the committed files offline")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    written: dict[str, dict[str, bytes]] = {}
    for lib in LIBRARIES:
        written[lib.folder] = extract(lib, _download(lib.tarball))
    for folder, files in written.items():
        for name, data in files.items():
            path = VENDOR / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    (VENDOR / "VERSIONS.json").write_text(json.dumps(manifest(written), indent=2) + "\n", encoding="utf-8")
    print("\n".join(f"{lib.name}@{lib.version} -> static/vendor/{lib.folder}/" for lib in LIBRARIES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
