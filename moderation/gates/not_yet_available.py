"""What the gates cannot check yet. They fail closed on it."""


def videos_waiting(content, what: str) -> str:
    """TEMPORARY, FAIL CLOSED: checks of videos are not built yet. A message when the draft has one."""
    videos = [item.original_name for item in content.media if item.kind == "video"]
    if not videos:
        return ""
    return f"Checking {what} is not yet available, so a draft with a video ({', '.join(videos)}) cannot be published yet."
