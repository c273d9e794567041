"""A real MQTT broker (Debian's mosquitto) on a free loopback port, and a client that listens.

:class:`Broker` writes its configuration into a folder of its own (anonymous clients, or the
users given with their passwords; nothing kept on disk), starts ``mosquitto -c CONF`` and waits
until the port takes connections; it can be stopped and started again on the same port, as a
broker that goes away mid-show and comes back (with nothing retained). :func:`running_broker`
gives one for a test, and fails with what to install when mosquitto is missing: a test of the
MQTT surface is never skipped.

:class:`Listener` is a paho client on its own thread that remembers every message it receives;
a fresh one sees what the broker retains (``retain`` is set on those).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")
HOST = "127.0.0.1"
#: How long the broker may take to listen, and a listener to connect (s).
START_WAIT = 10.0


def free_port() -> int:
    """A TCP port free on loopback now (the system's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Broker:
    """mosquitto on ``127.0.0.1:port`` (or ``host``: the boxes' bridge, tests/harness/boxes.py):
    :meth:`start`, :meth:`stop`, :meth:`start` again.
    With ``users`` (name: password), only they may connect; else anyone may. With ``tls``, it
    speaks TLS only, with a certificate for 127.0.0.1 signed by a CA of its own (:attr:`ca`)."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        tls: bool = False,
        host: str = HOST,
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.host = host
        self.users = dict(users or {})
        self.conf = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.tls = tls
        self.ca = directory / "ca.pem"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker and wait until it takes connections. Raises ``RuntimeError`` with
        mosquitto's own words if it does not within :data:`START_WAIT` seconds."""
        if self.running:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        # set_tcp_nodelay: without it the broker holds small messages up to 40 ms (Nagle's
        # algorithm and the delayed ACK), as the README says to set on a show's broker.
        conf = [
            f"listener {self.port} {self.host}",
            "persistence false",
            "log_dest stderr",
            "set_tcp_nodelay true",
        ]
        if os.geteuid() == 0:  # else it becomes user mosquitto, who cannot read the test's folder
            conf.append("user root")
        if self.users:
            passwords = self.directory / "passwords"
            passwords.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    [str(MOSQUITTO_PASSWD), "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                )
            conf += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            conf += ["allow_anonymous true"]
        if self.tls:
            self._certificates()
            d = self.directory
            conf += [
                f"cafile {self.ca}",
                f"certfile {d / 'server.pem'}",
                f"keyfile {d / 'server.key'}",
            ]
        self.conf.write_text("\n".join(conf) + "\n")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + START_WAIT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto ended at start (exit status {self._process.returncode}) "
                    f"instead of listening on {self.host}:{self.port}; it said:\n{self._said()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"mosquitto did not listen on {self.host}:{self.port} within "
                    f"{START_WAIT:g} s; it said:\n{self._said()}"
                )
            time.sleep(0.02)

    def _certificates(self) -> None:
        """A CA, and the broker's key and certificate for 127.0.0.1 signed by it (openssl)."""
        d = self.directory
        if (d / "server.pem").exists():
            return

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=showctl test CA",
            "-keyout",
            "ca.key",
            "-out",
            str(self.ca),
        )
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={self.host}",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        )
        (d / "san.cnf").write_text(f"subjectAltName = IP:{self.host}\n")
        openssl(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            str(self.ca),
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
            "-out",
            "server.pem",
        )

    def stop(self) -> None:
        """Stop the broker (SIGTERM; SIGKILL if it lingers): every client loses its connection.
        Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _said(self) -> str:
        try:
            return self.log.read_text(errors="replace").strip() or "(nothing)"
        except OSError:
            return "(no log)"


@contextmanager
def running_broker(
    directory: Path, users: Mapping[str, str] | None = None, tls: bool = False
) -> Iterator[Broker]:
    """A started :class:`Broker`, stopped at the end. Fails (never skips) without mosquitto."""
    if not MOSQUITTO.exists():
        pytest.fail(
            f"{MOSQUITTO} is missing, and the MQTT tests need a real broker; run "
            "`make setup-test` (deploy/apt-packages-test.txt lists mosquitto)",
            pytrace=False,
        )
    broker = Broker(directory, users=users, tls=tls)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class Received:
    """One message as a listener got it."""

    topic: str
    payload: bytes
    retain: bool


class Listener:
    """A paho client subscribed to ``topic`` (a filter), remembering every message. Use it as a
    context manager; it is connected and subscribed on entry."""

    def __init__(self, broker: Broker, topic: str = "#", user: str = "") -> None:
        """Connects with ``user``'s password, and over TLS trusting the broker's CA if it
        speaks TLS."""
        self.broker = broker
        self.topic = topic
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        if user:
            self.client.username_pw_set(user, broker.users[user])
        if broker.tls:
            self.client.tls_set(ca_certs=str(broker.ca))
        self.client.on_connect = lambda client, *_: client.subscribe(self.topic, 1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message

    def __enter__(self) -> Listener:
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        if not self._subscribed.wait(START_WAIT):
            self.__exit__()
            raise RuntimeError(f"the test client could not subscribe to {self.topic}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, message.payload, message.retain))

    def on(self, topic: str) -> list[Received]:
        """The messages received on ``topic`` so far, oldest first."""
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        """The latest message on ``topic``, or ``None``."""
        messages = self.on(topic)
        return messages[-1] if messages else None

    def publish(self, topic: str, payload: str | bytes = b"", *, retain: bool = False) -> None:
        """Publish and wait until the broker has it (QoS 1)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(START_WAIT)
        if not info.is_published():
            raise RuntimeError(f"the broker did not take the message on {topic}")


def retained(broker: Broker, topic: str, wait: float = 2.0) -> Received | None:
    """What the broker retains on ``topic`` now (a fresh client's view), or ``None``."""
    with Listener(broker, topic) as fresh:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            got = fresh.last(topic)
            if got is not None:
                return got
            time.sleep(0.01)
    return None
