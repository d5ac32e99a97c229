"""The host's MQTT end as one import: broker URLs (`host_tools.link.broker`), nodes from a broker
into any sinks (`MqttSource`, `host_tools.sources.mqtt_source`), serial-attached nodes out to a
broker (`MqttSink`, `host_tools.sinks.mqtt_sink`), and umqtt for the unix port (`umqtt_lib`). Topics
and payloads are those of `zoo_micro.mqtt.layout`, shared with the nodes.
"""

from host_tools.link.broker import BrokerUrl, parse_url

__all__ = ["BrokerUrl", "parse_url", "MqttSink", "MqttSource"]


def __getattr__(name: str):
    # paho-mqtt is imported only by the parts that talk to a broker.
    if name == "MqttSource":
        from host_tools.sources.mqtt_source import MqttSource

        return MqttSource
    if name == "MqttSink":
        from host_tools.sinks.mqtt_sink import MqttSink

        return MqttSink
    raise AttributeError(name)
