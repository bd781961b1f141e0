"""Session tickets: how `recdesk serve` tells the desk process it spawns who signed on, unforgeably.

A ticket is minted with a key derived from the desk's master key, so only a process that could open
the desk at all can make one; a clerk cannot name another user on a command line or in the environment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from recdesk.errors import AccessDenied

LIFETIME = 60  # seconds between the server minting a ticket and the desk process reading it


@dataclass(frozen=True)
class Ticket:
    user: str
    session: str
    address: str
    key_fingerprint: str
    expires: float


def mint(master, user: str, session: str, address: str, key_fingerprint: str) -> str:
    body = json.dumps(asdict(Ticket(user, session, address, key_fingerprint, time.time() + LIFETIME)))
    encoded = base64.urlsafe_b64encode(body.encode()).decode()
    mac = hmac.new(master.sub("session-ticket"), encoded.encode(), hashlib.sha256).hexdigest()
    return f"{encoded}.{mac}"


def verify(master, ticket: str) -> Ticket:
    encoded, _, mac = ticket.partition(".")
    expected = hmac.new(master.sub("session-ticket"), encoded.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode(errors="replace"), expected.encode()):
        raise AccessDenied("the session ticket is not valid for this desk: sign on through `recdesk serve`")
    data = Ticket(**json.loads(base64.urlsafe_b64decode(encoded)))
    if data.expires < time.time():
        raise AccessDenied("the session ticket has expired: connect again")
    return data
