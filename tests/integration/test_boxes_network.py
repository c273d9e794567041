"""The harness for a show across boxes: two boxes, each in network and time namespaces of its
own, reach the broker on their bridge, and one wall-clock instant maps onto each box's own
monotonic clock, set off by its own amount."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from showctl.multibox.wallclock import WallClock
from tests.harness.boxes import HOST, Network, bridged
from tests.harness.broker import Broker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root (CI has it)")

#: Each box, when it hears the other's message: the message, and where the wall-clock instant
#: in it falls on its own monotonic clock, and where its own clock is now.
LISTEN = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from showctl.multibox.wallclock import WallClock
heard = []
client = Client(CallbackAPIVersion.VERSION2)
client.on_connect = lambda c, u, f, rc, p: (c.subscribe("boxes/t0"), print("ready", flush=True))
client.on_message = lambda c, u, m: heard.append(json.loads(m.payload))
client.connect(sys.argv[2], int(sys.argv[3]))
client.loop_start()
while not heard:
    time.sleep(0.01)
t0 = heard[0]["t0_ns"]
print(json.dumps({"t0_ns": t0, "mapped": WallClock().to_monotonic(t0), "now": time.monotonic()}))
"""

SEND = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
client = Client(CallbackAPIVersion.VERSION2)
client.connect(sys.argv[2], int(sys.argv[3]))
client.loop_start()
info = client.publish("boxes/t0", json.dumps({"t0_ns": time.time_ns() + 500_000_000}), qos=1)
info.wait_for_publish(5)
client.loop_stop()
"""


@pytest.fixture
def network(tmp_path: Path) -> Iterator[tuple[Network, Broker]]:
    with bridged(tmp_path / "broker") as made:
        yield made


def test_boxes_reach_the_broker_and_map_one_wall_instant_onto_their_own_clocks(
    network: tuple[Network, Broker],
) -> None:
    net, broker = network
    hall = net.add("hall", monotonic_offset=1000)
    annex = net.add("annex", monotonic_offset=250_000)
    args = [str(ROOT), HOST, str(broker.port)]
    listener = hall.run([sys.executable, "-c", LISTEN, *args], stdout=subprocess.PIPE, text=True)
    assert listener.stdout is not None
    assert listener.stdout.readline().strip() == "ready"
    sent = annex.run([sys.executable, "-c", SEND, *args])
    assert sent.wait(timeout=20) == 0
    heard = json.loads(listener.stdout.readline())
    assert listener.wait(timeout=20) == 0
    # The hall's monotonic clock runs 1000 s ahead of this machine's: the same wall-clock
    # instant, mapped there, is 1000 s later than mapped here.
    here = WallClock().to_monotonic(heard["t0_ns"])
    assert heard["mapped"] - here == pytest.approx(1000.0, abs=0.01)
    assert heard["now"] - time.monotonic() == pytest.approx(1000.0, abs=5.0)
