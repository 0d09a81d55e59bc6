"""The download: a zip whose bytes depend only on the files (fixed timestamps and
permissions, sorted entries), so the same project always has the same checksum and a
redelivered task produces an identical artefact."""

from __future__ import annotations

import io
import re
import zipfile

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
ROOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def _safe_path(path: str) -> str:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(part in {"", ".", ".."} for part in parts)
        or "\x00" in path
    ):
        raise ValueError(f"unsafe path in project: {path!r}")
    return path


def build_zip(*, files: dict[str, str], root: str) -> bytes:
    """Zip ``files`` (relative path → text) under ``root/``, deterministically."""
    if not ROOT.match(root) or root in {".", ".."}:
        raise ValueError(f"unsafe zip root: {root!r}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(f"{root}/{_safe_path(path)}", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permission bits below are honoured
            mode = 0o755 if files[path].startswith("#!") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, files[path].encode("utf-8"), compresslevel=6)
    return buffer.getvalue()
