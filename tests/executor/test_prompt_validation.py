"""Validation: every error type with ComfyUI's names, messages and node_errors shape."""

from __future__ import annotations

from executor.validate import describe, validate_prompt
from tests.executor.testnodes import NODE_CLASS_MAPPINGS as CLASSES


def only_error(result, node_id):
    entry = result.node_errors[node_id]
    assert len(entry["errors"]) == 1, entry
    return entry["errors"][0]


def test_valid_prompt():
    prompt = {"1": {"class_type": "Const", "inputs": {"value": "5"}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    result = validate_prompt(prompt, CLASSES)
    assert result.ok and result.error is None and result.outputs == ["2"] and result.node_errors == {}
    assert prompt["1"]["inputs"]["value"] == 5  # coerced in place, as ComfyUI does


def test_missing_class_type_and_unknown_class():
    result = validate_prompt({"1": {"inputs": {}}}, CLASSES)
    assert not result.ok and result.error["type"] == "invalid_prompt"
    assert result.error["message"] == "Cannot execute because a node is missing the class_type property."
    assert result.error["details"] == "Node ID '#1'"
    result = validate_prompt({"7": {"class_type": "Nope", "inputs": {}, "_meta": {"title": "My node"}}}, CLASSES)
    assert result.error == {"type": "invalid_prompt",
                            "message": "Cannot execute because node Nope does not exist.",
                            "details": "Node ID '#7'",
                            "extra_info": {"node_id": "7", "class_type": "Nope", "node_title": "My node"}}


def test_not_a_prompt():
    assert validate_prompt(["x"], CLASSES).error["type"] == "invalid_prompt"


def test_no_outputs():
    result = validate_prompt({"1": {"class_type": "Const", "inputs": {"value": 1}}}, CLASSES)
    assert result.error == {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                            "extra_info": {}}


def test_required_input_missing():
    result = validate_prompt({"1": {"class_type": "Output", "inputs": {}}}, CLASSES)
    assert not result.ok and result.error["type"] == "prompt_outputs_failed_validation"
    assert result.error["message"] == "Prompt outputs failed validation"
    assert result.error["details"] == "Required input is missing: value"
    assert result.node_errors == {"1": {"errors": [{"type": "required_input_missing",
                                                    "message": "Required input is missing", "details": "value",
                                                    "extra_info": {"input_name": "value"}}],
                                        "dependent_outputs": ["1"], "class_type": "Output"}}


def test_bad_linked_input():
    for link in (["1", 0, 5], ["9", 0], ["1", 3]):
        prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
                  "2": {"class_type": "Output", "inputs": {"value": link}}}
        error = only_error(validate_prompt(prompt, CLASSES), "2")
        assert error["type"] == "bad_linked_input"
        assert error["message"] == "Bad linked input, must be a length-2 list of [node_id, slot_index]"
        assert error["extra_info"]["input_name"] == "value" and error["extra_info"]["received_value"] == link


def test_return_type_mismatch():
    prompt = {"1": {"class_type": "Text", "inputs": {"text": "a", "mode": "plain"}},
              "2": {"class_type": "IntOutput", "inputs": {"value": ["1", 0]}}}
    error = only_error(validate_prompt(prompt, CLASSES), "2")
    assert error == {"type": "return_type_mismatch", "message": "Return type mismatch between linked nodes",
                     "details": "value, received_type(STRING) mismatch input_type(INT)",
                     "extra_info": {"input_name": "value", "input_config": ["INT", {"forceInput": True}],
                                    "received_type": "STRING", "linked_node": ["1", 0]}}


def test_invalid_input_type_and_ranges_and_lists():
    prompt = {"1": {"class_type": "Const", "inputs": {"value": "abc"}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Const", "inputs": {"value": -5000}},
              "4": {"class_type": "Output", "inputs": {"value": ["3", 0]}},
              "5": {"class_type": "Text", "inputs": {"text": "a", "mode": "loud", "scale": 3}},
              "6": {"class_type": "Output", "inputs": {"value": ["5", 0]}}}
    result = validate_prompt(prompt, CLASSES)
    assert not result.ok
    error = only_error(result, "1")
    assert error["type"] == "invalid_input_type"
    assert error["message"] == "Failed to convert an input value to a INT value"
    assert error["details"].startswith("value, abc, invalid literal")
    error = only_error(result, "3")
    assert (error["type"], error["message"], error["details"]) == \
        ("value_smaller_than_min", "Value -5000 smaller than min of -1000", "value")
    kinds = {e["type"]: e for e in result.node_errors["5"]["errors"]}
    assert kinds["value_not_in_list"]["details"] == "mode: 'loud' not in ['plain', 'upper']"
    assert kinds["value_not_in_list"]["message"] == "Value not in list"
    assert kinds["value_bigger_than_max"]["message"] == "Value 3.0 bigger than max of 2.0"
    # every problem of the prompt in one answer, and the dependent outputs named
    assert set(result.node_errors) == {"1", "3", "5"}
    assert result.node_errors["5"]["dependent_outputs"] == ["6"]


def test_custom_validation_failed():
    prompt = {"1": {"class_type": "Checked", "inputs": {"value": 3}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    error = only_error(validate_prompt(prompt, CLASSES), "1")
    assert error == {"type": "custom_validation_failed", "message": "Custom validation failed for node",
                     "details": "value - 3 is odd", "extra_info": {"input_name": "value"}}
    # VALIDATE_INPUTS takes `value`, so the declared max of 10 is not enforced for it
    prompt["1"]["inputs"]["value"] = 12
    assert validate_prompt(prompt, CLASSES).ok


def test_validate_inputs_with_input_types_decides_type_checks():
    prompt = {"1": {"class_type": "Text", "inputs": {"text": "a", "mode": "plain"}},
              "2": {"class_type": "AnyTyped", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    assert validate_prompt(prompt, CLASSES).ok


def test_exception_during_validation_and_inner_validation():
    class Broken:
        @classmethod
        def INPUT_TYPES(cls):
            raise ValueError("cannot list inputs")

        RETURN_TYPES = ("INT",)
        OUTPUT_NODE = False

    classes = {**CLASSES, "Broken": Broken, "BrokenOut": type("BrokenOut", (Broken,), {"OUTPUT_NODE": True})}
    result = validate_prompt({"1": {"class_type": "BrokenOut", "inputs": {}}}, classes)
    error = only_error(result, "1")
    assert error["type"] == "exception_during_validation" and error["message"] == "Exception when validating node"
    assert error["details"] == "cannot list inputs" and error["extra_info"]["exception_type"] == "ValueError"
    prompt = {"1": {"class_type": "Broken", "inputs": {}}, "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    result = validate_prompt(prompt, classes)
    error = only_error(result, "1")
    assert error["type"] == "exception_during_inner_validation"
    assert error["message"] == "Exception when validating inner node"
    assert error["extra_info"]["input_name"] == "value" and error["extra_info"]["linked_node"] == ["1", 0]


def test_cycle_is_a_validation_error_not_a_crash():
    prompt = {"1": {"class_type": "Add", "inputs": {"a": ["2", 0], "b": 1}},
              "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 1}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    result = validate_prompt(prompt, CLASSES)
    assert not result.ok
    errors = [e for entry in result.node_errors.values() for e in entry["errors"]]
    assert errors[0]["type"] == "exception_during_inner_validation"
    assert errors[0]["extra_info"]["exception_type"] == "graph.DependencyCycleError"
    assert "Dependency cycle detected" in errors[0]["details"]


def test_invalid_output_does_not_block_valid_ones():
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Output", "inputs": {}}}
    result = validate_prompt(prompt, CLASSES)
    assert result.ok and result.outputs == ["2"] and set(result.node_errors) == {"3"}


def test_partial_execution_targets():
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "Output", "inputs": {}}}
    result = validate_prompt(prompt, CLASSES, partial_execution_targets=["2"])
    assert result.ok and result.outputs == ["2"] and result.node_errors == {}


def test_long_chain_validates_without_recursion_limits():
    prompt = {"0": {"class_type": "Const", "inputs": {"value": 0}}}
    for i in range(1, 3000):
        prompt[str(i)] = {"class_type": "Add", "inputs": {"a": [str(i - 1), 0], "b": 1}}
    prompt["out"] = {"class_type": "Output", "inputs": {"value": ["2999", 0]}}
    assert validate_prompt(prompt, CLASSES).ok


def test_describe_names_node_input_and_problem():
    result = validate_prompt({"1": {"class_type": "Output", "inputs": {}}}, CLASSES)
    assert "node 1 (Output): Required input is missing: value" in describe(result)


def test_validate_inputs_with_kwargs_skips_builtin_checks_and_may_be_async():
    prompt = {"1": {"class_type": "Loose", "inputs": {"value": 7, "mode": "zzz"}},
              "2": {"class_type": "Output", "inputs": {"value": ["1", 0]}}}
    assert validate_prompt(prompt, CLASSES).ok
    prompt["1"]["inputs"]["value"] = 13
    errors = validate_prompt(prompt, CLASSES).node_errors["1"]["errors"]
    # one entry per argument VALIDATE_INPUTS received, as ComfyUI reports it
    assert [(e["type"], e["details"]) for e in errors] == [("custom_validation_failed", "value - unlucky"),
                                                           ("custom_validation_failed", "mode - unlucky")]


def test_inner_exception_names_the_link_that_reached_the_failing_node():
    class RaisesLate:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"a": ("INT", {"forceInput": True})}}

        RETURN_TYPES = ("INT",)

        @classmethod
        def VALIDATE_INPUTS(cls, a):
            raise RuntimeError("validator broke")

    classes = {**CLASSES, "RaisesLate": RaisesLate}
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}},
              "2": {"class_type": "RaisesLate", "inputs": {"a": ["1", 0]}},
              "3": {"class_type": "Output", "inputs": {"value": ["2", 0]}}}
    error = only_error(validate_prompt(prompt, classes), "2")
    assert error["type"] == "exception_during_inner_validation" and error["details"] == "validator broke"
    assert error["extra_info"]["input_name"] == "value" and error["extra_info"]["linked_node"] == ["2", 0]
