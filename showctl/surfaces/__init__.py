"""The operator's surfaces: the web page and HTTP API, MQTT, OSC and the control socket.

Each maps the one command vocabulary of :mod:`showctl.commands` onto its own protocol.
"""
