"""python manage.py connect_youtube --channel NAME --by USERNAME --client-secrets FILE [--no-browser]

Connects a channel to the school's private YouTube channel through Google's consent page. The
OAuth client must be of the "Desktop app" type; the tokens are stored encrypted.
"""

from django.core.management.base import CommandError

from config.school.commands import SchoolCommand
from connectors.base import ConnectorError
from connectors.management.commands._common import channel_named, headteacher
from connectors.youtube import connect


class Command(SchoolCommand):
    help = "Connect a channel to the school's private YouTube channel (the headteacher does this)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, help="the channel's name in the product")
        parser.add_argument("--by", required=True, help="the headteacher's username, for the audit log")
        parser.add_argument("--client-secrets", required=True, help="the OAuth client's JSON file (Desktop app) from the Google Cloud console")
        parser.add_argument("--no-browser", action="store_true", help="print the address to open instead of opening a browser")

    def handle(self, *args, channel, by, client_secrets, no_browser, **options):
        target, user = channel_named(channel, "youtube"), headteacher(by)
        try:
            flow = connect.flow_from_file(client_secrets)
            if no_browser:
                # The flow prints its address with print(); say it here too, where scripts read.
                self.stdout.write("Waiting for Google's answer; open the address printed below.")
            info = connect.authorise(flow, open_browser=not no_browser, say=self.stdout.write)
            connection = connect.connect(target, info, by=user)
        except ConnectorError as error:
            raise CommandError(f"Not connected: {error}") from error
        self.stdout.write(self.style.SUCCESS(
            f"'{target}' is connected to the YouTube channel '{connection.account_name}' ({connection.account_id}). Its tokens are stored encrypted."
        ))
