"""Where node events come from: a serial port (`serial_source.Bridge`) or an MQTT broker
(`mqtt_source.MqttSource`). Each feeds any `host_tools.link.flow.Sink` and takes `send()` back down."""
