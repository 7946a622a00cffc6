"""A real container engine for the deploy tests: podman with runc, and a local stand-in base image.

No image registry is reachable here, so `python:3.11-slim` is made locally with debootstrap and
imported under the upstream name: the Dockerfile builds unchanged and podman never pulls. The base
is kept between runs (`podman image exists`); only the first run pays for debootstrap (~30 s).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "docker.io/library/python:3.11-slim"
IMAGE = "localhost/fengqiao:test"
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
# crun fails on cgroups in hybrid mode here, and podman's default ulimits exceed the sandbox's.
CONTAINERS_CONF_TEXT = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
"""


def unavailable() -> str | None:
    """Why podman cannot be used here, or None when it can."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs podman, runc and debootstrap with apt-get)"
    if not CONTAINERS_CONF.exists():
        try:
            CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
            CONTAINERS_CONF.write_text(CONTAINERS_CONF_TEXT)
        except OSError as error:
            return f"cannot write {CONTAINERS_CONF}: {error}"
    probe = subprocess.run(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"podman does not run here: {probe.stderr.strip()[-300:]}"
    return None


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} … failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources)."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", source.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if source.exists():
            match = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s", source.read_text(), re.MULTILINE)
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


def ensure_base_image() -> float:
    """Make the stand-in for python:3.11-slim unless it exists; the seconds it took (0 when cached)."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return 0.0
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (apt-get install -y debootstrap)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fq-base-") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
             "bookworm", str(root), debian_mirror()],
            check=True, capture_output=True, timeout=900)
        # Behave like the upstream image: pip may install into the system Python, `python` and `pip` on PATH.
        (root / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
        for name, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
            link = root / "usr/local/bin" / name
            link.unlink(missing_ok=True)
            link.symlink_to(target)
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True,
                       capture_output=True, timeout=600)
        tar.wait()
    return time.monotonic() - started


def build_image(tag: str = IMAGE) -> float:
    """Build deploy/Dockerfile from the repository root; the seconds it took.

    The image this tag named before is removed when the build replaces it, so that repeated
    runs on one machine do not pile up untagged images.
    """
    before = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
    started = time.monotonic()
    # docker format: the OCI image format has no HEALTHCHECK
    podman("build", "--format", "docker", "--network", "host", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
           "-f", str(ROOT / "deploy/Dockerfile"), "-t", tag, str(ROOT), timeout=1200)
    took = time.monotonic() - started
    after = podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    if before and before != after:
        podman("rmi", before, check=False)  # still used by a container: it stays
    return took


def image_size_mb(tag: str = IMAGE) -> float:
    return int(podman("image", "inspect", tag, "--format", "{{.Size}}").stdout.strip()) / 1e6

