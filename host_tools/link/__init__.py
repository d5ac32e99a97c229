"""The host's end of the link, the floor the sources and sinks stand on: sessions with the nodes
(`session`), the serial port and the MQTT broker they arrive through (`serial_port`, `broker`), the
interface events flow through (`flow`: `Source` and `Sink`), and where each node's stream stood when
the host stopped (`cursor_store`)."""
