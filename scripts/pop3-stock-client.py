#!/usr/bin/env python3
"""Reads a De-Mail mailbox of `demail-testbed serve` with Python's stock POP3 client (poplib),
as a local message client would (PVD-FU §3.1.2 Fall b; docs/serve.md "POP3").

  pop3-stock-client.py --ca CA.pem --pop3 HOST:PORT --user ADDRESS --password PW [--dele]
  pop3-stock-client.py --ca CA.pem --pop3s HOST:PORT --cert C.pem --key K.pem [--dele]

The first form says STLS on the plain port and logs in with USER/PASS (level normal); the second
connects with implicit TLS and a client certificate and logs in with AUTH EXTERNAL (level
high). Prints one JSON object: capabilities, message count, UIDLs, the first message's TOP and
subject; with --dele deletes every message (acknowledged at QUIT).
"""

import argparse
import email
import email.policy
import json
import poplib
import ssl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca", required=True)
    ap.add_argument("--pop3")
    ap.add_argument("--pop3s")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--dele", action="store_true")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    if a.pop3s:
        ctx.load_cert_chain(a.cert, a.key)
        host, port = a.pop3s.rsplit(":", 1)
        p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=20)
        login = p._shortcmd("AUTH EXTERNAL =").decode()
    else:
        host, port = a.pop3.rsplit(":", 1)
        p = poplib.POP3(host, int(port), timeout=20)
        before = sorted(p.capa())
        p.stls(context=ctx)
        p.user(a.user)
        login = p.pass_(a.password).decode()
    out = {"login": login, "capa": sorted(p.capa())}
    if not a.pop3s:
        out["capa_before_tls"] = before
    count, size = p.stat()
    out["count"] = count
    out["uidl"] = [line.decode().split(" ", 1)[1] for line in p.uidl()[1]]
    if count:
        top = b"\r\n".join(p.top(1, 0)[1]).decode()
        out["top_has_body"] = "Hallo" in top
        raw = b"\r\n".join(p.retr(1)[1])
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        out["subject"] = str(msg["Subject"])
        out["message_id"] = str(msg["X-de-mail-message-id"])
    if a.dele:
        for i in range(1, count + 1):
            p.dele(i)
    out["quit"] = p.quit().decode()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
