"""What the aftercare tests share: a post published on the school's Facebook Page, with the DSL and
the headteacher reachable by email."""

import pytest

from moderation.publishing import services as publishing


@pytest.fixture
def post(approved_draft, approver, dsl, head):
    for user in (dsl, head):
        user.email = f"{user.username}@aycliffe.kent.sch.uk"
        user.save()
    return publishing.publish(approved_draft, approver)
