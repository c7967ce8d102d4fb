#!/usr/bin/python3
"""Render the chat-template corpus with the real Jinja templates, the way transformers does.

Reads  tests/TestData/chat/conversations.json and tests/TestData/chat/<family>/tokenizer_config.json,
writes tests/TestData/chat/expected/<family>.json ({name: {"text": ...}} or {name: {"error": ...}}).

The environment mirrors transformers' apply_chat_template: ImmutableSandboxedEnvironment with
trim_blocks/lstrip_blocks, a raise_exception global, and a tojson filter that is json.dumps with
ensure_ascii=False (no HTML escaping). Run with Debian's python: /usr/bin/python3 render.py
"""
import json
import os
import sys

import jinja2
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "TestData", "chat")
FAMILIES = ["deepseek-v3", "deepseek-v3-0324", "deepseek-r1", "deepseek-r1-distill-qwen", "qwen2.5"]


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def token(value):
    if isinstance(value, dict):
        return value.get("content")
    return value


def messages_for(family, messages):
    """Qwen templates take tool-call arguments as a dict (transformers' convention); DeepSeek's as the JSON string."""
    if family != "qwen2.5":
        return messages
    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                c = dict(c)
                f = dict(c["function"])
                f["arguments"] = json.loads(f["arguments"])
                c["function"] = f
                calls.append(c)
            m["tool_calls"] = calls
        out.append(m)
    return out


def main():
    corpus = json.load(open(os.path.join(DATA, "conversations.json"), encoding="utf-8"))
    env = make_env()
    for family in FAMILIES:
        config = json.load(open(os.path.join(DATA, family, "tokenizer_config.json"), encoding="utf-8"))
        template = env.from_string(config["chat_template"])
        bos, eos = token(config.get("bos_token")), token(config.get("eos_token"))
        results = {}
        for conv in corpus:
            kwargs = dict(
                messages=messages_for(family, conv["messages"]),
                add_generation_prompt=conv.get("add_generation_prompt", False),
                bos_token=bos if conv.get("include_bos", True) else "",
                eos_token=eos,
            )
            if conv.get("tools") is not None:
                kwargs["tools"] = conv["tools"]
            try:
                results[conv["name"]] = {"text": template.render(**kwargs)}
            except Exception as e:  # the C# side must refuse the same conversations
                results[conv["name"]] = {"error": f"{type(e).__name__}: {e}"}
        path = os.path.join(DATA, "expected", family + ".json")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            json.dump(results, f, ensure_ascii=False, indent=2)
            f.write("\n")
        errors = sum(1 for r in results.values() if "error" in r)
        print(f"{family}: {len(results)} conversations, {errors} refused, jinja2 {jinja2.__version__}")


if __name__ == "__main__":
    sys.exit(main())
