"""What the register tells the rest of the product, without knowing who listens (moderation
does: it holds the drafts and the texts)."""

from django.dispatch import Signal

# A pupil's photo consent was withdrawn or lapsed: approved drafts showing them must be checked
# again. Sent with pupil= and by= (the user, or None for the system).
photo_consent_lost = Signal()

# A pupil's record is being erased, inside its transaction: each receiver takes the pupil's name
# out of the texts it keeps and returns how many it changed. Sent with pupil=.
pupil_erased = Signal()
