"""Run the standalone Renewal Reminder app on SQLite with demo data: ``python run.py``.

Also the ``--app`` target of the CLI: ``flask --app run <command>`` (Flask finds
``create_app`` here).
"""

from __future__ import annotations

import os

from renewal_reminder.renewals.demo import DemoRefused
from renewal_reminder.standalone import ConfigurationError, create_app, demo_secret_key

__all__ = ["create_app", "main"]


def main() -> None:
    try:
        serve()
    except (ConfigurationError, DemoRefused) as exc:
        raise SystemExit(f"Renewal Reminder cannot start: {exc}") from None


def serve() -> None:
    try:
        from config import INSTANCE_DIR, env_bool, env_int

        port = env_int("PORT", 5000)
    except ValueError as exc:  # config.SettingError: a bad environment variable
        raise ConfigurationError(str(exc)) from None
    INSTANCE_DIR.mkdir(exist_ok=True)
    # config.py has read the environment already: the demo's settings go in as overrides. The
    # key is kept in instance/secret_key, where `flask --app run ...` finds it too.
    demo_settings = {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or demo_secret_key(INSTANCE_DIR),
        "RENEWALS_DEMO_MODE": env_bool("DEMO_MODE", True),
    }
    mail_note = None
    if not os.environ.get("MAIL_SERVER"):
        # No mail server: the demo's emails go to a local sink, readable in the Demo outbox.
        from renewal_reminder import demo_mail

        sink = demo_mail.start_sink(INSTANCE_DIR)
        demo_settings.update(
            MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port, MAIL_USE_TLS=False, MAIL_USE_SSL=False
        )
        mail_note = (
            f"Emails: no MAIL_SERVER set, so they go to the demo outbox: "
            f"http://127.0.0.1:{port}/demo-outbox/ (Admin), files in "
            f"{demo_mail.outbox_folder(INSTANCE_DIR)}"
        )

    from renewal_reminder.setup import prepare_database

    app = create_app(demo_settings)
    from renewal_reminder import demo_mail

    demo_mail.remember_base_url(INSTANCE_DIR, app.config["RENEWALS_BASE_URL"])
    with app.app_context():
        logins = prepare_database(app, load_demo_data=True)
    if app.config.get("SCHEDULER_ENABLED", True):
        from renewal_reminder.scheduler import create_scheduler

        create_scheduler(app).start()
        hours = app.config["RENEWALS_REMINDER_INTERVAL_HOURS"]
        print(f"Scheduler: reminders every {hours} h.")
    print(f"\nRenewal Reminder is running on http://127.0.0.1:{port}/")
    for role, (login, password) in logins.items():
        print(f"  {role:<9} {login} / {password}")
    if mail_note:
        print(mail_note)
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
