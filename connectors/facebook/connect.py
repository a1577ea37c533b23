"""Connecting the school's Facebook Page: the steps in the platform's own order.

1. A person with a role on the Page logs in to the school's Facebook app and gets a short-lived
   user token (Graph API Explorer, or the app's login) with the Page permissions.
2. It is exchanged for a long-lived user token (`fb_exchange_token`), with the app's id and secret.
3. The Page token is read from `/{page-id}?fields=access_token`; it does not expire, but dies when
   the password changes, the role is lost or the app is removed (error 190).
Only the Page token is stored, encrypted.
"""

import facebook
import requests

from connectors import services
from connectors.base import ConnectorError
from connectors.facebook import client

# publish_video: Meta's Video API pages ask for it "if publishing a video".
PERMISSIONS = ("pages_manage_posts", "pages_read_engagement", "pages_manage_engagement", "pages_read_user_engagement", "pages_show_list",
               "publish_video")


def _ask(what, call):
    try:
        return call()
    except facebook.GraphAPIError as error:
        raise ConnectorError(f"Facebook refused to {what}: {error.message}") from error
    except (requests.RequestException, KeyError) as error:
        raise ConnectorError(f"Facebook could not be reached to {what} ({error.__class__.__name__}). Nothing was changed.") from error


def connect(channel, *, app_id: str, app_secret: str, user_token: str, page_id: str = "", app_is_live: bool = False, by):
    """app_is_live: the person connecting has seen in the App Dashboard that the app is Live. Meta
    documents no Graph API field for an app's mode (the Application reference lists none; the
    App Modes page describes it as set in the dashboard), so it is their word, kept with the
    connection and shown on the channel's page."""
    if not (app_id and app_secret and user_token):
        raise ConnectorError("The app id, the app secret and a user token are all needed.")
    long_lived = _ask("exchange the user token for a long-lived one", lambda: client.graph(user_token).extend_access_token(app_id, app_secret))["access_token"]
    user_api = client.graph(long_lived)
    page_id = page_id or channel.platform_account_id
    if not page_id:
        pages = _ask("list the Pages this account manages", lambda: user_api.get_connections("me", "accounts", fields="id,name"))["data"]
        if len(pages) != 1:
            names = ", ".join(f"{p['name']} ({p['id']})" for p in pages) or "none"
            raise ConnectorError(f"Say which Page to connect (--page-id): this account manages {names}.")
        page_id = pages[0]["id"]
    page = _ask("give the Page's token", lambda: user_api.get_object(page_id, fields="id,name,access_token"))
    if "access_token" not in page:
        raise ConnectorError(f"Facebook gave no Page token for {page_id}: the account needs a role on the Page and the permissions {', '.join(PERMISSIONS)}.")
    # Prove the Page token works before storing it.
    _ask("accept the Page's token", lambda: client.graph(page["access_token"]).get_object(page_id, fields="id,name"))
    return services.save_connection(
        channel, platform="facebook", account_id=page["id"], account_name=page.get("name", ""),
        # The long-lived user token uploads videos (the Resumable Upload API takes a user token).
        credentials={"page_token": page["access_token"], "app_id": app_id, "user_token": long_lived, "app_live": bool(app_is_live)}, by=by,
    )
