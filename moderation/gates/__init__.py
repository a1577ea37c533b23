"""The pipeline: every gate of the policy map, in the map's order.

A draft publishes only when every gate here passes on the exact content being published.
"""

from moderation.gates import (
    attestations,
    authorised_author,
    channel_protected,
    channel_risk_assessed,
    clear_objective,
    community_informed,
    image_consent,
    inclusive_mirror,
    no_location_metadata,
    no_personal_data,
    official_channel,
    respectful_language,
    second_colleague,
)

PIPELINE = [
    official_channel.gate,
    channel_risk_assessed.gate,
    channel_protected.gate,
    community_informed.gate,
    clear_objective.gate,
    authorised_author.gate,
    image_consent.gate,
    no_location_metadata.gate,
    no_personal_data.gate,
    respectful_language.gate,
    second_colleague.gate,
    attestations.gate,
    inclusive_mirror.gate,
]
