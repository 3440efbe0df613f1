"""curriculum.toml: malformed manifests are refused with a message that says where."""

from __future__ import annotations

import re

import pytest

from learn import manifest


def write(tmp_path, text):
    path = tmp_path / "curriculum.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[stage]\n", "curriculum.toml:"),
        ('[[stage]]\nid = "stage2"\npackage = "p"\ntitle = "t"\nstatus = "coming"\n', "id should be 'stage1'"),
        ('[[stage]]\nid = "stage1"\ntitle = "t"\n', "missing key 'package'"),
        ('[[stage]]\nid = "stage1"\npackage = "p"\ntitle = "t"\n', "a ready stage needs a lesson, files and checks"),
        ('[[stage]]\nid = "stage1"\npackage = "p"\ntitle = "t"\nstatus = "soon"\n', "status must be"),
    ],
)
def test_bad_manifest_is_refused(tmp_path, text, words):
    with pytest.raises(manifest.ManifestError, match=words):
        manifest.load(write(tmp_path, text))


def test_stage_names_on_the_command_line():
    course = manifest.load()
    assert manifest.find("3", course).package == "stage3_attention"
    assert manifest.find("Stage3", course).id == "stage3"
    assert manifest.find("stage3_attention", course).id == "stage3"
    with pytest.raises(manifest.UnknownStage, match="choose one of stage1"):
        manifest.find("attention", course)


def _plain(text: str) -> str:
    return text.replace("`", "").casefold()


def test_every_check_points_to_a_section_of_its_lesson():
    """A check's idea, "§N Title: ...", names a section its lesson has: ## §N, whose heading holds Title."""
    wrong = []
    for stage in (s for s in manifest.load() if s.ready):
        headings = dict(re.findall(r"^## §(\d+) (.+)$", stage.lesson_path.read_text(encoding="utf-8"), re.M))
        for check in stage.checks:
            number, _, rest = check.idea.removeprefix("§").partition(" ")
            title = rest.split(":")[0]
            if _plain(title) not in _plain(headings.get(number, "")):
                wrong.append(f"{stage.id} {check.name}: {check.idea!r}, but §{number} is {headings.get(number)!r}")
    assert not wrong, "\n".join(wrong)
