"""python manage.py connect_facebook --channel NAME --by USERNAME [--page-id ID]

Connects a channel to the school's Facebook Page. Asks for the app secret and a short-lived user
token without echoing them (or reads FACEBOOK_APP_SECRET / --user-token-file), exchanges the token
for a long-lived one, reads the Page token and stores it encrypted.
"""

import getpass

from django.conf import settings
from django.core.management.base import CommandError

from config.school.commands import SchoolCommand
from connectors.base import ConnectorError
from connectors.facebook import connect
from connectors.management.commands._common import channel_named, headteacher


class Command(SchoolCommand):
    help = "Connect a channel to the school's Facebook Page (the headteacher does this)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, help="the channel's name in the product")
        parser.add_argument("--by", required=True, help="the headteacher's username, for the audit log")
        parser.add_argument("--page-id", default="", help="the Page's id (asked for when the account manages several)")
        parser.add_argument("--app-id", default="", help="the Facebook app's id (default: FACEBOOK_APP_ID)")
        parser.add_argument("--user-token-file", default="", help="a file holding the short-lived user token (default: asked for)")
        parser.add_argument("--app-is-live", action="store_true",
                            help="the app is Live (App Dashboard, App Mode): until it is, posts are visible only to the app's admins")

    def handle(self, *args, channel, by, page_id, app_id, user_token_file, **options):
        target, user = channel_named(channel, "facebook"), headteacher(by)
        app_id = app_id or settings.FACEBOOK_APP_ID or input("Facebook app id: ").strip()
        app_secret = settings.FACEBOOK_APP_SECRET or getpass.getpass("Facebook app secret (not shown): ").strip()
        if user_token_file:
            try:
                with open(user_token_file, encoding="utf-8") as handle:
                    token = handle.read().strip()
            except OSError as error:
                raise CommandError(f"The token file could not be read: {error}") from error
        else:
            token = getpass.getpass("Short-lived user token from the app's login or Graph API Explorer (not shown): ").strip()
        try:
            connection = connect.connect(target, app_id=app_id, app_secret=app_secret, user_token=token, page_id=page_id,
                                         app_is_live=options["app_is_live"], by=user)
        except ConnectorError as error:
            raise CommandError(f"Not connected: {error}") from error
        self.stdout.write(self.style.SUCCESS(
            f"'{target}' is connected to the Facebook Page '{connection.account_name}' ({connection.account_id}). Its token is stored encrypted."
        ))
        if not options["app_is_live"]:
            self.stdout.write(self.style.WARNING(
                "The app was not said to be Live: until it is switched to Live in the App Dashboard (App Mode), "
                "the Page's posts are visible only to the app's admins and developers. Connect again with --app-is-live once it is."
            ))
