"""Where node events go: JSON lines (`json_sink`), a host-side zoo_micro Master (`twin_sink`), a
zoo-framework app (`framework_sink`) and an MQTT broker (`mqtt_sink`). Each knows its source only
through `host_tools.link.flow.Source`."""
