#!/usr/bin/env python3
"""A level-1 intake written outside demail-testbed, from docs/sut.md alone.

It receives De-Mail pushed into its SMTP listener (STARTTLS with the certificate the test-bed
writes into {pki}), keeps every message on disk before it answers 250, and answers each
normal De-Mail to its Funktionspostfach at once with an "Empfangsbescheinigung" by SMTP
submission (STARTTLS + AUTH) to the test-bed's provider. Confirmations and Meldungen are
kept, not answered. Python 3.11 standard library plus aiosmtpd.

Started by the test-bed (see target.toml beside this file); everything it needs comes from the
DEMAIL_TESTBED_* environment variables and two of its own: INTAKE_MAILBOX, INTAKE_PASSWORD.
"""

import asyncio
import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import ssl
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

MAILBOX = os.environ["INTAKE_MAILBOX"].lower()
PASSWORD = os.environ["INTAKE_PASSWORD"]
PKI = Path(os.environ["DEMAIL_TESTBED_PKI"])
RUN = Path(os.environ["DEMAIL_TESTBED_RUN"])
READY = Path(os.environ["DEMAIL_TESTBED_READY"])
SUB_HOST, SUB_PORT = os.environ["DEMAIL_TESTBED_SUBMISSION"].rsplit(":", 1)
STORE = RUN / "python-intake"


def reply(original: email.message.Message) -> None:
    """Empfangsbescheinigung to the sender, In-Reply-To the original (docs/sut.md, Sending)."""
    msg = EmailMessage()
    msg["From"] = MAILBOX
    sender = str(original["From"])
    msg["To"] = sender
    msg["Subject"] = "Empfangsbescheinigung: " + " ".join(str(original["Subject"] or "").split())
    msg["In-Reply-To"] = str(original["Message-ID"])
    if original["X-de-mail-private-id"]:
        msg["X-de-mail-private-id"] = str(original["X-de-mail-private-id"])
    msg.set_content("Ihre Nachricht ist eingegangen.\n")
    trust = ssl.create_default_context(cafile=str(PKI / "ca.pem"))
    with smtplib.SMTP(SUB_HOST, int(SUB_PORT), timeout=30) as smtp:
        smtp.ehlo("python-intake.localhost")
        smtp.starttls(context=trust)
        smtp.ehlo("python-intake.localhost")
        smtp.login(MAILBOX, PASSWORD)
        smtp.send_message(msg, from_addr=MAILBOX, to_addrs=[original["From"].addresses[0].addr_spec])


class Handler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() != MAILBOX:
            return "550 5.1.1 no such Funktionspostfach here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        # Durable before the 250: the 250 is where responsibility passes.
        path = STORE / f"{self.count:06d}.eml"
        path.write_bytes(envelope.original_content)
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        if str(msg["X-de-mail-message-type"] or "").strip() == "normal":
            # Work a push causes is done before the 250 (docs/sut.md, Idle).
            await asyncio.to_thread(reply, msg)
        return "250 2.0.0 stored"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    STORE.mkdir(parents=True, exist_ok=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(PKI / "localhost.pem", PKI / "localhost-key.pem")
    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="python-intake.localhost",
        tls_context=tls,
        require_starttls=True,
    )
    controller.start()
    tmp = READY.with_suffix(".tmp")
    tmp.write_text(json.dumps({"push": f"127.0.0.1:{port}"}))
    tmp.rename(READY)
    print(f"python intake: SMTP 127.0.0.1:{port} for {MAILBOX}", flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"]:
            time.sleep(0.2)
    finally:
        controller.stop()
        print("python intake: stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
