"""The pipeline is the policy map: one gate per row, each failing closed."""

import re
from pathlib import Path

import pytest

from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.gates.base import Gate
from tests.conftest import link_draft

POLICY_MAP = Path(__file__).resolve().parents[3] / "shared" / "policy" / "policy-map.md"


def policy_map_gate_ids():
    if not POLICY_MAP.exists():
        pytest.skip("../shared/policy/policy-map.md is not beside the project")
    return re.findall(r"^\| `([a-z-]+)` \|", POLICY_MAP.read_text(), flags=re.MULTILINE)


def test_the_pipeline_has_every_gate_of_the_policy_map_in_its_order():
    assert [gate.id for gate in pipeline.PIPELINE] == policy_map_gate_ids()


def test_every_gate_states_the_clause_it_enforces():
    for gate in pipeline.PIPELINE:
        assert gate.clause.strip(), gate.id
        assert re.match(r"(Section )?\d", gate.clause), (gate.id, gate.clause)


def test_each_gate_lives_in_a_module_named_by_its_id():
    for gate in pipeline.PIPELINE:
        assert type(gate).__module__ == "moderation.gates." + gate.id.replace("-", "_")


class Exploding(Gate):
    """Test: a gate that cannot run."""

    id = "exploding"

    def check(self, ctx):
        raise OSError("model file missing")


def test_a_gate_that_cannot_run_fails_closed_and_says_why(office, facebook, monkeypatch):
    monkeypatch.setattr(pipeline, "PIPELINE", [*pipeline.PIPELINE, Exploding()])
    run = drafting.submit(link_draft(office, facebook), office)
    result = run.results.get(gate_id="exploding")
    assert result.status == "fail"
    assert "could not run" in result.message and "model file missing" in result.message
    assert not run.passed


def test_a_media_file_that_cannot_be_read_fails_every_gate_with_the_reason(office, facebook, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    draft = link_draft(office, facebook)
    path = tmp_path / "p.png"
    Image.new("RGB", (20, 20)).save(path)
    media = drafting.add_media(draft, office, SimpleUploadedFile("p.png", path.read_bytes()), source="Staff", rights="school", alt_text="x")
    media.path.unlink()
    run = drafting.submit(draft, office)
    assert not run.passed
    assert all(r.status == "fail" and "cannot be read" in r.message for r in run.results.all())


def test_clear_objective_needs_an_objective_and_an_outcome_in_words(office, facebook):
    run = drafting.submit(link_draft(office, facebook, objective="", intended_outcome="ok"), office)
    message = run.results.get(gate_id="clear-objective").message
    assert "objective" in message and "intended outcome" in message


def test_inclusive_mirror_needs_a_description_of_every_photo(office, facebook, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    draft = link_draft(office, facebook)
    path = tmp_path / "p.png"
    Image.new("RGB", (20, 20)).save(path)
    drafting.add_media(draft, office, SimpleUploadedFile("class.png", path.read_bytes()), source="Staff", rights="school")
    run = drafting.submit(draft, office)
    result = run.results.get(gate_id="inclusive-mirror")
    assert result.status == "fail" and "class.png" in result.message
