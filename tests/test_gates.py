"""The pipeline is the policy map: one gate per row, each failing closed."""

import re
from pathlib import Path

import pytest

from moderation import gates, services
from moderation.gates.base import Gate
from tests.conftest import link_draft

POLICY_MAP = Path(__file__).resolve().parents[2] / "shared" / "policy" / "policy-map.md"


def policy_map_gate_ids():
    if not POLICY_MAP.exists():
        pytest.skip("../shared/policy/policy-map.md is not beside the project")
    return re.findall(r"^\| `([a-z-]+)` \|", POLICY_MAP.read_text(), flags=re.MULTILINE)


def test_the_pipeline_has_every_gate_of_the_policy_map_in_its_order():
    assert [gate.id for gate in gates.PIPELINE] == policy_map_gate_ids()


def test_every_gate_states_the_clause_it_enforces():
    for gate in gates.PIPELINE:
        assert gate.clause.strip(), gate.id
        assert re.match(r"(Section )?\d", gate.clause), (gate.id, gate.clause)


def test_each_built_gate_lives_in_a_module_named_by_its_id():
    for gate in gates.PIPELINE:
        if gate.id in gates.NOT_YET_AVAILABLE:
            continue
        assert type(gate).__module__ == "moderation.gates." + gate.id.replace("-", "_")


def test_gates_not_yet_built_fail_closed_on_media_and_text(office, facebook, tmp_path):
    from PIL import Image

    from django.core.files.uploadedfile import SimpleUploadedFile

    draft = link_draft(office, facebook, text="Our harvest festival")
    buffer = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), "green").save(buffer)
    services.add_media(draft, office, SimpleUploadedFile("photo.png", buffer.read_bytes()), source="Mrs Patel", rights="school", alt_text="A field")
    run = services.submit(draft, office)
    statuses = {r.gate_id: r.status for r in run.results.all()}
    for gate_id in gates.NOT_YET_AVAILABLE:
        assert statuses[gate_id] == "unavailable"
    assert not run.passed


def test_gates_not_yet_built_have_nothing_to_check_on_a_link_only_post(office, facebook):
    run = services.submit(link_draft(office, facebook), office)
    statuses = {r.gate_id: r.status for r in run.results.all()}
    assert all(statuses[gate_id] == "pass" for gate_id in gates.NOT_YET_AVAILABLE)


class Exploding(Gate):
    """Test: a gate that cannot run."""

    id = "exploding"

    def check(self, ctx):
        raise OSError("model file missing")


def test_a_gate_that_cannot_run_fails_closed_and_says_why(office, facebook, monkeypatch):
    monkeypatch.setattr(services, "PIPELINE", [*gates.PIPELINE, Exploding()])
    run = services.submit(link_draft(office, facebook), office)
    result = run.results.get(gate_id="exploding")
    assert result.status == "fail"
    assert "could not run" in result.message and "model file missing" in result.message
    assert not run.passed


def test_a_media_file_that_cannot_be_read_fails_every_gate_with_the_reason(office, facebook, tmp_path):
    from PIL import Image

    from django.core.files.uploadedfile import SimpleUploadedFile

    draft = link_draft(office, facebook)
    path = tmp_path / "p.png"
    Image.new("RGB", (20, 20)).save(path)
    media = services.add_media(draft, office, SimpleUploadedFile("p.png", path.read_bytes()), source="Staff", rights="school", alt_text="x")
    media.path.unlink()
    run = services.submit(draft, office)
    assert not run.passed
    assert all(r.status == "fail" and "cannot be read" in r.message for r in run.results.all())


def test_clear_objective_needs_an_objective_and_an_outcome_in_words(office, facebook):
    run = services.submit(link_draft(office, facebook, objective="", intended_outcome="ok"), office)
    message = run.results.get(gate_id="clear-objective").message
    assert "objective" in message and "intended outcome" in message


def test_inclusive_mirror_needs_a_description_of_every_photo(office, facebook, tmp_path):
    from PIL import Image

    from django.core.files.uploadedfile import SimpleUploadedFile

    draft = link_draft(office, facebook)
    path = tmp_path / "p.png"
    Image.new("RGB", (20, 20)).save(path)
    services.add_media(draft, office, SimpleUploadedFile("class.png", path.read_bytes()), source="Staff", rights="school")
    run = services.submit(draft, office)
    result = run.results.get(gate_id="inclusive-mirror")
    assert result.status == "fail" and "class.png" in result.message
