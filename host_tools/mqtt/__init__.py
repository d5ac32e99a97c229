"""The host's MQTT end: broker URLs (`broker`), nodes from a broker into the bridge's sinks
(`MqttSource`), serial-attached nodes out to a broker (`MqttSink`), and umqtt for the unix port
(`umqtt_lib`). Topics and payloads are those of `zoo_micro.mqtt.layout`, shared with the nodes.
"""

from host_tools.mqtt.broker import BrokerUrl, parse_url

__all__ = ["BrokerUrl", "parse_url", "MqttSink", "MqttSource"]


def __getattr__(name: str):
    # paho-mqtt is imported only by the parts that talk to a broker.
    if name == "MqttSource":
        from host_tools.mqtt.source import MqttSource

        return MqttSource
    if name == "MqttSink":
        from host_tools.mqtt.sink import MqttSink

        return MqttSink
    raise AttributeError(name)
