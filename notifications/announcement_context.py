"""Template context of announcements: the banners the signed-in user has not dismissed."""


def announcements(request) -> dict:
    return {}
