"""An in-tree PEP 517 build backend for the coffer package: stdlib only.

``pip install ./clients/python`` must work on machines that reach no package
index. A backend named in ``requires`` (setuptools, hatchling, flit) would be
downloaded into pip's isolated build environment first; this one ships with
the source (``backend-path``) and needs nothing. It builds a pure-Python
wheel of the ``coffer`` package, an sdist, and an editable wheel (PEP 660).
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "coffer"
# A fixed time for every archive member, so the same source builds the same bytes.
EPOCH = (2020, 1, 1, 0, 0, 0)


def _project() -> Dict[str, Any]:
    """pyproject.toml's [project] table: tomllib where there is one (3.11+), else its plain `key = "value"` lines."""
    path = os.path.join(ROOT, "pyproject.toml")
    try:
        import tomllib
    except ImportError:  # Python 3.9 and 3.10: the fields this backend reads are plain strings
        with open(path, encoding="utf-8") as file:
            text = file.read()
        table = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        if not table:
            raise RuntimeError("pyproject.toml has no [project] table")
        return {key: value for key, value in re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"\s*$', table.group(1), re.M)}
    with open(path, "rb") as file:
        return tomllib.load(file)["project"]


def _names() -> Tuple[str, str, str]:
    project = _project()
    distribution = re.sub(r"[-_.]+", "_", project["name"]).lower()
    return project["name"], distribution, project["version"]


def _metadata() -> bytes:
    project = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3.9')}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _package_files() -> List[Tuple[str, bytes]]:
    """(archive path, bytes) of every module and data file of the package, sorted."""
    files = []
    source = os.path.join(ROOT, PACKAGE)
    for name in sorted(os.listdir(source)):
        if name.endswith(".py") or name == "py.typed":
            with open(os.path.join(source, name), "rb") as file:
                files.append((f"{PACKAGE}/{name}", file.read()))
    return files


def _write_wheel(directory: str, contents: List[Tuple[str, bytes]]) -> str:
    _, distribution, version = _names()
    dist_info = f"{distribution}-{version}.dist-info"
    wheel = b"Wheel-Version: 1.0\nGenerator: coffer_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries = contents + [(f"{dist_info}/METADATA", _metadata()), (f"{dist_info}/WHEEL", wheel)]
    record = io.StringIO()
    for path, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        record.write(f"{path},sha256={digest},{len(data)}\n")
    record.write(f"{dist_info}/RECORD,,\n")
    entries.append((f"{dist_info}/RECORD", record.getvalue().encode("utf-8")))
    filename = f"{distribution}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries:
            info = zipfile.ZipInfo(path, EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return filename


# PEP 517 and PEP 660 hooks.


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None, metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory, _package_files())


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None, metadata_directory: Optional[str] = None) -> str:
    """A wheel holding only a .pth file that puts this source directory on sys.path."""
    _, distribution, _ = _names()
    return _write_wheel(wheel_directory, [(f"_{distribution}_editable.pth", (ROOT + "\n").encode("utf-8"))])


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    _, distribution, version = _names()
    base = f"{distribution}-{version}"
    members = [("pyproject.toml", None), ("build_backend/coffer_build.py", None)] + [(path, data) for path, data in _package_files()]
    members.append(("PKG-INFO", _metadata()))
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, data in members:
            if data is None:
                with open(os.path.join(ROOT, path), "rb") as file:
                    data = file.read()
            info = tarfile.TarInfo(f"{base}/{path}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return filename
