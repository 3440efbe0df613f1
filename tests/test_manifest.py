"""curriculum.toml: malformed manifests are refused with a message that says where."""

from __future__ import annotations

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
