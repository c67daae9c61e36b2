"""Requests to the local gateway for the shell-driven checks (faults_saga.py,
schemathesis_fixture.py): one connection per request, from a chosen source address (each check
gets a 127.0.0.x of its own, so the gateway's per-address rate limits do not mix them up), the
envelope's `data` unwrapped."""

import http.client
import json
import urllib.parse


class Gateway:
    def __init__(self, url, source_ip, token=None):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.source_ip = source_ip
        self.token = token

    def call(self, method, path, body=None, *, key=None, bearer=None):
        """One request; answers (status, data of the envelope). BEARER overrides the token
        (False sends none)."""
        bearer = self.token if bearer is None else bearer
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10, source_address=(self.source_ip, 0))
        headers = {"content-type": "application/json"}
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        if key:
            headers["idempotency-key"] = key
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        answer = json.loads(raw) if raw else {}
        return response.status, answer.get("data", answer)
