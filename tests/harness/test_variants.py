"""Pipeline variants and run tags on the command line."""

from __future__ import annotations

import pytest

from harness.contract.spec import RunSpec
from harness.contract.variants import parse_pipelines, parse_tags
from harness.core.errors import EditbenchError


def test_variants_with_options_labels_and_weights():
    got = parse_pipelines("patchmatch:resolution=96,patch=9,cv2-telea,patchmatch:label=pm-b,weights=random")
    assert got == [{"name": "patchmatch", "options": {"resolution": 96, "patch": 9}}, {"name": "cv2-telea"},
                   {"name": "patchmatch", "label": "pm-b", "weights": "random"}]
    assert parse_pipelines("a:x=0.5,y=true,z=hello") == [{"name": "a", "options": {"x": 0.5, "y": True, "z": "hello"}}]
    assert [p["label"] for p in parse_pipelines("a,b:k=1", labels=["one", "two"])] == ["one", "two"]
    spec = RunSpec(suite="toy-5d", pipelines=parse_pipelines("toy-naive:label=n2,toy-naive"))
    assert [p.key for p in spec.pipelines] == ["n2", "toy-naive"]


@pytest.mark.parametrize("text,msg", [("x=1,a", "comes before any pipeline"), ("a:b", "is not KEY=VALUE"),
                                      ("a:k=1,k=2", "sets k twice"), (":k=1", "names no pipeline")])
def test_bad_variants(text, msg):
    with pytest.raises(EditbenchError, match=msg):
        parse_pipelines(text)


def test_label_count_and_tags():
    with pytest.raises(EditbenchError, match="--label gives 1 labels for 2 pipelines"):
        parse_pipelines("a,b", labels=["x"])
    assert parse_tags(["lora=v4", "gpu = h100"]) == {"lora": "v4", "gpu": "h100"}
    with pytest.raises(EditbenchError, match="is not KEY=VALUE"):
        parse_tags(["lora"])
