"""Pin the Python wheels the Flatpak build installs offline, with their sha256.

``python packaging/flatpak/generate_sources.py [--download DIR]`` resolves the runtime
dependencies in pyproject.toml for the Flatpak runtime's Python (CPython 3.12, x86_64 and
aarch64 manylinux wheels) with ``pip download``, and rewrites the ``python3-deps`` module of
``org.tootbell.Tootbell.json``: one ``file`` source per wheel, named and hashed. The wheels
themselves are never committed: the build reads them from ``packaging/flatpak/wheels/``, which
this script fills (``--download``) and flatpak-builder checks against the pinned hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = HERE / "org.tootbell.Tootbell.json"
PYTHON_VERSION = "3.12"  # the Python of the org.freedesktop.Platform runtime in the manifest
# The runtime's glibc is 2.40: every manylinux tag up to 2.39 fits.
GLIBC_TAGS = ("2_39", "2_34", "2_31", "2_28", "2_17")
ARCHES = {
    arch: [f"manylinux_{tag}_{arch}" for tag in GLIBC_TAGS] + [f"manylinux2014_{arch}"]
    for arch in ("x86_64", "aarch64")
}
BUILD_TOOLS = ["setuptools>=68", "wheel"]  # to build Tootbell itself without the network
# Published as source only (pure Python); its one dependency, cryptography, comes as a wheel.
SDIST_ONLY = {"http_ece"}


def _name(req: str) -> str:
    return req.replace("-", "_").split(">", 1)[0].split("<", 1)[0].split("=", 1)[0].strip()


def runtime_requirements() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    reqs: list[str] = []
    for req in data["project"]["dependencies"]:
        text = str(req).split("#", 1)[0].strip()
        # The Flatpak is Linux: keep Linux-only markers' requirements, drop the marker.
        reqs.append(text.split(";", 1)[0].strip())
    return reqs


def download(dest: Path, arch: str) -> list[Path]:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "-d",
        str(dest),
    ]
    for tag in ARCHES[arch]:
        cmd += ["--platform", tag]
    reqs = runtime_requirements()
    binary = [r for r in reqs if _name(r).lower() not in SDIST_ONLY]
    source = [r for r in reqs if _name(r).lower() in SDIST_ONLY]
    cmd += ["--platform", "any", *binary, *BUILD_TOOLS]
    subprocess.run(cmd, check=True)
    if source:
        sdists = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        sdists += ["--no-binary=:all:", "-d", str(dest), *source]
        subprocess.run(sdists, check=True)
    return sorted(p for p in dest.iterdir() if p.name.endswith((".whl", ".tar.gz", ".zip")))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel_arch(name: str) -> str | None:
    """``x86_64``/``aarch64`` for a platform wheel, None for a pure one."""
    for arch in ARCHES:
        if name.endswith(f"_{arch}.whl"):
            return arch
    return None


def sources(wheels: dict[str, Path]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for name, path in sorted(wheels.items()):
        entry: dict[str, object] = {
            "type": "file",
            "path": f"wheels/{name}",
            "dest": "wheels",
            "sha256": sha256(path),
        }
        arch = wheel_arch(name)
        if arch is not None:
            entry["only-arches"] = [arch]
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--download", action="store_true", help="also keep the wheels in packaging/flatpak/wheels"
    )
    args = parser.parse_args(argv)
    wheels: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHES:
            for path in download(Path(tmp), arch):
                wheels[path.name] = path
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
        for module in manifest["modules"]:
            if isinstance(module, dict) and module.get("name") == "python3-deps":
                module["sources"] = sources(wheels)
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if args.download:
            keep = HERE / "wheels"
            keep.mkdir(exist_ok=True)
            for name, path in wheels.items():
                (keep / name).write_bytes(path.read_bytes())
    print(f"Pinned {len(wheels)} wheels in {MANIFEST.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
