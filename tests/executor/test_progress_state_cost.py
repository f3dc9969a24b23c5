"""progress_state bookkeeping stays linear in the prompt's size: each node's ids are looked up once."""

from executor.progress_state import NodeStates


class CountingPrompt:
    """Stands in for DynamicPrompt and counts id look-ups."""

    def __init__(self):
        self.lookups = 0

    def _count(self, node_id):
        self.lookups += 1
        return node_id

    get_display_node_id = get_parent_node_id = get_real_node_id = _count


def test_ids_are_looked_up_once_per_node_not_once_per_event():
    prompt, events = CountingPrompt(), []
    states = NodeStates("p", prompt, lambda event, data: events.append(data))
    for node in map(str, range(200)):
        states.start(node)
        states.update(node, 1, 2)
        states.finish(node)
    assert prompt.lookups == 3 * 200  # display, parent, real: once each per node
    assert len(events) == 600 and len(events[-1]["nodes"]) == 200
    assert events[0]["nodes"]["0"]["state"] == "running"  # an event handed out earlier never changes afterwards
    assert events[-1]["nodes"]["0"] == {"value": 2, "max": 2, "state": "finished", "node_id": "0", "prompt_id": "p",
                                        "display_node_id": "0", "parent_node_id": "0", "real_node_id": "0"}
