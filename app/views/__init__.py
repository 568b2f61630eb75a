"""FAB screens: thin views over ``renewal_reminder.renewals``; one module per screen family."""

from pathlib import Path

#: The addon's templates, given to every view's blueprint so they are found in any host app
#: (a host's Flask app only searches its own template folder).
TEMPLATE_FOLDER = str(Path(__file__).resolve().parent.parent / "templates")
