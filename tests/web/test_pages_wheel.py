"""The dashboard's templates and static files ship in the wheel (an editable install would hide
their absence), and a page renders from the unpacked wheel's templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ordersync.web.pages.render import STATIC, TEMPLATES, WEB, html

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_template_and_static_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("ordersync-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    ours = [p for folder in (TEMPLATES, STATIC) for p in folder.rglob("*") if p.is_file()]
    assert len(ours) >= 10
    missing = [str(p) for p in ours if f"ordersync/web/{p.relative_to(WEB).as_posix()}" not in shipped]
    assert missing == []
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    page = html("login.html", unpacked / "ordersync/web/templates", who=None, next="/<b>", nav="login")
    assert 'action="/login"' in page and 'value="/&lt;b&gt;"' in page
    assert (unpacked / "ordersync/web/static/vendor/uplot/LICENSE").read_text().startswith("The MIT License")
