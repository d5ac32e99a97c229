# The Master's config and the built-in plugins' sections are checked when the Master is built:
# one-line errors naming the key, the value and what is allowed, or the known key a typo meant.
import json
import sys

from helpers import raises
from zoo_micro import Master

HEAPSIZE = "128K"  # the mqtt section loads the MQTT plugin's module, as a node using it does


def refused(config):
    """The message Master(config) raises."""
    return str(raises(ValueError, Master, config))


def test_an_unknown_key_close_to_a_known_one_names_the_known_one():
    assert refused({"quue_size": 8}) == 'config: unknown key "quue_size"; did you mean "queue_size"?'
    assert 'did you mean "retry_delay"' in refused({"retry-delay": 1})
    assert 'did you mean "queue_size"' in refused({"Queue_Size": 1})
    assert 'did you mean "threads"' in refused({"thread": True})
    assert 'did you mean "schedule"' in refused({"schedual": []})


def test_an_apps_own_keys_are_accepted_and_left_alone():
    m = Master({"board": "pico", "node": 3, "led_pin": 25, "app": {"quue_size": 1}, "svm_check_interval": 0})
    assert m.config["board"] == "pico" and m.config["led_pin"] == 25 and m.config["app"]["quue_size"] == 1


def test_wrong_types_and_ranges_name_the_key_the_value_and_what_is_allowed():
    for config, message in (
        ({"queue_size": 0}, "config: queue_size=0; allowed: an integer >= 1"),
        ({"queue_size": -1}, "config: queue_size=-1; allowed: an integer >= 1"),
        ({"queue_size": "32"}, 'config: queue_size="32"; allowed: an integer >= 1'),
        ({"queue_size": None}, "config: queue_size=null; allowed: an integer >= 1"),
        ({"queue_size": 2.5}, "config: queue_size=2.5; allowed: an integer >= 1"),
        ({"queue_size": True}, "config: queue_size=true; allowed: an integer >= 1"),
        ({"retry_delay": -0.1}, "config: retry_delay=-0.1; allowed: a number >= 0"),
        ({"backoff_max": -1}, "config: backoff_max=-1; allowed: a number >= 0"),
        ({"state_save_interval": -5}, "config: state_save_interval=-5; allowed: a number >= 0"),
        ({"threads": "yes"}, 'config: threads="yes"; allowed: true or false, or "auto"'),
        ({"state_path": 3}, "config: state_path=3; allowed: a string, or null"),
        ({"name": None}, "config: name=null; allowed: a string"),
        ({"schedule": {"every": 1}}, 'config: schedule={"every": 1}; allowed: a list, or null'),
    ):
        assert refused(config) == message, (config, refused(config))
    # What is allowed still is: the edges of each range, and the other alternatives.
    m = Master(
        {"queue_size": 1, "retry_delay": 0, "threads": "auto", "state_path": None, "svm_check_interval": 0}
    )
    assert m.config["queue_size"] == 1


def test_a_config_file_is_checked_the_same_way():
    with open("config.json", "w") as f:
        json.dump({"name": "n1", "queue_size": -1}, f)
    assert refused("config.json") == "config: queue_size=-1; allowed: an integer >= 1"
    assert "not found" in refused("missing.json")
    with open("config.json", "w") as f:
        f.write("{")
    assert "not valid JSON" in refused("config.json")
    assert refused([1]) == "config must be a dict or a path to a JSON file, got [1]"


def test_plugin_sections_are_checked_with_every_key_their_own():
    assert (
        refused({"watchdog": {"timeout": 10}})
        == 'watchdog: unknown key "timeout"; did you mean "timeout_ms"?'
    )
    assert refused({"watchdog": {"timeout_ms": 0}}) == "watchdog: timeout_ms=0; allowed: an integer >= 1"
    assert 'feed_while holds "ok"' in refused({"watchdog": {"feed_while": ["running", "ok"]}})
    assert refused({"watchdog": 5}) == "config: watchdog=5; allowed: true or false, or an object, or null"
    assert (
        refused({"schedule": [{"evry": 5, "topic": "t"}]})
        == 'schedule[0]: unknown key "evry"; did you mean "every"?'
    )
    assert refused({"schedule": [{"every": 1, "topic": "t"}, {"every": 0, "topic": "t"}]}) == (
        "schedule[1]: every=0; allowed: a number > 0"
    )
    assert "exactly one of" in refused({"schedule": [{"every": 1, "at": "06:00", "topic": "t"}]})
    assert "needs a non-empty 'topic'" in refused({"schedule": [{"every": 1}]})
    assert 'at="24:00"' in refused({"schedule": [{"at": "24:00", "topic": "t"}]})
    assert refused({"schedule": ["t"]}) == 'schedule[0] must be a dict of options, got "t"'


def test_mqtt_options_are_checked_when_the_master_is_built():
    base = {"host": "h"}
    for extra, message in (
        ({"hots": "h"}, 'mqtt: unknown key "hots"; did you mean "host"?'),
        ({"keepalive": -1}, "mqtt: keepalive=-1; allowed: a number from 0 to 65535"),
        ({"port": 70000}, "mqtt: port=70000; allowed: an integer from 0 to 65535"),
        ({"outbox": 0}, "mqtt: outbox=0; allowed: an integer >= 1"),
        ({"runner": "fast"}, 'mqtt: runner="fast"; allowed: "auto", or "thread", or "loop"'),
        ({"backoff_max": 0}, "mqtt: backoff_max=0; allowed: a number > 0"),
    ):
        given = dict(base)
        given.update(extra)
        assert refused({"mqtt": given}) == message, (extra, refused({"mqtt": given}))
    assert 'unknown key "zzzz"; known: ' in refused({"mqtt": {"zzzz": 1}})


def test_check_is_there_for_other_plugins_and_leaves_no_module_behind():
    import zoo_micro.validate as validate

    spec = {"port": "str", "baud": "int >=300", "frame_max": "int >=64 <=4096|none"}
    validate.check({"port": "/dev/ttyACM0", "baud": 115200, "frame_max": None}, spec, "bridge")
    e = raises(ValueError, validate.check, {"baud": 100}, spec, "bridge")
    assert str(e) == "bridge: baud=100; allowed: an integer >= 300"
    e = raises(ValueError, validate.check, {"frame_max": 8192}, spec, "bridge")
    assert str(e) == "bridge: frame_max=8192; allowed: an integer from 64 to 4096, or null"
    e = raises(ValueError, validate.check, {"bad": 1}, spec, "bridge")
    assert str(e) == 'bridge: unknown key "bad"; did you mean "baud"?'
    Master({"svm_check_interval": 0})
    assert "zoo_micro.validate" not in sys.modules  # read and checked, then dropped
