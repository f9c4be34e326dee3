"""The live server the server tests share, and how they talk to it."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QUEUE_SIZE = 8
MAX_BODY = 64 * 1024


@dataclass
class LiveServer:
    host: str
    port: int
    proc: subprocess.Popen
    log: Path
    model_id: str

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def request(self, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 60):
        """(status, headers, parsed JSON or raw text) of one request on a fresh connection."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read().decode()
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                parsed = raw
            return resp.status, dict(resp.getheaders()), parsed
        finally:
            conn.close()

    def health(self) -> dict:
        return self.request("GET", "/health")[2]

    def wait_idle(self, timeout: float = 10.0) -> dict:
        """Poll /health until nothing runs or waits; the last status either way."""
        end = time.monotonic() + timeout
        while True:
            h = self.health()
            if (h["queue"]["running"] == 0 and h["queue"]["waiting"] == 0) or time.monotonic() > end:
                return h
            time.sleep(0.05)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status")
        if status.exists():
            return int(re.search(r"VmRSS:\s+(\d+)", status.read_text()).group(1))
        return int(subprocess.check_output(["ps", "-o", "rss=", "-p", str(self.proc.pid)]).decode().strip())
