"""What the approver confirms in words before approving (policy section 5, `attestations`)."""

ATTESTATIONS = [
    (
        "professional",
        "This post is professional, responsible, credible, fair and honest, and I have considered "
        "how it could be perceived or shared.",
    ),
    (
        "lawful",
        "This post is within the law: no libel or defamation, nothing confidential, and no breach of "
        "copyright, data protection or equalities law.",
    ),
    (
        "authorised",
        "This post discloses no information and makes no commitment on behalf of the school that "
        "has not been authorised.",
    ),
]


def as_dict() -> dict[str, str]:
    return dict(ATTESTATIONS)
