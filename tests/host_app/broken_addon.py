"""An addon whose set-up fails, to prove the failure stops start-up instead of being logged."""

from renewal_reminder.addon import RenewalReminderManager


class BrokenManager(RenewalReminderManager):
    def _register_views(self):
        raise RuntimeError("boom while registering views")
