"""The demo's mail: a local SMTP sink, and the folder the demo outbox page reads.

``python run.py`` starts the sink when ``MAIL_SERVER`` is not set, so the demo's emails (the
scheduler's reminders, receipts, invitations) arrive where the person trying it can read them:
``instance/demo-outbox/`` as ``.eml`` files, and the Admin's "Demo outbox" page. The sink's
port is written to ``instance/demo-smtp-port``; a ``flask --app run ...`` command in the same
folder (e.g. the scheduler beside ``python run.py``) delivers there too while it runs.
"""

from __future__ import annotations

import email
import email.policy
import socket
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

OUTBOX_FOLDER = "demo-outbox"
PORT_FILE = "demo-smtp-port"
#: The outbox page lists this many of the newest emails.
PAGE_SIZE = 200


def outbox_folder(instance_dir: str | Path) -> Path:
    return Path(instance_dir) / OUTBOX_FOLDER


class _SaveToFolder:
    """aiosmtpd handler: every message accepted is one ``.eml`` file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_sink(instance_dir: str | Path):
    """Start the sink on a free loopback port; returns the running aiosmtpd ``Controller``."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        _SaveToFolder(outbox_folder(instance_dir)),
        hostname="127.0.0.1",
        port=port,
        enable_SMTPUTF8=True,
    )
    controller.start()
    (Path(instance_dir) / PORT_FILE).write_text(str(port))
    return controller


def running_sink_port(instance_dir: str | Path) -> int | None:
    """The port of a demo sink that ``python run.py`` is running for this folder, if any."""
    try:
        port = int((Path(instance_dir) / PORT_FILE).read_text().strip())
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return port
    except (OSError, ValueError):
        return None


def use_running_sink(config: dict, instance_dir: str | Path, environ) -> None:
    """Point an app without ``MAIL_SERVER`` at the demo's running sink (and say so)."""
    if environ.get("MAIL_SERVER"):
        return
    port = running_sink_port(instance_dir)
    if port is None or (config.get("MAIL_SERVER"), config.get("MAIL_PORT")) == ("127.0.0.1", port):
        return  # no sink, or already pointed at it (python run.py itself)
    config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USE_SSL=False)
    print(
        f"Emails go to the demo's outbox (the SMTP sink of python run.py on port {port}).",
        file=sys.stderr,
    )


BASE_URL_FILE = "demo-base-url"


def remember_base_url(instance_dir: str | Path, base_url: str) -> None:
    """``python run.py`` notes the address it serves, for links made by other processes."""
    (Path(instance_dir) / BASE_URL_FILE).write_text(base_url)


def use_demo_base_url(config: dict, instance_dir: str | Path, environ) -> None:
    """Links in emails made by a command beside ``python run.py`` (a confirmation request
    from the CLI) point where the demo runs, unless ``BASE_URL`` or ``PORT`` say otherwise."""
    if environ.get("BASE_URL") or environ.get("PORT"):
        return
    try:
        base_url = (Path(instance_dir) / BASE_URL_FILE).read_text().strip()
    except OSError:
        return
    if base_url.startswith(("http://", "https://")):
        config["RENEWALS_BASE_URL"] = base_url


@dataclass(frozen=True)
class OutboxEmail:
    id: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def date(self) -> str:
        return str(self.message.get("Date", ""))

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else None


def _parse(path: Path) -> OutboxEmail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return OutboxEmail(path.stem, message)


def newest(instance_dir: str | Path, limit: int = PAGE_SIZE) -> list[OutboxEmail]:
    folder = outbox_folder(instance_dir)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.name, reverse=True)[:limit]
    return [_parse(path) for path in paths]


def one(instance_dir: str | Path, email_id: str) -> OutboxEmail | None:
    """One email by id (the file's digits only: no path can be named)."""
    if not email_id.isdigit() or not email_id.isascii():
        return None
    path = outbox_folder(instance_dir) / f"{email_id}.eml"
    return _parse(path) if path.is_file() else None
