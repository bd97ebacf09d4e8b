"""The coordinator from Python over plain HTTP, standard library only.

    request  ask for an approval (with an Idempotency-Key, reused by retries) and long-poll until it is decided
    receive  serve a webhook receiver that verifies X-Coordinator-Signature as the TypeScript verifyWebhook does
    both     the two together: ask with callbackUrl pointing at the receiver, and wait for the signed webhook

Environment: COORDINATOR_URL (default http://127.0.0.1:3000), COORDINATOR_TOKEN (an agent token from
POST /api/agents), CALLBACK_SECRET (its callbackSecret, for receive/both), RECEIVER_PORT (default 8787).
A callback to 127.0.0.1 needs WEBHOOK_ALLOWLIST=127.0.0.1 on the coordinator (`npm run demo` does not set it:
use `request` there).
"""
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

BASE = (os.environ.get("COORDINATOR_URL") or "http://127.0.0.1:3000").rstrip("/")
TOKEN = os.environ.get("COORDINATOR_TOKEN", "")


def api(method, path, body=None, headers=None, timeout=30):
    """One call; returns (status, parsed JSON). Error answers are {"error": {"code", "message", "details"?}}."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def request_approval(body, retries=3):
    """POST /api/approvals; a retry after a dropped connection, a 5xx or a 429 resends the same key, so no duplicate."""
    key = str(uuid.uuid4())
    for attempt in range(retries + 1):
        try:
            status, answer = api("POST", "/api/approvals", body, {"Idempotency-Key": key})
            if status in (200, 201):  # 201 created; 200 the same key and body again: the same approval
                return answer["approval"]
            if status != 429 and status < 500:
                raise RuntimeError(f"{status} {answer['error']['code']}: {answer['error']['message']} {answer['error'].get('details', '')}")
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt == retries:
                raise
        time.sleep(min(30, 0.5 * 2**attempt))
    raise RuntimeError("no answer after retries")


def wait_for_decision(approval_id):
    """Long-polls (at most 60 s a round) until the approval leaves pending."""
    while True:
        try:
            status, answer = api("GET", f"/api/approvals/{approval_id}?waitSec=60", timeout=70)
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            time.sleep(2)
            continue
        if status == 200 and answer["approval"]["status"] != "pending":
            return answer["approval"]
        if status not in (200, 429) and status < 500:
            raise RuntimeError(f"{status}: {answer['error']['message']}")


class WebhookVerificationError(Exception):
    pass


def verify_webhook(raw_body, signature_headers, secret, max_age_sec=300, now=None):
    """The raw body's HMAC-SHA256 under the callback secret, compared in constant time; then the signed sentAt
    must be within max_age_sec of now either way (the X-Coordinator-Timestamp header is not signed: not trusted)."""
    if len(signature_headers) > 1:
        raise WebhookVerificationError("malformed_signature")
    if not signature_headers:
        raise WebhookVerificationError("missing_signature")
    match = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", signature_headers[0].strip())
    if not match:
        raise WebhookVerificationError("malformed_signature")
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise WebhookVerificationError("bad_signature")
    try:
        event = json.loads(raw_body.decode("utf-8"))
        sent_at = datetime.fromisoformat(event["sentAt"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        raise WebhookVerificationError("malformed_body")
    age = (time.time() if now is None else now) - sent_at
    if age > max_age_sec:
        raise WebhookVerificationError("too_old")
    if age < -max_age_sec:
        raise WebhookVerificationError("too_new")
    return event


def receiver(secret, port, on_event):
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))  # the raw bytes, not re-serialized JSON
            try:
                event = verify_webhook(raw, self.headers.get_all("X-Coordinator-Signature") or [], secret)
            except WebhookVerificationError as e:
                self.send_response(401)
                self.end_headers()
                print("refused webhook:", e, file=sys.stderr)
                return
            self.send_response(204)
            self.end_headers()
            on_event(event)

        def log_message(self, *args):
            pass

    return HTTPServer(("127.0.0.1", port), Hook)


def main(mode):
    port = int(os.environ.get("RECEIVER_PORT", "8787"))
    body = {"branchId": "lisboa", "actionType": "refund", "summary": "Refund 20 EUR to order 1234", "details": {"orderId": "1234", "amount": 20}}
    if mode == "receive":
        receiver(os.environ["CALLBACK_SECRET"], port, lambda e: print(e["event"], e["approval"]["id"])).serve_forever()
    events = []
    if mode == "both":
        server = receiver(os.environ["CALLBACK_SECRET"], port, events.append)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        body["callbackUrl"] = f"http://127.0.0.1:{port}/hook"
    approval = request_approval(body)
    print(f"requested {approval['code']} ({approval['status']}); waiting for a manager")
    decided = wait_for_decision(approval["id"])
    print(f"{decided['status']} by {decided['decision'].get('byName', decided['decision']['by'])} via {decided['decision']['via']}")
    if mode == "both":
        for _ in range(100):
            if events:
                break
            time.sleep(0.1)
        print("verified webhook:", events[0]["event"] if events else "none arrived")
        server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "request")
