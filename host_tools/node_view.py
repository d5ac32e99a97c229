"""What the host knows of one node as it runs: identity, online, its last health report, and its event
rate. `zoo-micro monitor` fills one from a bridge, `zoo-micro fleet` from a broker's topics."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

RATE_WINDOW = 5.0  # seconds of events counted for events_per_second()
WORST = ("failed", "stuck", "unhealthy", "warning", "running")  # worker statuses, worst first


@dataclass
class NodeView:
    node: str
    online: bool | None = None  # None: not heard of either way yet
    info: dict = field(default_factory=dict)
    health: dict | None = None
    last_seen: float | None = None  # time.monotonic() of the last live (not retained) message
    rate: float | None = None  # events per second, from the node's own counters in its health
    events: int = 0  # events the host received, health reports not counted
    stamps: deque = field(default_factory=lambda: deque(maxlen=4096))  # when recent events arrived
    _prev: tuple[int, int] | None = None  # (uptime_ms, seq) of the previous health report

    @property
    def mqtt(self) -> dict:
        return ((self.health or {}).get("plugins") or {}).get("mqtt") or {}

    @property
    def vitals(self) -> dict:
        return (self.health or {}).get("node") or {}

    def heard_event(self, now: float) -> None:
        self.events += 1
        self.stamps.append(now)

    def events_per_second(self, now: float) -> float:
        """Events received in the last RATE_WINDOW seconds, per second."""
        while self.stamps and now - self.stamps[0] > RATE_WINDOW:
            self.stamps.popleft()
        span = min(RATE_WINDOW, now - self.stamps[0]) if self.stamps else 0
        return len(self.stamps) / span if span > 0.2 else 0.0

    def heard_health(self, health: dict) -> None:
        """Keep the report, and the node's own event rate when it carries the MQTT counters."""
        self.health = health
        uptime = (health.get("node") or {}).get("uptime_ms")
        seq = ((health.get("plugins") or {}).get("mqtt") or {}).get("seq")
        if not isinstance(uptime, int) or not isinstance(seq, int) or uptime <= 0:
            return
        prev = self._prev
        if prev is not None and uptime > prev[0] and seq >= prev[1]:
            self.rate = (seq - prev[1]) * 1000 / (uptime - prev[0])
        elif prev is None or uptime <= prev[0]:
            self.rate = seq * 1000 / uptime  # first report (or a reboot): the average since boot
        self._prev = (uptime, seq)

    def status(self) -> str:
        """The worst worker status in the last health report ("-" before any)."""
        workers = (self.health or {}).get("workers") or {}
        seen = {w.get("status") for w in workers.values() if isinstance(w, dict)}
        for s in WORST:
            if s in seen:
                return s
        return "idle" if self.health is not None else "-"

    def score(self) -> int | None:
        workers = (self.health or {}).get("workers") or {}
        scores = [w.get("health_score") for w in workers.values() if isinstance(w, dict)]
        scores = [s for s in scores if isinstance(s, (int, float))]
        return int(min(scores)) if scores else None

    def copy(self) -> NodeView:
        """A snapshot another thread may read while this one keeps changing."""
        return NodeView(
            self.node,
            self.online,
            dict(self.info),
            self.health,
            self.last_seen,
            self.rate,
            self.events,
            deque(self.stamps, maxlen=self.stamps.maxlen),
            self._prev,
        )

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        return {
            "node": self.node,
            "online": self.online,
            "last_seen_s": None if self.last_seen is None else round(now - self.last_seen, 3),
            "status": self.status(),
            "health_score": self.score(),
            "events_per_s": None if self.rate is None else round(self.rate, 2),
            "mem_free": self.vitals.get("mem_free"),
            "mem_alloc": self.vitals.get("mem_alloc"),
            "outbox": self.mqtt.get("outbox"),
            "dropped": self.mqtt.get("dropped"),
            "outages": self.mqtt.get("outages"),
            "board": self.info.get("board"),
            "via": self.info.get("via"),
        }
