"""python manage.py check_connections [--all]

Asks each platform whether the channel's stored token still works (the worker does this daily).
A channel whose token is dead is marked "reconnect needed" and the headteacher is emailed.
Exits 1 when any channel needs reconnecting.
"""


from config.school.commands import SchoolCommand
from connectors import services
from connectors.models import Connection


class Command(SchoolCommand):
    help = "Check every platform connection now."

    def handle(self, *args, **options):
        broken = 0
        for connection in Connection.objects.select_related("channel").order_by("channel__name"):
            connection = services.check_connection(connection.channel)
            line = f"{connection.channel}: {connection.get_status_display()}"
            if connection.problem:
                line += f" - {connection.problem}"
            self.stdout.write(line)
            broken += connection.status == Connection.Status.RECONNECT_NEEDED
        if not Connection.objects.exists():
            self.stdout.write("No channel is connected to a platform: posts go to the local outbox.")
        if broken:
            raise SystemExit(1)
