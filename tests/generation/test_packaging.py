from __future__ import annotations

import io
import zipfile

import pytest

from generation.packaging import build_zip

FILES = {"src/a/main.py": "#!/usr/bin/env python\nprint('hi')\n", "README.md": "# Ünïcode\n"}


def test_zip_puts_sorted_files_under_root_with_their_content():
    archive = zipfile.ZipFile(io.BytesIO(build_zip(files=FILES, root="my_crew")))
    assert archive.namelist() == ["my_crew/README.md", "my_crew/src/a/main.py"]
    assert archive.read("my_crew/README.md").decode() == "# Ünïcode\n"
    assert archive.testzip() is None


def test_zip_is_byte_identical_for_the_same_files_in_any_order():
    reordered = dict(reversed(list(FILES.items())))
    assert build_zip(files=FILES, root="r") == build_zip(files=reordered, root="r")


def test_zip_entries_have_fixed_timestamps_and_permissions():
    archive = zipfile.ZipFile(io.BytesIO(build_zip(files=FILES, root="r")))
    infos = {i.filename: i for i in archive.infolist()}
    assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert (infos["r/src/a/main.py"].external_attr >> 16) & 0o777 == 0o755
    assert (infos["r/README.md"].external_attr >> 16) & 0o777 == 0o644


@pytest.mark.parametrize("path", ["/etc/passwd", "../evil", "a/../../b", "a//b", "a\\b", ""])
def test_unsafe_paths_are_refused(path):
    with pytest.raises(ValueError):
        build_zip(files={path: "x"}, root="r")


@pytest.mark.parametrize("root", ["", "..", "a/b", "../x", " spaced"])
def test_unsafe_roots_are_refused(root):
    with pytest.raises(ValueError):
        build_zip(files=FILES, root=root)
