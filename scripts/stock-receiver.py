#!/usr/bin/env python3
"""A stock SMTP receiver (Python's aiosmtpd) standing in for an intake's listener.

The provider's push must work with any SMTP server, not only with the testbed's own; this
script is one such server, used by harness/tests/push_stock.rs and usable by hand:

    python3 -m pip install aiosmtpd==1.4.6
    scripts/stock-receiver.py --cert test-pki/localhost.pem --key test-pki/localhost-key.pem \
        --out received/

It listens on 127.0.0.1 (an ephemeral port unless --port), prints "port N" on stdout when it
is ready, and writes each message it accepts to OUT/NNNNNN.eml (the bytes as received) with
OUT/NNNNNN.json beside it (envelope sender, recipients, whether the session was TLS).

With --cert and --key, STARTTLS is offered and required before MAIL (aiosmtpd's
require_starttls, answering 530 otherwise); without them the receiver speaks plain SMTP.
A recipient whose local part starts with --refuse (default "abweisen") is answered
"550 5.1.1 <address>: mailbox unavailable", for tests of a refused push.
"""

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP


class Handler:
    """Keeps each accepted message in a folder; refuses the recipients asked for."""

    def __init__(self, out: Path, refuse: str):
        self.out = out
        self.refuse = refuse
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].lower().startswith(self.refuse):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{self.count:06d}"
        (self.out / f"{name}.eml").write_bytes(envelope.original_content or envelope.content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
        }
        (self.out / f"{name}.json").write_text(json.dumps(meta))
        return "250 2.0.0 Message accepted"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", help="server certificate (PEM); with --key: STARTTLS required")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    parser.add_argument("--out", required=True, help="folder for the received messages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port")
    parser.add_argument("--refuse", default="abweisen",
                        help="local-part prefix answered with 550 5.1.1")
    args = parser.parse_args()
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    handler = Handler(out, args.refuse.lower())
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def factory():
        return SMTP(handler, hostname="stock-receiver", tls_context=context,
                    require_starttls=context is not None)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, host=args.host, port=args.port))
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
